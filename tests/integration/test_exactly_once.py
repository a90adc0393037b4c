"""kill -9 of a consumer in the middle of a 20,000-event stream, then a restart:
every event is counted exactly once (real broker, SQLite and PostgreSQL)."""

from __future__ import annotations

import contextlib
import signal
import threading

import httpx
import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from sendwatch.db import make_engine
from services.timeliness.adapters.orm import TimelinessInbox
from tests.helpers import AUTH, OPERATIONAL, case_event, get_json, wait_for

CASES = 10_000


def stream() -> list[dict]:
    """20,000 events: every case is requested; even cases get their final plan, odd
    cases a decision to assess (still open).  Expected open caseload: 5,000."""
    events = [case_event(c, case=c) for c in range(CASES)]
    for c in range(CASES):
        if c % 2 == 0:
            events.append(case_event(c, "ehc.plan.final-issued", case=c, day=130))
        else:
            events.append(
                case_event(
                    c, "ehc.assessment.decision-to-assess", case=c, day=30, data={"outcome": "Y"}
                )
            )
    return events


@pytest.mark.brokers
def test_kill_9_mid_stream_counts_every_event_once(
    stack_factory, monkeypatch, database_url, tmp_path
) -> None:
    monkeypatch.setenv("SENDWATCH_BATCH_MAX", "500")
    stack = stack_factory("timeliness", "ingest")
    url = f"http://127.0.0.1:{stack.ports['ingest']}/v1/events"
    events = stream()
    assert len(events) == 20_000
    posted = threading.Event()

    def producer() -> None:
        with httpx.Client(timeout=60) as client:
            for i in range(0, len(events), 1000):
                r = client.post(url, json=events[i : i + 1000], headers=AUTH)
                assert r.status_code == 200, r.text
                if i == 5000:  # a source retry: the same ids again
                    client.post(url, json=events[0:1000], headers=AUTH)
        posted.set()

    thread = threading.Thread(target=producer)
    thread.start()
    port = stack.ports["timeliness"]
    wait_for(
        lambda: get_json(port, "/v1/caseload", OPERATIONAL)["events_applied"] >= 3000,
        timeout=60,
        every=0.05,
    )
    victim = stack.children["timeliness"]
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    applied_at_kill = None
    with contextlib.suppress(httpx.HTTPError):
        applied_at_kill = get_json(port, "/v1/caseload", OPERATIONAL)["events_applied"]
    assert applied_at_kill is None  # it really is dead

    stack.start_service("timeliness")
    stack.wait_healthy()
    thread.join(timeout=120)
    assert posted.is_set()

    final = wait_for(
        lambda: (
            (v := get_json(port, "/v1/caseload", OPERATIONAL))["events_applied"] == 20_000 and v
        ),
        timeout=120,
    )
    assert final["cases"] == CASES
    assert final["open_caseload"] == CASES // 2
    engine = make_engine(database_url or f"sqlite:///{stack.var_dir / 'timeliness.db'}")
    with Session(engine) as s:
        assert s.execute(select(func.count()).select_from(TimelinessInbox)).scalar_one() == 20_000
    engine.dispose()
