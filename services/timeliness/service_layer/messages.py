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
    out = []
    for part, n in enumerate(range(0, max(1, len(values)), SNAPSHOT_CHUNK)):
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
                values=values[n : n + SNAPSHOT_CHUNK],
            ),
        )
        out.append(Message(topics.snapshots, SERVICE, snap.model_dump_json()))
    return out
