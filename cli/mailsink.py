"""A local mail sink for development and tests: an SMTP server (aiosmtpd) on loopback
that saves every message it accepts as an ``.eml`` file in a directory.

``sendwatch up`` runs it and points the alerts service at it (SENDWATCH_SMTP_HOST /
SENDWATCH_SMTP_PORT), unless SENDWATCH_SMTP_HOST is already set, in which case real
mail goes there.  Run it on its own with::

    python -m cli.mailsink --dir var/mail --port 8025
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class _Handler:
    directory: Path | None
    messages: list[EmailMessage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    refuse: bool = False  # answer 451 (try again later) to every message
    # Take this long to accept each message (a slow server).  A client that goes away
    # meanwhile has not had its message accepted: it is kept in ``dropped``, not saved,
    # as a real server discards a transaction whose connection drops before it replies.
    delay_s: float = 0.0
    in_flight: list[EmailMessage] = field(default_factory=list)
    dropped: list[EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.refuse:
            return "451 Requested action aborted: mail sink paused"
        raw = envelope.original_content or envelope.content
        data = raw if isinstance(raw, bytes) else str(raw).encode()
        msg = email.message_from_bytes(data, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        if self.delay_s:
            with self.lock:
                self.in_flight.append(msg)
            try:
                await asyncio.sleep(self.delay_s)
            except asyncio.CancelledError:  # the connection was lost
                with self.lock:
                    self.in_flight.remove(msg)
                    self.dropped.append(msg)
                raise
            with self.lock:
                self.in_flight.remove(msg)
            if server.transport is None or server.transport.is_closing():
                with self.lock:
                    self.dropped.append(msg)
                return "421 connection lost before the message was accepted"
        with self.lock:
            self.messages.append(msg)
            n = len(self.messages)
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
            name = f"{time.strftime('%Y%m%dT%H%M%S')}-{n:06d}.eml"
            tmp = self.directory / f".{name}.tmp"
            tmp.write_bytes(data)
            tmp.rename(self.directory / name)  # readers never see half a file
        return "250 Message accepted for delivery"


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class MailSink:
    """An in-process SMTP server; ``messages`` holds what it accepted, in order."""

    def __init__(
        self,
        directory: Path | str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        delay_s: float = 0.0,
    ) -> None:
        self.handler = _Handler(Path(directory) if directory is not None else None)
        self.handler.delay_s = delay_s
        self.host = host
        self._port = port
        self._controller: Controller | None = None

    @property
    def port(self) -> int:
        return self._port

    @property
    def messages(self) -> list[EmailMessage]:
        with self.handler.lock:
            return list(self.handler.messages)

    @property
    def in_flight(self) -> list[EmailMessage]:
        """Messages being received now (with ``delay_s``), not yet accepted."""
        with self.handler.lock:
            return list(self.handler.in_flight)

    @property
    def dropped(self) -> list[EmailMessage]:
        """Messages whose sender went away before they were accepted."""
        with self.handler.lock:
            return list(self.handler.dropped)

    def pause(self, refuse: bool = True) -> None:
        """Answer every message with 451 (a transient failure) until resumed."""
        self.handler.refuse = refuse

    def start(self) -> MailSink:
        if not self._port:
            self._port = _free_port(self.host)
        self._controller = Controller(
            self.handler, hostname=self.host, port=self._port, ready_timeout=10
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> MailSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Save every mail received as an .eml file")
    parser.add_argument("--dir", default="var/mail", help="directory for the .eml files")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    args = parser.parse_args(argv)
    sink = MailSink(args.dir, args.host, args.port).start()
    print(f"mail sink on {args.host}:{sink.port}, saving to {Path(args.dir).resolve()}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        stop.wait()
    finally:
        sink.stop()


if __name__ == "__main__":
    main()
