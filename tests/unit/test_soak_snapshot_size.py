"""KPI snapshots fit in one Kafka message: a backlog of waiting-list values (hundreds of
bytes each, with their bands) used to make a 2,000-value snapshot of ~1.4 MB, which the
producer refuses (MessageSizeTooLargeError), so the outbox stuck and reporting never
heard of a value again."""

from __future__ import annotations

from datetime import UTC, datetime

from contracts.snapshots import KpiSnapshot, KpiValue
from services.timeliness.adapters.repository import ServiceState
from services.timeliness.service_layer.messages import (
    SNAPSHOT_CHUNK,
    SNAPSHOT_MAX_BYTES,
    Topics,
    snapshot_messages,
)

TOPICS = Topics(snapshots="snaps", milestones="ms")


def _value(n: int, bands: int) -> KpiValue:
    return KpiValue(
        kpi="k4_nd_6_18_waiting_18wk",
        cycle=f"2024-W{n % 52 + 1:02d}",
        cycle_kind="week",
        breakdown=f"locality=area-{n:05d}",
        value=3.1,
        numerator=2,
        denominator=65,
        extra={f"band_{b}_days": b for b in range(bands)},
    )


def _state() -> ServiceState:
    at = datetime(2026, 4, 1, 22, 59, 59, tzinfo=UTC)
    return ServiceState(sequence=12, events_applied=18_697, as_of=at, watermark=at)


def test_large_values_are_split_under_the_message_limit_and_none_is_lost() -> None:
    values = [_value(n, bands=40) for n in range(5000)]
    messages = snapshot_messages(values, _state(), TOPICS)
    sizes = [len(m.payload.encode()) for m in messages]
    assert max(sizes) <= SNAPSHOT_MAX_BYTES < 1024 * 1024
    snaps = [KpiSnapshot.model_validate_json(m.payload) for m in messages]
    assert [v for s in snaps for v in s.data.values] == values  # all, in order
    assert len({s.id for s in snaps}) == len(snaps)  # one id per part
    assert [s.id[-4:] for s in snaps] == [f"{i:04d}" for i in range(len(snaps))]
    assert len(messages) > -(-len(values) // SNAPSHOT_CHUNK)  # it really had to split


def test_no_values_still_publishes_one_snapshot() -> None:
    messages = snapshot_messages([], _state(), TOPICS)
    assert len(messages) == 1
    assert KpiSnapshot.model_validate_json(messages[0].payload).data.values == []
