"""The simulated county's programme office: the PMO, the workstream leads and QAG.

From the start date: the PMO enters the plan's risks and one dependency item per
dependency in the RAID log, and updates every open item each Friday (the weekly update,
R4); workstream leads report their next quarter-end milestones on track each month.
One dependency slips (at risk, then off track two weeks later): R1 opens an exception;
its owner records the exception report and a recovery plan within the 10 working days;
QAG decides corrective action against its pack at the next meeting, and accepts the
recovery plan at the one after.  Deterministic for a seed; posted by source ``pmo``.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from contracts.programme import Programme, load_programme
from services.ingest.sources.simulator.model import EventDict, TimedEvent

SOURCE = "pmo"


def _at(d: date, hour: int) -> datetime:
    return datetime(d.year, d.month, d.day, hour, tzinfo=UTC)


def _working_days_after(d: date, n: int) -> date:
    from services.alerts.domain.workdays import add_working_days

    return add_working_days(d, n)


class _Log:
    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.n = 0
        self.out: list[TimedEvent] = []

    def add(self, etype: str, subject: str, on: date, hour: int, **data: Any) -> None:
        self.n += 1
        event: EventDict = {
            "id": f"sim-prog-{self.seed}-{self.n:06d}",
            "source": SOURCE,
            "type": f"programme.{etype}",
            "subject": subject,
            "time": _at(on, hour).isoformat(),
            "data": {k: v.isoformat() if isinstance(v, date) else v for k, v in data.items()},
        }
        self.out.append(TimedEvent(_at(on, hour), event))


def programme_events(
    seed: int, start: date, end: date | None, programme: Programme | None = None
) -> Iterator[TimedEvent]:
    """The programme office's events in [start, end), in time order."""
    prog = programme or load_programme()
    rng = random.Random(f"programme-{seed}")
    stop = end or start + timedelta(days=365)
    log = _Log(seed)
    items: dict[str, dict[str, Any]] = {}
    n = 0
    for rid, r in prog.risks.items():
        n += 1
        items[f"raid-{n:06d}"] = {
            "kind": "risk",
            "owner": prog.workstreams[r.workstream].lead,
            "due": prog.quarters["Q4"],
            "impact": r.impact,
            "likelihood": r.likelihood,
            "milestones": list(r.milestones),
            "status": "on_track",
            "reason": "on_plan",
            "ref": rid,
        }
    for did, d in prog.dependencies.items():
        n += 1
        relying = [m.id for m in prog.relying_on(did) if m.due > start]
        items[f"raid-{n:06d}"] = {
            "kind": "dependency",
            "owner": d.owner,
            "dependency": did,
            "due": min((prog.plan[m].due for m in relying), default=prog.quarters["Q4"]),
            "impact": 3,
            "likelihood": 2,
            "milestones": relying[:2],
            "status": "on_track",
            "reason": "on_plan",
        }
    for subject, data in items.items():
        log.add("raid.raised", subject, start, 9, **data)

    # the slipping dependency: the one of the earliest-due milestones
    deps = sorted(
        (s for s, d in items.items() if d["kind"] == "dependency"),
        key=lambda s: (items[s]["due"], s),
    )
    slipping = deps[rng.randrange(len(deps))] if deps else None
    at_risk = start + timedelta(days=14 + rng.randrange(7))
    off_track = at_risk + timedelta(days=14)
    while off_track.weekday() >= 5:
        off_track += timedelta(days=1)
    report_on = _working_days_after(off_track, 6 + rng.randrange(3))
    action_due = report_on + timedelta(days=28)

    day = start
    while day < stop:
        if day.day == 1 or day == start:  # monthly: leads report the next milestones
            nxt = min((m.due for m in prog.plan.values() if m.due >= day), default=None)
            for m in prog.plan.values():
                if m.due == nxt:
                    status = "on_track"
                    if slipping and m.id in items[slipping]["milestones"] and day >= at_risk:
                        status = "at_risk"
                    log.add(
                        "milestone.status",
                        f"milestone:{m.id}",
                        day,
                        10,
                        milestone=m.id,
                        status=status,
                        reason="on_plan" if status == "on_track" else "dependency_slipping",
                        evidence_date=day,
                    )
        if slipping and day == at_risk:
            items[slipping] = {**items[slipping], "status": "at_risk", "reason": "partner_delay"}
            log.add("raid.updated", slipping, day, 11, **items[slipping])
        if slipping and day == off_track:
            items[slipping] = {
                **items[slipping],
                "status": "off_track",
                "reason": "capacity_shortfall",
            }
            log.add("raid.updated", slipping, day, 11, **items[slipping])
        if day.weekday() == 4:  # Friday: the weekly PMO update of every open item
            for subject, data in items.items():
                log.add("raid.updated", subject, day, 15, **data)
        if slipping and day == report_on:
            owner = items[slipping]["owner"]
            milestones = items[slipping]["milestones"]
            log.add(
                "action.agreed",
                "action-000001",
                day,
                11,
                owner=owner,
                due=action_due,
                raid=slipping,
                recovery=True,
            )
            for m in milestones:
                log.add(
                    "exception.recorded",
                    slipping,
                    day,
                    12,
                    raid=slipping,
                    milestone=m,
                    options=["commission_capacity", "resequence"],
                    recovery_actions=["action-000001"],
                )
        if slipping and day >= off_track and day in _qag_days(prog, off_track, stop):
            first = day == min(_qag_days(prog, off_track, stop))
            log.add(
                "decision.recorded",
                f"decision-{log.n + 1:06d}",
                day,
                16,
                forum="qag",
                date=day,
                outcome="corrective_action" if first else "recovery_plan_accepted",
                raid=slipping,
                pack=day,
            )
        if slipping and day == action_due:
            log.add("action.completed", "action-000001", day, 12)
        day += timedelta(days=1)
    yield from sorted(
        (e for e in log.out if e.time.date() < stop), key=lambda e: (e.time, e.event["id"])
    )


def _qag_days(prog: Programme, after: date, stop: date) -> list[date]:
    return [d for d in prog.forums["qag"].meetings(after + timedelta(days=1), stop)][:2]
