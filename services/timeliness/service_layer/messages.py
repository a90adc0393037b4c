"""The messages the timeliness service publishes: milestone alerts and KPI snapshots,
as outbox rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from contracts.snapshots import KpiSnapshot, KpiSnapshotData, KpiValue
from contracts.timeline import MilestoneAlert, MilestoneData
from services.timeliness.adapters.outbox import Message
from services.timeliness.adapters.repository import ServiceState
from services.timeliness.domain import milestones
from services.timeliness.domain.subjects import SubjectState

SERVICE = "timeliness"
SNAPSHOT_CHUNK = 2000
# Every snapshot message stays well under Kafka's default 1 MiB message and request limit
# (values with many bands, e.g. waiting lists by locality, are several hundred bytes each).
SNAPSHOT_MAX_BYTES = 900 * 1024


@dataclass(frozen=True)
class Topics:
    snapshots: str
    milestones: str


def alert_message(
    alert: milestones.MilestoneAlert, s: SubjectState, at: datetime, topics: Topics
) -> Message:
    msg = MilestoneAlert(
        id=f"ms-{alert.subject}-{alert.milestone}-{alert.kind}"[:128],
        source=SERVICE,
        type="ehc.milestone.slipped" if alert.kind == "slipped" else "ehc.milestone.early-warning",
        subject=alert.subject,
        time=at,
        data=MilestoneData(
            milestone=alert.milestone,
            kind=alert.kind,
            kpi=alert.kpi,
            start=alert.start,
            due=alert.due,
            day=alert.day,
            locality=s.attrs.get("locality", "unknown"),
            age_band=s.attrs.get("age_band", "unknown"),
            primary_need=s.attrs.get("primary_need"),
            has_exception=alert.has_exception,
        ),
    )
    return Message(topics.milestones, alert.subject, msg.model_dump_json())


def snapshot_messages(values: list[KpiValue], st: ServiceState, topics: Topics) -> list[Message]:
    """The values in messages of at most ``SNAPSHOT_CHUNK`` values and
    ``SNAPSHOT_MAX_BYTES`` bytes each (a chunk that is too large is halved)."""
    recorded = datetime.now(UTC)
    pending = [
        values[n : n + SNAPSHOT_CHUNK] for n in range(0, max(1, len(values)), SNAPSHOT_CHUNK)
    ]
    out: list[Message] = []
    while pending:
        chunk = pending.pop(0)
        snap = KpiSnapshot(
            id=f"snap-{SERVICE}-{st.sequence:012d}-{len(out):04d}",
            source=SERVICE,
            type="sendwatch.kpi.snapshot",
            subject="kpi-set:timeliness",
            time=st.as_of or recorded,
            recorded=recorded,
            data=KpiSnapshotData(
                producer=SERVICE,
                sequence=st.sequence,
                as_of=st.as_of,
                watermark=st.watermark,
                events_applied=st.events_applied,
                values=chunk,
            ),
        )
        payload = snap.model_dump_json()
        if len(payload.encode()) > SNAPSHOT_MAX_BYTES and len(chunk) > 1:
            half = len(chunk) // 2
            pending[:0] = [chunk[:half], chunk[half:]]
            continue
        out.append(Message(topics.snapshots, SERVICE, payload))
    return out
