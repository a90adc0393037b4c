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
# A snapshot message stays well under the producer's 1 MiB request limit (bus.py), so
# a batch that closes many census cycles at once is split instead of never published.
SNAPSHOT_MAX_BYTES = 512 * 1024


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


def _chunks(values: list[KpiValue], max_bytes: int) -> list[list[KpiValue]]:
    """``values`` in order, at most ``SNAPSHOT_CHUNK`` and about ``max_bytes`` of JSON
    a part (a single larger value is a part of its own)."""
    out: list[list[KpiValue]] = [[]]
    size = 0
    for v in values:
        n = len(v.model_dump_json()) + 1
        if out[-1] and (len(out[-1]) >= SNAPSHOT_CHUNK or size + n > max_bytes):
            out.append([])
            size = 0
        out[-1].append(v)
        size += n
    return out


def snapshot_messages(
    values: list[KpiValue], st: ServiceState, topics: Topics, max_bytes: int = SNAPSHOT_MAX_BYTES
) -> list[Message]:
    out = []
    for part, chunk in enumerate(_chunks(values, max_bytes)):
        snap = KpiSnapshot(
            id=f"snap-{SERVICE}-{st.sequence:012d}-{part:04d}",
            source=SERVICE,
            type="sendwatch.kpi.snapshot",
            subject="kpi-set:timeliness",
            time=st.as_of or datetime.now(UTC),
            recorded=datetime.now(UTC),
            data=KpiSnapshotData(
                producer=SERVICE,
                sequence=st.sequence,
                as_of=st.as_of,
                watermark=st.watermark,
                events_applied=st.events_applied,
                values=chunk,
            ),
        )
        out.append(Message(topics.snapshots, SERVICE, snap.model_dump_json()))
    return out
