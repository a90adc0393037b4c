"""``sendwatch up``: the whole system on one machine.

Starts a broker on free loopback ports (Tansu, in memory, by default: it needs only
Python; ``--broker kafka`` for Apache Kafka with its data under ``var/kafka``; or an
existing broker given by its bootstrap), the four services
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

from cli.kafka import KafkaCluster, start_kafka
from cli.tansu import (
    TansuBroker,
    die_with_parent,
    free_port,
    port_is_open,
    start_tansu,
    wait_for_port,
)
from sendwatch.config import get_settings, service_ports

START_ORDER = ("timeliness", "alerts", "reporting", "ingest")


@dataclass
class Stack:
    var_dir: Path
    bootstrap: str = ""
    broker: TansuBroker | KafkaCluster | None = None
    children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=service_ports)
    wall_clock: bool = False  # without the simulator, time advances by the wall clock
    mail_port: int | None = None  # the dev-mode mail sink, when it runs

    def env(self) -> dict[str, str]:
        env = {
            "SENDWATCH_DASHBOARD_URL": f"http://127.0.0.1:{self.ports['reporting']}",
            "SENDWATCH_TIMELINESS_URL": f"http://127.0.0.1:{self.ports['timeliness']}",
            "SENDWATCH_ALERTS_URL": f"http://127.0.0.1:{self.ports['alerts']}",
            "SENDWATCH_ALERTS_TOKEN": "dev-alerts-read-token",
            "SENDWATCH_TIMELINESS_TOKEN": "dev-timeliness-read-token",
            # Development mode: the shipped dev keys and tokens are allowed.
            "SENDWATCH_DEV": "1",
            **os.environ,
            "SENDWATCH_KAFKA_BOOTSTRAP": self.bootstrap,
            "SENDWATCH_VAR_DIR": str(self.var_dir),
            "PYTHONUNBUFFERED": "1",
        }
        if self.wall_clock:
            env["SENDWATCH_WALL_CLOCK"] = "1"
        if self.mail_port is not None:
            env.update(
                SENDWATCH_SMTP_HOST="127.0.0.1",
                SENDWATCH_SMTP_PORT=str(self.mail_port),
                SENDWATCH_SMTP_TLS="none",
            )
        return env

    def start_mailsink(self) -> None:
        """Dev mode: capture every notification as an .eml file under var/mail/."""
        self.mail_port = free_port()
        log = open(self.var_dir / "logs" / "mailsink.log", "ab")  # noqa: SIM115
        self.children["mailsink"] = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cli.mailsink",
                "--dir",
                str(self.var_dir / "mail"),
                "--port",
                str(self.mail_port),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env(),
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        wait_for_port(self.mail_port)

    def start_broker(
        self, bootstrap: str | None, engine: str = "tansu", nodes: int = 1, echo: object = None
    ) -> None:
        if bootstrap:
            self.bootstrap = bootstrap
            return
        if engine == "kafka":
            self.broker = start_kafka(
                nodes,
                base_dir=self.var_dir / "kafka",
                log_file=self.var_dir / "logs" / "kafka.log",
                echo=echo if callable(echo) else print,
            )
        else:
            self.broker = start_tansu(log_file=self.var_dir / "logs" / "tansu.log")
        self.bootstrap = self.broker.bootstrap

    def start_service(self, name: str, host: str = "127.0.0.1") -> None:
        port = self.ports[name]
        if port_is_open(port):
            raise RuntimeError(f"port {port} for {name} is already in use")
        log = open(self.var_dir / "logs" / f"{name}.log", "ab")  # noqa: SIM115
        self.children[name] = subprocess.Popen(
            [sys.executable, "-m", "cli", "serve", name, "--host", host, "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env(),
            start_new_session=True,  # Ctrl-C goes to us; we stop children in order
            preexec_fn=die_with_parent,
        )

    def start_simulator(self, seed: int, speed: float, start: str, backfill_days: int) -> None:
        log = open(self.var_dir / "logs" / "simulator.log", "ab")  # noqa: SIM115
        self.children["simulator"] = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cli",
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
                "--nhs-key",  # the simulated NHS community provider (R5 runs in `up`)
                "dev-nhs-community-key",
                "--placements",  # the county's placements (the sufficiency view, K20)
                "--quiet",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env(),
            start_new_session=True,
            preexec_fn=die_with_parent,
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
        order = ["simulator", *reversed(START_ORDER), "mailsink"]
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


def load_benchmarks_if_present(stack: Stack, say: object) -> None:
    """Load DfE's published figures for the benchmark panel: the release
    SENDWATCH_BENCHMARKS_DIR names, else the extract shipped with sendwatch."""
    from services.reporting.bundled import DATA_DIR

    directory = Path(os.environ.get("SENDWATCH_BENCHMARKS_DIR") or DATA_DIR)
    if not directory.is_dir():
        return
    done = subprocess.run(
        [sys.executable, "-m", "cli", "load-benchmarks", str(directory)],
        env=stack.env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    if callable(say):
        say(
            "Benchmarks       "
            + (
                "DfE published figures loaded"
                if done.returncode == 0
                else f"not loaded ({done.stderr.strip()[:120]})"
            )
        )


def run_stack(
    *,
    simulate: bool,
    bootstrap: str | None,
    var_dir: Path,
    seed: int,
    speed: float,
    start: str,
    backfill_days: int,
    engine: str = "tansu",
    nodes: int = 1,
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
        stack.start_broker(bootstrap, engine, nodes, say)
        kind = {
            "tansu": "  (Tansu, in memory)",
            "kafka": f"  (Apache Kafka, {nodes} node(s), data in {var_dir / 'kafka'})",
        }
        say(f"Kafka broker     {stack.bootstrap}" + ("" if bootstrap else kind[engine]))
        smtp_host = get_settings().smtp.host
        if not smtp_host:
            stack.start_mailsink()
        for name in START_ORDER:
            stack.start_service(name)
        stack.wait_healthy()
        load_benchmarks_if_present(stack, say)
        if simulate:
            stack.start_simulator(seed, speed, start, backfill_days)
        say(f"Dashboard        http://127.0.0.1:{stack.ports['reporting']}/")
        say(f"Reporting API    http://127.0.0.1:{stack.ports['reporting']}/v1/kpis")
        say(f"Ingest API       http://127.0.0.1:{stack.ports['ingest']}/v1/events")
        say(
            f"Timeliness       http://127.0.0.1:{stack.ports['timeliness']}/v1/caseload"
            "  (Bearer dev-operational-token)"
        )
        say(
            f"Alerts API       http://127.0.0.1:{stack.ports['alerts']}/v1/alerts"
            "  (Bearer dev-alerts-read-token; acknowledge: dev-alerts-ack-token)"
        )
        say(f"Outbox           http://127.0.0.1:{stack.ports['reporting']}/outbox")
        say(
            "Mail             "
            + (
                f"captured in {var_dir / 'mail'} (local sink)"
                if stack.mail_port
                else f"sent via {smtp_host}"
            )
        )
        say("Metrics          /metrics on each service;  health: /healthz")
        say(f"Logs             {var_dir / 'logs'}")
        say("Simulator        " + ("running (accelerated time)" if simulate else "off"))
        say("Press Ctrl-C to stop.")
        while True:
            for name, proc in stack.children.items():
                if proc.poll() is not None and name not in ("simulator",):
                    raise RuntimeError(f"{name} stopped unexpectedly (exit {proc.returncode})")
            time.sleep(0.5)
    except KeyboardInterrupt:
        stopping = True
    finally:
        # A second Ctrl-C (or a TERM from a supervisor) must not cut the cleanup short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        say("Stopping ..." if stopping else "Stopping after an error ...")
        stack.stop()
        signal.signal(signal.SIGTERM, previous)
        say("Stopped.")
