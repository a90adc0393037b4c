"""Two timeliness processes in one consumer group share the partitions; when one is
killed mid-stream the group rebalances onto the survivor and every event is still
counted exactly once (real broker, shared PostgreSQL database)."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading

import httpx
import pytest

from cli.tansu import free_port
from tests.helpers import AUTH, OPERATIONAL, case_event, get_json, wait_for
from tests.integration.test_exactly_once import stream


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
@pytest.mark.brokers
def test_rebalance_after_a_member_dies(stack_factory, monkeypatch) -> None:
    monkeypatch.setenv("SENDWATCH_BATCH_MAX", "500")
    stack = stack_factory("timeliness", "ingest")
    # A second member of the same group, on its own port.
    port2 = free_port()
    log = open(stack.var_dir / "logs" / "timeliness-2.log", "ab")  # noqa: SIM115
    second = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "timeliness", "--port", str(port2)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=stack.env(),
        start_new_session=True,
    )
    try:
        wait_for(lambda: get_json(port2, "/healthz")["status"] == "ok", timeout=60)
        url = f"http://127.0.0.1:{stack.ports['ingest']}/v1/events"
        events = stream()
        done = threading.Event()

        def producer() -> None:
            with httpx.Client(timeout=60) as client:
                for i in range(0, len(events), 1000):
                    assert (
                        client.post(url, json=events[i : i + 1000], headers=AUTH).status_code == 200
                    )
            done.set()

        thread = threading.Thread(target=producer)
        thread.start()
        first = stack.ports["timeliness"]
        wait_for(
            lambda: get_json(first, "/v1/caseload", OPERATIONAL)["events_applied"] >= 4000,
            timeout=90,
            every=0.05,
        )
        second.send_signal(signal.SIGKILL)
        second.wait(timeout=10)
        thread.join(timeout=120)
        assert done.is_set()
        final = wait_for(
            lambda: (
                (v := get_json(first, "/v1/caseload", OPERATIONAL))["events_applied"] == 20_000
                and v
            ),
            timeout=150,
        )
        assert final["cases"] == 10_000 and final["open_caseload"] == 5_000
        extra = case_event(999_999)
        httpx.post(url, json=[extra, extra], headers=AUTH)
        wait_for(lambda: get_json(first, "/v1/caseload", OPERATIONAL)["events_applied"] == 20_001)
    finally:
        if second.poll() is None:
            second.kill()
        log.close()
