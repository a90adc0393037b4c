"""``sendwatch up``: the whole system on one machine.

Starts Tansu on a free loopback port (unless a bootstrap is given), the four services
as child processes, and the simulator; prints the URLs; on Ctrl-C (or SIGTERM) stops
everything and waits for each child, so no process or port is left behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from sendwatch.config import service_ports
from sendwatch.tansu import TansuBroker, port_is_open, start_tansu

START_ORDER = ("timeliness", "alerts", "reporting", "ingest")


@dataclass
class Stack:
    var_dir: Path
    bootstrap: str = ""
    broker: TansuBroker | None = None
    children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=service_ports)
    wall_clock: bool = False  # without the simulator, time advances by the wall clock

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "SENDWATCH_KAFKA_BOOTSTRAP": self.bootstrap,
            "SENDWATCH_VAR_DIR": str(self.var_dir),
            "PYTHONUNBUFFERED": "1",
            **({"SENDWATCH_WALL_CLOCK": "1"} if self.wall_clock else {}),
        }

    def start_broker(self, bootstrap: str | None) -> None:
        if bootstrap:
            self.bootstrap = bootstrap
            return
        self.broker = start_tansu(log_file=self.var_dir / "logs" / "tansu.log")
        self.bootstrap = self.broker.bootstrap

    def start_service(self, name: str, host: str = "127.0.0.1") -> None:
        port = self.ports[name]
        if port_is_open(port):
            raise RuntimeError(f"port {port} for {name} is already in use")
        log = open(self.var_dir / "logs" / f"{name}.log", "ab")  # noqa: SIM115
        self.children[name] = subprocess.Popen(
            [sys.executable, "-m", "sendwatch", "serve", name, "--host", host, "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env(),
            start_new_session=True,  # Ctrl-C goes to us; we stop children in order
        )

    def start_simulator(self, seed: int, speed: float, start: str, backfill_days: int) -> None:
        log = open(self.var_dir / "logs" / "simulator.log", "ab")  # noqa: SIM115
        self.children["simulator"] = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sendwatch",
                "simulate",
                "--url",
                f"http://127.0.0.1:{self.ports['ingest']}",
                "--seed",
                str(seed),
                "--speed",
                str(speed),
                "--start",
                start,
                "--backfill-days",
                str(backfill_days),
                "--quiet",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env(),
            start_new_session=True,
        )

    def wait_healthy(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        pending = [n for n in self.children if n in self.ports]
        while pending and time.monotonic() < deadline:
            for name in list(pending):
                proc = self.children[name]
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"{name} exited with {proc.returncode}; see "
                        f"{self.var_dir / 'logs' / (name + '.log')}"
                    )
                try:
                    r = httpx.get(f"http://127.0.0.1:{self.ports[name]}/healthz", timeout=1)
                    if r.status_code == 200:
                        pending.remove(name)
                except httpx.HTTPError:
                    pass
            time.sleep(0.25)
        if pending:
            raise TimeoutError(f"not healthy after {timeout}s: {', '.join(pending)}")

    def stop(self, timeout: float = 20.0) -> None:
        # Simulator first, then ingest, then the consumers, then the broker.
        order = ["simulator", *reversed(START_ORDER)]
        for name in order:
            proc = self.children.get(name)
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for name in order:
            proc = self.children.get(name)
            if proc is None:
                continue
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        if self.broker is not None:
            self.broker.stop()


def run_stack(
    *,
    simulate: bool,
    bootstrap: str | None,
    var_dir: Path,
    seed: int,
    speed: float,
    start: str,
    backfill_days: int,
    echo: object = print,
) -> None:
    say = echo if callable(echo) else print
    (var_dir / "logs").mkdir(parents=True, exist_ok=True)
    stack = Stack(var_dir=var_dir, wall_clock=not simulate)
    stopping = False

    def _terminate(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        stack.start_broker(bootstrap)
        say(f"Kafka broker     {stack.bootstrap}" + ("" if bootstrap else "  (Tansu, in memory)"))
        for name in START_ORDER:
            stack.start_service(name)
        stack.wait_healthy()
        if simulate:
            stack.start_simulator(seed, speed, start, backfill_days)
        say(f"Dashboard        http://127.0.0.1:{stack.ports['reporting']}/")
        say(f"Reporting API    http://127.0.0.1:{stack.ports['reporting']}/v1/kpis")
        say(f"Ingest API       http://127.0.0.1:{stack.ports['ingest']}/v1/events")
        say(f"Timeliness       http://127.0.0.1:{stack.ports['timeliness']}/v1/caseload")
        say(f"Alerts           http://127.0.0.1:{stack.ports['alerts']}/v1/caseload")
        say("Metrics          /metrics on each service;  health: /healthz")
        say(f"Logs             {var_dir / 'logs'}")
        say("Simulator        " + ("running (accelerated time)" if simulate else "off"))
        say("Press Ctrl-C to stop.")
        while True:
            for name, proc in stack.children.items():
                if proc.poll() is not None and name != "simulator":
                    raise RuntimeError(f"{name} stopped unexpectedly (exit {proc.returncode})")
            time.sleep(0.5)
    except KeyboardInterrupt:
        stopping = True
    finally:
        say("Stopping ..." if stopping else "Stopping after an error ...")
        stack.stop()
        signal.signal(signal.SIGTERM, previous)
        say("Stopped.")
