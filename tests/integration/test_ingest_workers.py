"""Ingest with several worker processes on one port (``SENDWATCH_INGEST_WORKERS``):
the schema is migrated once before the workers start, requests are served by whichever
worker takes them, and every event reaches timeliness once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.helpers import AUTH, OPERATIONAL, case_event, get_json, wait_for


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_two_ingest_workers_share_the_port_and_lose_nothing(stack_factory, monkeypatch) -> None:
    monkeypatch.setenv("SENDWATCH_INGEST_WORKERS", "2")
    stack = stack_factory("ingest", "timeliness")
    pid = stack.children["ingest"].pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    workers = [c for c in children if b"spawn" in Path(f"/proc/{c}/cmdline").read_bytes()]
    assert len(workers) == 2  # two worker processes under the one server
    url = f"http://127.0.0.1:{stack.ports['ingest']}/v1/events"
    batches = [[case_event(b * 50 + i + 1) for i in range(50)] for b in range(8)]

    def post(batch: list[dict]) -> int:
        with httpx.Client(timeout=60) as client:
            r = client.post(url, json=batch, headers=AUTH)
            assert r.status_code == 200, r.text[:300]
            return int(r.json()["accepted"])

    with ThreadPoolExecutor(4) as pool:
        assert sum(pool.map(post, batches)) == 400
    # a retry of a batch is accepted again and applied once
    assert post(batches[0]) == 50
    wait_for(
        lambda: (
            get_json(stack.ports["timeliness"], "/v1/caseload", OPERATIONAL)["events_applied"]
            == 400
        ),
        timeout=90,
    )
