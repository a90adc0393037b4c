"""A message the domain cannot apply does not stop its partition: the consumer splits
the failing batch, applies everything else, and dead-letters that one message (reason
``unprocessable``, the exception class, never the payload).  Nothing is counted twice,
and a restart neither re-applies nor re-dead-letters anything.  A database that fails
for reasons of its own dead-letters nothing; ``/healthz`` reports the consumer instead.
Real broker, real service processes, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sqlite3
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import func, select
from sqlmodel import Session

from sendwatch.bus import ensure_topics
from sendwatch.db import make_engine
from services.timeliness.adapters.orm import TimelinessInbox
from tests.helpers import AUTH, OPERATIONAL, case_event, get_json, read_topic, wait_for

TOPIC = "sendwatch.case-events.v1"
DLQ = "sendwatch.dlq.v1"


def produce(bootstrap: str, events: list[dict], partition: int = 0) -> None:
    """Straight to the topic (as a producer that bypasses ingest would), one partition."""

    async def run() -> None:
        await ensure_topics(bootstrap)
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=50)
        await producer.start()
        try:
            futures = [
                await producer.send(TOPIC, json.dumps(e).encode(), partition=partition)
                for e in events
            ]
            await asyncio.gather(*futures)
        finally:
            await producer.stop()

    asyncio.run(run())


def caseload(stack) -> dict:
    return get_json(stack.ports["timeliness"], "/v1/caseload", OPERATIONAL)


def health(stack) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{stack.ports['timeliness']}/healthz", timeout=5)


def inbox_count(stack, database_url: str | None) -> int:
    engine = make_engine(database_url or f"sqlite:///{stack.var_dir / 'timeliness.db'}")
    try:
        with Session(engine) as s:
            return s.execute(select(func.count()).select_from(TimelinessInbox)).scalar_one()
    finally:
        engine.dispose()


def test_a_poison_message_is_dead_lettered_and_the_rest_applied(
    stack_factory, broker, monkeypatch, database_url
) -> None:
    # The contract's window is configurable.  Widened this far, a year-1 time passes
    # validation, and the domain cannot turn it into an English calendar day: the kind
    # of message that used to stop timeliness for good.
    monkeypatch.setenv("SENDWATCH_TIME_EARLIEST", "0001-01-01")
    monkeypatch.setenv("SENDWATCH_POISON_MAX_TRIES", "2")
    before = [case_event(n) for n in range(1, 6)]
    poison = {**case_event(6), "time": "0001-01-01T00:00:00+00:00"}
    after = [case_event(n) for n in range(7, 12)]
    produce(broker.bootstrap, [*before, poison, *after])  # one partition, one batch

    stack = stack_factory("timeliness")
    wait_for(lambda: caseload(stack)["events_applied"] == 10, timeout=60)
    letters = read_topic(broker.bootstrap, DLQ, expect=1)
    assert len(letters) == 1
    d = letters[0]["data"]
    assert d["reason"] == "unprocessable" and d["original_id"] == poison["id"]
    assert "OverflowError" in d["message"]
    assert (d["topic"], d["partition"], d["offset"]) == (TOPIC, 0, 5)
    assert "payload" not in d and len(d["payload_sha256"]) == 64
    log = (stack.var_dir / "logs" / "timeliness.log").read_text()
    assert '"batch_split"' in log and '"message_dead_lettered"' in log

    # Later messages are applied; health stays green.
    produce(broker.bootstrap, [case_event(n) for n in range(12, 15)])
    wait_for(lambda: caseload(stack)["events_applied"] == 13)
    assert health(stack).status_code == 200
    metrics = httpx.get(f"http://127.0.0.1:{stack.ports['timeliness']}/metrics").text
    assert 'sendwatch_events_rejected_total{reason="unprocessable",service="timeliness"} 1.0' in (
        metrics
    )

    # Nothing counted twice, even after a restart (the poison's offset was committed).
    victim = stack.children["timeliness"]
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    stack.start_service("timeliness")
    stack.wait_healthy()
    produce(broker.bootstrap, [case_event(15)])
    view = wait_for(lambda: (v := caseload(stack))["events_applied"] == 14 and v)
    assert view["cases"] == 14
    assert inbox_count(stack, database_url) == 14
    assert len(read_topic(broker.bootstrap, DLQ, expect=2, timeout=3)) == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_far_dates_sent_straight_to_the_topic_never_reach_the_clocks(stack_factory, broker) -> None:
    """The probe's case: 9999-12-31 and 0001-01-01 (a case event and a clock tick) sent
    past ingest.  The contract's window rejects them at the consumer too; the clocks go
    on ticking."""
    tick = {"id": "tick-99991231", "source": "clock", "type": "clock.tick"}
    tick |= {"subject": "clock:test", "time": "9999-12-31T23:59:59+00:00", "data": {}}
    far = [
        tick,
        {**case_event(2), "time": "9999-12-31T00:00:00+00:00"},
        {**case_event(3), "time": "0001-01-01T00:00:00+00:00"},
    ]
    produce(broker.bootstrap, [case_event(1), *far, case_event(4)])
    stack = stack_factory("timeliness")
    wait_for(lambda: caseload(stack)["events_applied"] == 2)
    letters = read_topic(broker.bootstrap, DLQ, expect=3)
    assert (
        sorted((d["data"]["reason"], d["data"]["field"]) for d in letters)
        == [("implausible_time", "time")] * 3
    )
    ok_tick = {**tick, "id": "tick-20260501", "time": "2026-05-01T23:00:00+00:00"}
    produce(broker.bootstrap, [ok_tick, case_event(5)])
    view = wait_for(lambda: (v := caseload(stack))["events_applied"] == 4 and v)
    assert view["watermark"].startswith("2026-05-01")
    assert health(stack).status_code == 200


@contextlib.contextmanager
def renamed_inbox(stack, database_url: str | None) -> Iterator[None]:
    """Break the database under the service (its inbox table disappears), then mend it."""
    rename = "ALTER TABLE {} RENAME TO {}"
    if database_url is None:
        conn = sqlite3.connect(stack.var_dir / "timeliness.db", timeout=30)
        run = conn.execute
    else:
        conn = psycopg.connect(database_url, autocommit=True)
        run = conn.execute
    try:
        run(rename.format("timeliness_inbox", "timeliness_inbox_away"))
        if database_url is None:
            conn.commit()
        yield
    finally:
        run(rename.format("timeliness_inbox_away", "timeliness_inbox"))
        if database_url is None:
            conn.commit()
        conn.close()


def test_a_failing_database_dead_letters_nothing_and_healthz_says_so(
    stack_factory, broker, monkeypatch, database_url
) -> None:
    monkeypatch.setenv("SENDWATCH_HEALTH_MAX_FAILURES", "2")
    stack = stack_factory("timeliness", "ingest")
    ingest = f"http://127.0.0.1:{stack.ports['ingest']}/v1/events"
    assert httpx.post(ingest, json=[case_event(1)], headers=AUTH).status_code == 200
    wait_for(lambda: caseload(stack)["events_applied"] == 1)
    assert health(stack).status_code == 200

    with renamed_inbox(stack, database_url):
        assert httpx.post(ingest, json=[case_event(2)], headers=AUTH).status_code == 200
        r = wait_for(lambda: (h := health(stack)).status_code == 503 and h, timeout=60)
        body = r.json()
        assert body["reason"] == "consumer_failing"
        assert body["checks"]["consumer:sendwatch-timeliness"] == "consumer_failing"
        assert "timeliness_inbox" not in r.text and "Error" not in r.text  # no exception text
    wait_for(lambda: health(stack).status_code == 200, timeout=90)
    wait_for(lambda: caseload(stack)["events_applied"] == 2)
    assert read_topic(broker.bootstrap, DLQ, expect=1, timeout=3) == []


def test_a_consumer_that_commits_nothing_while_lagging_is_unhealthy(
    stack_factory, broker, monkeypatch, database_url
) -> None:
    monkeypatch.setenv("SENDWATCH_HEALTH_STALL_S", "3")
    stack = stack_factory("timeliness", "ingest")
    ingest = f"http://127.0.0.1:{stack.ports['ingest']}/v1/events"
    assert httpx.post(ingest, json=[case_event(1)], headers=AUTH).status_code == 200
    wait_for(lambda: caseload(stack)["events_applied"] == 1)
    # Hold the state row's table: the next batch waits on the lock, commits nothing.
    if database_url is None:
        conn = sqlite3.connect(stack.var_dir / "timeliness.db", isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
    else:
        conn = psycopg.connect(database_url)
        conn.execute("LOCK TABLE timeliness_state IN ACCESS EXCLUSIVE MODE")
    try:
        assert httpx.post(ingest, json=[case_event(2)], headers=AUTH).status_code == 200
        r = wait_for(lambda: (h := health(stack)).status_code == 503 and h, timeout=30)
        assert r.json()["reason"] == "consumer_stalled"
    finally:
        conn.rollback() if database_url else conn.execute("ROLLBACK")
        conn.close()
    wait_for(lambda: health(stack).status_code == 200, timeout=60)
    wait_for(lambda: caseload(stack)["events_applied"] == 2)
