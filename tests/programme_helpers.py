"""Builders of programme events for tests and the simulator's checks."""

from __future__ import annotations

from datetime import UTC, date, datetime
from itertools import count
from typing import Any

from contracts.events import load_events
from contracts.programme_events import ProgrammeEvent

_ids = count(1)


def ev(event: str, subject: str, on: date | str, **data: Any) -> ProgrammeEvent:
    """A programme event of type ``programme.<event>`` recorded at noon on ``on``."""
    day = date.fromisoformat(on) if isinstance(on, str) else on
    raw = {
        "id": f"evt-test-{next(_ids):08d}",
        "source": "pmo",
        "type": f"programme.{event}",
        "subject": subject,
        "time": datetime(day.year, day.month, day.day, 12, tzinfo=UTC).isoformat(),
        "data": {k: (v.isoformat() if isinstance(v, date) else v) for k, v in data.items()},
    }
    parsed: ProgrammeEvent = load_events().parse_event(raw)  # type: ignore[assignment]
    return parsed


def raid(
    subject: str,
    on: str,
    *,
    kind: str = "dependency",
    owner: str = "icb-sro",
    due: str = "2027-03-31",
    status: str = "on_track",
    milestones: list[str] | None = None,
    dependency: str | None = "d-nhs",
    raised: bool = True,
    **more: Any,
) -> ProgrammeEvent:
    return ev(
        "raid.raised" if raised else "raid.updated",
        subject,
        on,
        kind=kind,
        owner=owner,
        due=due,
        impact=more.pop("impact", 3),
        likelihood=more.pop("likelihood", 3),
        milestones=milestones or [],
        dependency=dependency,
        status=status,
        reason=more.pop("reason", "on_plan" if status == "on_track" else "partner_delay"),
        **more,
    )
