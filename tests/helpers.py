"""Builders and waiters shared by the tests."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from cli.kafka import KafkaUnavailable, check_available

# The shared project material sits beside the repository (../shared).
SHARED = Path(
    os.environ.get("SENDWATCH_SHARED_DIR") or Path(__file__).resolve().parents[2] / "shared"
)
DFE_DIR = SHARED / "data" / "dfe-ehcp"

# Case event types, by short name (tests build histories from these).
REQUEST = "ehc.request.received"
DECIDE_TO_ASSESS = "ehc.assessment.decision-to-assess"
ADVICE_REQUESTED = "ehc.advice.requested"
ADVICE_RECEIVED = "ehc.advice.received"
EXCEPTION = "ehc.exception.started"
DRAFT = "ehc.plan.draft-issued"
ASSESSMENT_DECISION = "ehc.assessment.decision"
FINAL = "ehc.plan.final-issued"
CEASED = "ehc.plan.ceased"
TRANSFER_IN = "ehc.case.transferred-in"
TRANSFER_OUT = "ehc.case.transferred-out"
NEED = "ehc.need.recorded"

DEV_KEY = "dev-case-management-key"
AUTH = {"Authorization": f"Bearer {DEV_KEY}"}
BASE_TIME = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)


def case_event(
    n: int,
    etype: str = "ehc.request.received",
    *,
    case: int | None = None,
    day: int = 0,
    data: dict[str, Any] | None = None,
    source: str = "case-management",
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "person_id": f"p-{(case if case is not None else n):08d}",
        "locality": "shrewsbury",
        "age_band": "5-10",
        "phase": "primary",
    }
    body.update(data or {})
    return {
        "id": f"evt-{etype.split('.')[-1]}-{n:08d}",
        "source": source,
        "type": etype,
        "subject": f"case-{(case if case is not None else n):08d}",
        "time": (BASE_TIME + timedelta(days=day)).isoformat(),
        "data": body,
    }


def wait_for(predicate: Callable[[], Any], timeout: float = 60.0, every: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(every)
    raise AssertionError(f"condition not met in {timeout}s; last value: {last!r}")


OPERATIONAL = {"Authorization": "Bearer dev-operational-token"}  # unsuppressed reporting


def get_json(port: int, path: str, headers: dict[str, str] | None = None) -> Any:
    r = httpx.get(f"http://127.0.0.1:{port}{path}", timeout=5, headers=headers)
    r.raise_for_status()
    return r.json()


async def _read_topic(bootstrap: str, topic: str, expect: int, timeout: float) -> list[dict]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    out: list[dict] = []
    try:
        deadline = time.monotonic() + timeout
        while len(out) < expect and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                out.extend(json.loads(r.value) for r in records)
    finally:
        await consumer.stop()
    return out


def read_topic(bootstrap: str, topic: str, expect: int, timeout: float = 20.0) -> list[dict]:
    """Read a topic from the beginning until ``expect`` records (or the timeout)."""
    return asyncio.run(_read_topic(bootstrap, topic, expect, timeout))


def kafka_or_skip() -> None:
    """Skip, saying why, where Java or Kafka's jars (or Maven to fetch them) are missing;
    under CI fail instead, because CI must run the Apache Kafka cases."""
    try:
        check_available()
    except KafkaUnavailable as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"Apache Kafka unavailable: {exc}")


def tick_lanes() -> int:
    """How many copies ingest makes of one clock tick: one per partition of every topic
    that carries a registered event type (each domain's contract adds its topic)."""
    from contracts.events import load_events
    from contracts.topics import load_topics

    catalogue = load_topics()
    return sum(catalogue[alias].partitions for alias in load_events().topics)


def kpi_snapshot(sequence: int, values: list[Any], at: str = "2026-11-01T00:00:00Z") -> Any:
    """A timeliness KPI snapshot of ``values`` (KpiValue) as reporting consumes it."""
    from contracts.snapshots import KpiSnapshot

    return KpiSnapshot.model_validate(
        {
            "id": f"snap-timeliness-{sequence:012d}",
            "source": "timeliness",
            "type": "sendwatch.kpi.snapshot",
            "subject": "kpi-set:timeliness",
            "time": at,
            "data": {
                "producer": "timeliness",
                "sequence": sequence,
                "as_of": at,
                "events_applied": sequence,
                "values": [v.model_dump(mode="json") for v in values],
            },
        }
    )
