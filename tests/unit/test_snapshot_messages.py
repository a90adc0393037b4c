"""KPI snapshot messages stay under the producer's request limit however many values a
batch writes (closing years of census cycles at once writes thousands), and carry every
value once, in order."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from contracts.snapshots import KpiSnapshot, KpiValue
from services.timeliness.adapters.repository import ServiceState
from services.timeliness.service_layer.messages import (
    SNAPSHOT_MAX_BYTES,
    Topics,
    snapshot_messages,
)

PRODUCER_LIMIT = 1024 * 1024  # sendwatch/bus.py: max_batch_size


def _value(i: int) -> KpiValue:
    return KpiValue(
        kpi="k4_nd_6_18_waiting_18wk",
        cycle=f"2024-W{1 + i % 52:02d}",
        cycle_kind="week",
        breakdown=f"locality=place-{i:05d}",
        value=12.5,
        numerator=10,
        denominator=80,
        closed=True,
        revision=1,
        extra={f"band_{b}": b for b in range(16)} | {"p50_days": 140.0, "p90_days": 400.0},
    )


def test_a_batch_of_thousands_of_values_is_split_below_the_producer_limit() -> None:
    values = [_value(i) for i in range(2000)]  # SNAPSHOT_CHUNK: one message before
    st = ServiceState(sequence=7, as_of=datetime(2026, 11, 27, tzinfo=UTC))
    messages = snapshot_messages(values, st, Topics("snapshots", "milestones"))
    sizes = [len(m.payload.encode()) for m in messages]
    # 2,000 such values are about 1.4 MB of JSON: one message would never be published
    assert sum(sizes) > PRODUCER_LIMIT and len(messages) > 1
    assert max(sizes) <= SNAPSHOT_MAX_BYTES + 4096 < PRODUCER_LIMIT
    parts = [KpiSnapshot.model_validate(json.loads(m.payload)) for m in messages]
    assert [p.id for p in parts] == [f"snap-timeliness-{7:012d}-{n:04d}" for n in range(len(parts))]
    assert {p.data.sequence for p in parts} == {7}
    assert [v for p in parts for v in p.data.values] == values


def test_a_small_batch_is_one_message_and_an_empty_one_still_reports_progress() -> None:
    st = ServiceState(sequence=3)
    one = snapshot_messages([_value(1), _value(2)], st, Topics("snapshots", "milestones"))
    assert len(one) == 1
    empty = snapshot_messages([], st, Topics("snapshots", "milestones"))
    assert len(empty) == 1
    assert KpiSnapshot.model_validate(json.loads(empty[0].payload)).data.values == []
