"""``sendwatch up`` starts broker and services; Ctrl-C leaves no process or port behind."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from cli.tansu import free_port, port_is_open
from tests.helpers import (
    AUTH,
    OPERATIONAL,
    case_event,
    get_json,
    kafka_or_skip,
    read_topic,
    wait_for,
)


def descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    out: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in out:
                out.add(child)
                todo.append(child)
    return out


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def start_up(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen[bytes], dict[str, int], Path]:
    """`sendwatch up --no-simulate` on free ports; returns the process, ports, output file."""
    ports = {name: free_port() for name in ("ingest", "timeliness", "alerts", "reporting")}
    env = {**os.environ, "SENDWATCH_KAFKA_SESSION_TIMEOUT_MS": "6000"}
    env.pop("SENDWATCH_DATABASE_URL", None)
    env.update({f"SENDWATCH_{n.upper()}_PORT": str(p) for n, p in ports.items()})
    out = tmp_path / "up.out"
    with out.open("ab") as fh:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cli",
                "up",
                "--no-simulate",
                "--var-dir",
                str(tmp_path / "var"),
                *extra,
            ],
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=env,
            # a process group of its own, as a terminal gives a foreground job (Ctrl-C is
            # sent to the whole group), with SIGINT handled whatever this process does
            start_new_session=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
    return proc, ports, out


def ctrl_c(proc: subprocess.Popen[bytes]) -> None:
    """What Ctrl-C in a terminal does: SIGINT to every process of the foreground group."""
    os.killpg(proc.pid, signal.SIGINT)


def _stop(proc: subprocess.Popen[bytes], out: Path) -> None:
    ctrl_c(proc)
    assert proc.wait(timeout=90) == 0, out.read_text()


@pytest.mark.parametrize("engine", ["tansu", "kafka"])
def test_up_serves_and_ctrl_c_cleans_up(tmp_path: Path, engine: str) -> None:
    if engine == "kafka":
        kafka_or_skip()
    proc, ports, out = start_up(tmp_path, "--broker", engine)
    try:
        wait_for(lambda: "Press Ctrl-C" in out.read_text(), timeout=120)
        text = out.read_text()
        broker_port = int(re.search(r"Kafka broker\s+127\.0\.0\.1:(\d+)", text).group(1))
        assert f"http://127.0.0.1:{ports['reporting']}/v1/kpis" in text
        r = httpx.post(
            f"http://127.0.0.1:{ports['ingest']}/v1/events", json=[case_event(1)], headers=AUTH
        )
        assert r.status_code == 200
        wait_for(
            lambda: any(
                k["kpi"] == "open_caseload" and k["value"] == 1.0
                for k in get_json(ports["reporting"], "/v1/kpis", OPERATIONAL)["kpis"]
            )
        )
        family = descendants(proc.pid)
        assert len(family) >= 5  # broker + four services (plus any helpers)
    finally:
        asked = time.monotonic()
        ctrl_c(proc)
        code = proc.wait(timeout=90)
        took = time.monotonic() - asked
    assert code == 0, out.read_text()
    assert "Stopped." in out.read_text()
    # The broker is out of the terminal's group, so it outlives the services it serves
    # (with `make up`'s simulator running, a broker that got the Ctrl-C too held their
    # shutdown for the 20 s stop deadline; this idle stack does not show that).
    assert took < 15, f"stopping took {took:.1f} s"
    assert ("Apache Kafka" in text) == (engine == "kafka")
    leftovers = [pid for pid in family if alive(pid)]
    assert leftovers == []
    for port in [broker_port, *ports.values()]:
        assert not port_is_open(port), f"port {port} still open"


def test_children_do_not_outlive_a_killed_up(tmp_path: Path) -> None:
    """Even `kill -9` of `sendwatch up` (no chance to clean up) leaves no service behind:
    the children are told to stop when their parent dies."""
    proc, ports, out = start_up(tmp_path)
    wait_for(lambda: "Press Ctrl-C" in out.read_text(), timeout=120)
    family = descendants(proc.pid)
    assert len(family) >= 5
    proc.kill()
    proc.wait(timeout=10)
    wait_for(lambda: not [pid for pid in family if alive(pid)], timeout=30)
    wait_for(lambda: not any(port_is_open(p) for p in ports.values()), timeout=30)


def test_up_with_kafka_keeps_the_log_across_restarts(tmp_path: Path) -> None:
    """Apache Kafka's log lives under var/kafka: a second `up` on the same var directory
    still has the events posted before the first one stopped."""
    kafka_or_skip()
    proc, ports, out = start_up(tmp_path, "--broker", "kafka")
    try:
        wait_for(lambda: "Press Ctrl-C" in out.read_text(), timeout=120)
        r = httpx.post(
            f"http://127.0.0.1:{ports['ingest']}/v1/events", json=[case_event(7)], headers=AUTH
        )
        assert r.status_code == 200, r.text
    finally:
        _stop(proc, out)
    out.write_text("")
    proc, ports, out = start_up(tmp_path, "--broker", "kafka")
    try:
        wait_for(lambda: "Press Ctrl-C" in out.read_text(), timeout=120)
        bootstrap = re.search(r"Kafka broker\s+(\S+)", out.read_text()).group(1)
        events = read_topic(bootstrap, "sendwatch.case-events.v1", expect=10_000, timeout=8)
        # (the rest are the wall clock's hourly ticks, one per partition)
        assert [e["id"] for e in events if e["type"] != "clock.tick"] == [case_event(7)["id"]]
    finally:
        _stop(proc, out)
