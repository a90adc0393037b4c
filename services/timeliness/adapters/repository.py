"""Unit of work for the timeliness service: one transaction per consumed batch.

In one transaction: the inbox (event ids applied), the case states, the KPI aggregates
(updated by each changed case's contribution delta), cycle closing, and the outbox of
messages to publish (milestone alerts and KPI snapshots).  A relay publishes the outbox
after the commit, so a crash can delay a message but never lose it, and redelivered
input changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, tuple_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from contracts.case_events import CaseEvent
from contracts.clock_rules import ClockRules
from contracts.cycles import cycle_bounds, kind_of, quarter_label
from contracts.kpi_dictionary import KpiDictionary
from contracts.snapshots import KpiSnapshot, KpiSnapshotData, KpiValue
from contracts.timeline import ClockTick, MilestoneAlert, MilestoneData
from sendwatch.inbox import claim_new
from services.timeliness.adapters.orm import (
    CaseRow,
    CycleRow,
    KpiAgg,
    OutboxRow,
    TimelinessInbox,
    TimelinessState,
)
from services.timeliness.domain import clocks
from services.timeliness.domain.case import CaseState, apply, local_date
from services.timeliness.domain.kpis import Agg, Key, delta, outlook_from_counts, rag, target_for

SERVICE = "timeliness"
_STATE_KEY = "caseload"
_CASES = CaseRow.__table__  # type: ignore[attr-defined]
_AGGS = KpiAgg.__table__  # type: ignore[attr-defined]
SNAPSHOT_CHUNK = 2000


@dataclass(frozen=True)
class Incoming:
    """A message from the case-events topic and the partition it came from."""

    message: CaseEvent | ClockTick
    partition: int

    @property
    def id(self) -> str:
        return self.message.id


@dataclass(frozen=True)
class Topics:
    snapshots: str
    milestones: str


@dataclass
class _Case:
    state: CaseState
    partition: int
    raised: set[str]
    known: bool  # a row exists already
    original: CaseState | None
    original_raised: frozenset[str]


# --- loading -------------------------------------------------------------------------


def _load_cases(session: Session, where: Any) -> dict[str, _Case]:
    out: dict[str, _Case] = {}
    for row in session.execute(
        select(_CASES.c.case_id, _CASES.c.partition, _CASES.c.state, _CASES.c.raised).where(where)
    ):
        state = CaseState.model_validate_json(row.state)
        raised = frozenset(json.loads(row.raised))
        out[row.case_id] = _Case(state, row.partition, set(raised), True, state, raised)
    return out


def _open_filter() -> Any:
    return (
        (_CASES.c.received.is_not(None))
        & (_CASES.c.closed_on.is_(None))
        & (_CASES.c.historical.is_(False))
    )


# --- snapshot values -----------------------------------------------------------------


def kpi_value(
    dictionary: KpiDictionary, key: Key, agg: Agg, *, closed: bool, revision: int
) -> KpiValue:
    kpi_id, cycle, breakdown = key
    k = dictionary.kpis[kpi_id]
    target = target_for(k, cycle, dictionary.plan_year_start_month)
    value = agg.percent
    extra: dict[str, float | int | str | bool | None] = {
        "average_days": round(agg.days / agg.den, 1) if agg.den else None,
    }
    if k.limit_days == 140:
        extra.update(
            within_20_weeks=agg.num,
            weeks_20_to_52=agg.den - agg.num - agg.over_year,
            over_52_weeks=agg.over_year,
            average_weeks=round(agg.days / agg.den / 7, 1) if agg.den else None,
        )
    return KpiValue(
        kpi=kpi_id,
        cycle=cycle,
        cycle_kind=kind_of(cycle),
        breakdown=breakdown,
        value=value,
        numerator=agg.num,
        denominator=agg.den,
        closed=closed,
        revision=revision,
        baseline=k.baseline,
        target=target,
        standard=k.standard,
        rag=rag(k, value, target, dictionary.rag.amber_margin),
        extra=extra,
    )


def _count_value(
    dictionary: KpiDictionary,
    kpi_id: str,
    breakdown: str,
    count: int,
    extra: dict[str, Any] | None = None,
) -> KpiValue:
    k = dictionary.kpis[kpi_id]
    return KpiValue(
        kpi=kpi_id,
        cycle="current",
        cycle_kind="current",
        breakdown=breakdown,
        value=float(count),
        numerator=count,
        baseline=k.baseline,
        standard=k.standard,
        rag=rag(k, float(count), None, dictionary.rag.amber_margin),
        extra=extra or {},
    )


@dataclass(frozen=True)
class OpenCounts:
    """Open assessments counted by (locality, has an exception, already past day 140)."""

    cells: dict[tuple[str, bool, bool], int]

    def total(
        self,
        *,
        locality: str | None = None,
        late: bool | None = None,
        exclude_exceptions: bool = False,
    ) -> int:
        return sum(
            n
            for (loc, exc, is_late), n in self.cells.items()
            if (locality is None or loc == locality)
            and (late is None or is_late == late)
            and not (exclude_exceptions and exc)
        )

    @property
    def localities(self) -> list[str]:
        return sorted({loc for loc, _, _ in self.cells})


def count_open(session: Session, today: date, limit_days: int = 140) -> OpenCounts:
    cutoff = today - timedelta(days=limit_days)
    late = _CASES.c.received < cutoff
    rows = session.execute(
        select(_CASES.c.locality, _CASES.c.has_exception, late.label("late"), func.count())
        .where(_open_filter())
        .group_by(_CASES.c.locality, _CASES.c.has_exception, late)
    )
    return OpenCounts({(loc or "unknown", bool(exc), bool(lt)): n for loc, exc, lt, n in rows})


def point_in_time_values(
    dictionary: KpiDictionary, counts: OpenCounts, today: date, aggs: dict[Key, Agg]
) -> list[KpiValue]:
    """Open caseload, backlog past week 20, and the quarter's outlook."""
    values: list[KpiValue] = []
    for kpi_id, k in dictionary.kpis.items():
        if k.measure in ("open_count", "backlog"):
            late = True if k.measure == "backlog" else None
            values.append(_count_value(dictionary, kpi_id, "all", counts.total(late=late)))
            values += [
                _count_value(
                    dictionary, kpi_id, f"locality={loc}", counts.total(locality=loc, late=late)
                )
                for loc in counts.localities
            ]
    quarter = quarter_label(today, dictionary.plan_year_start_month)
    for kpi_id, k in dictionary.kpis.items():
        if k.measure != "within_days" or k.limit_days != 140:
            continue
        so_far = aggs.get((kpi_id, quarter, "all"), Agg())
        target = target_for(k, quarter, dictionary.plan_year_start_month)
        excl = k.exceptions == "exclude"
        o = outlook_from_counts(
            quarter,
            so_far,
            counts.total(exclude_exceptions=excl),
            counts.total(late=True, exclude_exceptions=excl),
            target,
        )
        values.append(
            KpiValue(
                kpi=kpi_id,
                cycle="current",
                cycle_kind="current",
                breakdown="outlook",
                value=o.best_achievable,
                numerator=o.on_time,
                denominator=o.issued,
                baseline=k.baseline,
                target=target,
                standard=k.standard,
                rag=rag(k, o.best_achievable, target, dictionary.rag.amber_margin),
                extra={
                    "quarter": quarter,
                    "open_cases": o.open_cases,
                    "certain_breaches": o.certain_breaches,
                    "target_still_possible": o.target_still_possible,
                    "summary": o.sentence(k.name),
                },
            )
        )
    return values


# --- the batch -----------------------------------------------------------------------


def apply_batch(
    engine: Engine,
    items: Sequence[Incoming],
    dictionary: KpiDictionary,
    rules: ClockRules,
    topics: Topics,
) -> int:
    """Apply a batch idempotently; return how many messages were new."""
    with Session(engine) as session:
        fresh = claim_new(session, TimelinessInbox, items)
        if not fresh:
            session.commit()
            return 0
        state = session.get(TimelinessState, _STATE_KEY, with_for_update=True)
        if state is None:
            state = TimelinessState(key=_STATE_KEY)
            session.add(state)
        subjects = sorted(
            {i.message.subject for i in fresh if not isinstance(i.message, ClockTick)}
        )
        tick_partitions = sorted({i.partition for i in fresh if isinstance(i.message, ClockTick)})
        cases: dict[str, _Case] = {}
        for n in range(0, len(subjects), 900):
            cases.update(_load_cases(session, _CASES.c.case_id.in_(subjects[n : n + 900])))
        if tick_partitions:
            for cid, c in _load_cases(
                session, _open_filter() & _CASES.c.partition.in_(tick_partitions)
            ).items():
                cases.setdefault(cid, c)
        outbox: list[dict[str, Any]] = []
        watermark = state.watermark
        as_of = state.as_of
        for item in fresh:
            msg = item.message
            if as_of is None or msg.time > as_of:
                as_of = msg.time
            if isinstance(msg, ClockTick):
                if watermark is None or msg.time > watermark:
                    watermark = msg.time
                today = local_date(msg.time)
                for c in cases.values():
                    if c.partition != item.partition:
                        continue
                    for alert in clocks.alerts_due(c.state, rules, today, frozenset(c.raised)):
                        c.raised.add(alert.key)
                        outbox.append(_alert_message(alert, c.state, msg.time, topics))
                continue
            c = cases.get(msg.subject)
            if c is None:
                c = _Case(apply(None, msg), item.partition, set(), False, None, frozenset())
                cases[msg.subject] = c
            else:
                c.state = apply(c.state, msg)
        # KPI deltas from every changed case
        deltas: dict[Key, list[int]] = {}
        new_rows: list[dict[str, Any]] = []
        changed_rows: list[dict[str, Any]] = []
        for cid, c in cases.items():
            if c.known and c.state == c.original and frozenset(c.raised) == c.original_raised:
                continue
            for key, d in delta(c.original, c.state, dictionary).items():
                acc = deltas.get(key)
                if acc is None:
                    deltas[key] = list(d)
                else:
                    acc[0] += d[0]
                    acc[1] += d[1]
                    acc[2] += d[2]
                    acc[3] += d[3]
            row = {
                "case_id": cid,
                "partition": c.partition,
                "received": c.state.received,
                "final_issued": c.state.final_issued,
                "closed_on": c.state.closed_on,
                "historical": c.state.historical,
                "locality": c.state.locality,
                "has_exception": c.state.has_exception,
                "state": c.state.model_dump_json(),
                "raised": json.dumps(sorted(c.raised)),
            }
            (changed_rows if c.known else new_rows).append(row)
        if new_rows:
            session.execute(insert(_CASES), new_rows)
        if changed_rows:
            cols = (
                [c for c in new_rows[0] if c != "case_id"]
                if new_rows
                else [
                    "partition",
                    "received",
                    "final_issued",
                    "closed_on",
                    "historical",
                    "locality",
                    "has_exception",
                    "state",
                    "raised",
                ]
            )
            stmt = (
                update(_CASES)
                .where(_CASES.c.case_id == bindparam("b_id"))
                .values({col: bindparam(col) for col in cols})
            )
            session.execute(stmt, [{**r, "b_id": r["case_id"]} for r in changed_rows])
        touched = _apply_deltas(
            session, dictionary, {k: Agg(*v) for k, v in deltas.items() if any(v)}
        )
        today = local_date(watermark or as_of) if (watermark or as_of) else None
        closing = _close_cycles(session, dictionary, watermark, state.watermark)
        state.sequence += 1
        state.events_applied += len(fresh)
        state.as_of = as_of
        state.watermark = watermark
        # snapshot: every touched value, every newly closed one, and the point-in-time set
        values = [
            kpi_value(dictionary, key, agg, closed=closed, revision=rev)
            for key, (agg, closed, rev) in {**touched, **closing}.items()
        ]
        if today is not None:
            counts = count_open(session, today)
            quarter = quarter_label(today, dictionary.plan_year_start_month)
            q_aggs = {
                (r.kpi, r.cycle, r.breakdown): Agg(r.num, r.den, r.days, r.over_year)
                for r in session.execute(
                    select(_AGGS).where((_AGGS.c.cycle == quarter) & (_AGGS.c.breakdown == "all"))
                )
            }
            values += point_in_time_values(dictionary, counts, today, q_aggs)
        outbox += _snapshot_messages(values, state, topics)
        if outbox:
            session.execute(insert(OutboxRow.__table__), outbox)  # type: ignore[attr-defined]
        session.commit()
        return len(fresh)


def _alert_message(
    alert: clocks.MilestoneAlert, case: CaseState, at: datetime, topics: Topics
) -> dict[str, Any]:
    msg = MilestoneAlert(
        id=f"ms-{alert.case_id}-{alert.milestone}-{alert.kind}"[:128],
        source=SERVICE,
        type="ehc.milestone.slipped" if alert.kind == "slipped" else "ehc.milestone.early-warning",
        subject=alert.case_id,
        time=at,
        data=MilestoneData(
            milestone=alert.milestone,
            kind=alert.kind,
            kpi=alert.kpi,
            start=alert.start,
            due=alert.due,
            day=alert.day,
            locality=case.locality,
            age_band=case.age_band,
            primary_need=case.primary_need,
            has_exception=case.has_exception,
        ),
    )
    return {
        "topic": topics.milestones,
        "key": alert.case_id,
        "partition": None,
        "payload": msg.model_dump_json(),
    }


def _snapshot_messages(
    values: list[KpiValue], state: TimelinessState, topics: Topics
) -> list[dict[str, Any]]:
    out = []
    for part, n in enumerate(range(0, max(1, len(values)), SNAPSHOT_CHUNK)):
        snap = KpiSnapshot(
            id=f"snap-{SERVICE}-{state.sequence:012d}-{part:04d}",
            source=SERVICE,
            type="sendwatch.kpi.snapshot",
            subject="kpi-set:timeliness",
            time=state.as_of or datetime.now(UTC),
            recorded=datetime.now(UTC),
            data=KpiSnapshotData(
                producer=SERVICE,
                sequence=state.sequence,
                as_of=state.as_of,
                watermark=state.watermark,
                events_applied=state.events_applied,
                values=values[n : n + SNAPSHOT_CHUNK],
            ),
        )
        out.append(
            {
                "topic": topics.snapshots,
                "key": "timeliness",
                "partition": None,
                "payload": snap.model_dump_json(),
            }
        )
    return out


def _apply_deltas(
    session: Session, dictionary: KpiDictionary, deltas: dict[Key, Agg]
) -> dict[Key, tuple[Agg, bool, int]]:
    """Add the deltas to the stored aggregates; return the new (agg, closed, revision)."""
    if not deltas:
        return {}
    keys = list(deltas)
    existing: dict[Key, tuple[Agg, int]] = {}
    for n in range(0, len(keys), 300):
        chunk = keys[n : n + 300]
        rows = session.execute(
            select(_AGGS).where(tuple_(_AGGS.c.kpi, _AGGS.c.cycle, _AGGS.c.breakdown).in_(chunk))
        )
        for r in rows:
            existing[(r.kpi, r.cycle, r.breakdown)] = (
                Agg(r.num, r.den, r.days, r.over_year),
                r.revision,
            )
    cycles = sorted({k[1] for k in keys})
    closed_cycles = set(
        session.execute(
            select(CycleRow.cycle).where(CycleRow.cycle.in_(cycles), CycleRow.closed.is_(True))
        ).scalars()
    )  # type: ignore[attr-defined]
    known_cycles = set(
        session.execute(select(CycleRow.cycle).where(CycleRow.cycle.in_(cycles))).scalars()
    )  # type: ignore[attr-defined]
    new_cycles = [c for c in cycles if c not in known_cycles]
    if new_cycles:
        session.execute(
            insert(CycleRow.__table__),
            [  # type: ignore[attr-defined]
                {
                    "cycle": c,
                    "kind": kind_of(c),
                    "closed": False,
                    "closes_on": cycle_bounds(kind_of(c), c, dictionary.plan_year_start_month)[1]
                    + timedelta(days=dictionary.grace_days.get(kind_of(c), 0)),
                }
                for c in new_cycles
            ],
        )
    inserts, updates = [], []
    out: dict[Key, tuple[Agg, bool, int]] = {}
    for key, d in deltas.items():
        closed = key[1] in closed_cycles
        if key in existing:
            agg, rev = existing[key]
            agg = agg + d
            rev = rev + 1 if closed else rev
            updates.append(
                {
                    "b_kpi": key[0],
                    "b_cycle": key[1],
                    "b_breakdown": key[2],
                    "num": agg.num,
                    "den": agg.den,
                    "days": agg.days,
                    "over_year": agg.over_year,
                    "revision": rev,
                }
            )
        else:
            agg, rev = d, (1 if closed else 0)
            inserts.append(
                {
                    "kpi": key[0],
                    "cycle": key[1],
                    "breakdown": key[2],
                    "num": agg.num,
                    "den": agg.den,
                    "days": agg.days,
                    "over_year": agg.over_year,
                    "revision": rev,
                }
            )
        out[key] = (agg, closed, rev)
    if inserts:
        session.execute(insert(_AGGS), inserts)
    if updates:
        session.execute(
            update(_AGGS)
            .where(
                (_AGGS.c.kpi == bindparam("b_kpi"))
                & (_AGGS.c.cycle == bindparam("b_cycle"))
                & (_AGGS.c.breakdown == bindparam("b_breakdown"))
            )
            .values(
                num=bindparam("num"),
                den=bindparam("den"),
                days=bindparam("days"),
                over_year=bindparam("over_year"),
                revision=bindparam("revision"),
            ),
            updates,
        )
    return out


def _close_cycles(
    session: Session, dictionary: KpiDictionary, watermark: datetime | None, before: datetime | None
) -> dict[Key, tuple[Agg, bool, int]]:
    """Close every cycle whose end + grace the clock has passed; their values become
    revision 1 (final unless a late event restates them)."""
    if watermark is None or (before is not None and watermark <= before):
        return {}
    today = local_date(watermark)
    due = list(
        session.execute(
            select(CycleRow.cycle).where(  # type: ignore[call-overload]
                CycleRow.closed.is_(False), CycleRow.closes_on < today
            )
        ).scalars()
    )  # type: ignore[attr-defined]
    if not due:
        return {}
    session.execute(
        update(CycleRow.__table__)
        .where(  # type: ignore[attr-defined]
            CycleRow.cycle.in_(due)
        )
        .values(closed=True)
    )  # type: ignore[attr-defined]
    out: dict[Key, tuple[Agg, bool, int]] = {}
    rows = session.execute(select(_AGGS).where(_AGGS.c.cycle.in_(due))).all()
    session.execute(
        update(_AGGS).where(_AGGS.c.cycle.in_(due), _AGGS.c.revision == 0).values(revision=1)
    )
    for r in rows:
        out[(r.kpi, r.cycle, r.breakdown)] = (
            Agg(r.num, r.den, r.days, r.over_year),
            True,
            max(1, r.revision),
        )
    return out


# --- outbox relay and reads ----------------------------------------------------------


def pending_outbox(engine: Engine, limit: int = 5000) -> list[OutboxRow]:
    with Session(engine) as session:
        return list(
            session.execute(select(OutboxRow).order_by(OutboxRow.id).limit(limit)).scalars()
        )  # type: ignore[arg-type]


def mark_published(engine: Engine, ids: list[int]) -> None:
    with Session(engine) as session:
        session.execute(
            delete(OutboxRow.__table__).where(  # type: ignore[attr-defined]
                OutboxRow.id.in_(ids)
            )
        )  # type: ignore[union-attr]
        session.commit()


@dataclass(frozen=True)
class CaseloadView:
    open_caseload: int
    cases: int
    events_applied: int
    sequence: int
    as_of: datetime | None
    watermark: datetime | None


def read_caseload(engine: Engine) -> CaseloadView:
    with Session(engine) as session:
        open_count = session.execute(
            select(func.count()).select_from(_CASES).where(_open_filter())
        ).scalar_one()
        total = session.execute(select(func.count()).select_from(_CASES)).scalar_one()
        state = session.get(TimelinessState, _STATE_KEY)
        return CaseloadView(
            open_caseload=open_count,
            cases=total,
            events_applied=state.events_applied if state else 0,
            sequence=state.sequence if state else 0,
            as_of=state.as_of if state else None,
            watermark=state.watermark if state else None,
        )


def applied_ids(engine: Engine, ids: list[str]) -> list[str]:
    with Session(engine) as session:
        found: list[str] = []
        for n in range(0, len(ids), 900):
            found += (
                session.execute(
                    select(TimelinessInbox.event_id).where(  # type: ignore[call-overload]
                        TimelinessInbox.event_id.in_(ids[n : n + 900])
                    )
                )
                .scalars()
                .all()
            )  # type: ignore[attr-defined]
        return found


def read_aggregates(
    engine: Engine, kpi: str | None = None, cycle: str | None = None, breakdown: str | None = None
) -> list[KpiAgg]:
    with Session(engine) as session:
        stmt = select(KpiAgg)
        if kpi:
            stmt = stmt.where(KpiAgg.kpi == kpi)
        if cycle:
            stmt = stmt.where(KpiAgg.cycle == cycle)
        if breakdown:
            stmt = stmt.where(KpiAgg.breakdown == breakdown)
        return list(session.execute(stmt).scalars())


def all_case_states(engine: Engine, where: Any = None) -> list[CaseState]:
    with Session(engine) as session:
        stmt = select(_CASES.c.state)
        if where is not None:
            stmt = stmt.where(where)
        return [CaseState.model_validate_json(r.state) for r in session.execute(stmt)]


def open_case_states(engine: Engine) -> list[CaseState]:
    return all_case_states(engine, _open_filter())


CASES_TABLE = _CASES
