"""The timeliness service's handlers: one plain function per message.

* :func:`apply_batch` - a consumed batch of events and clock ticks (the consumer's
  unit of work): inbox -> load -> fold -> save -> close cycles -> census -> outbox;
* :func:`close_cycles` - the cycles the clock has moved past (called by the batch);
* :func:`replay` - an explicit, audited recomputation of the cells from the stored
  subjects (after a change to what a KPI counts);
* :func:`reconcile` - at start-up: accept a configuration that changes no stored value,
  rebuild after an upgrade, or hold consumption until someone replays.

Each takes a unit of work and the service's :class:`Config`, and commits once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from contracts.cycles import bounds, kind_of, local_date
from contracts.envelope import Envelope
from contracts.events import EventRegistry
from contracts.snapshots import KpiValue
from contracts.timeline import ClockTick
from services.timeliness.adapters.repository import Audit, Cell, Repository, ServiceState
from services.timeliness.adapters.repository import StoredSubject as Stored
from services.timeliness.domain.engine import Engine
from services.timeliness.domain.fold import (
    Event,
    Folded,
    Message,
    Tick,
    Working,
    delta,
    fold_batch,
)
from services.timeliness.domain.measures.base import Base, Key
from services.timeliness.domain.values import Written, render
from services.timeliness.service_layer import census
from services.timeliness.service_layer.census import new_cycle
from services.timeliness.service_layer.messages import Topics, alert_message, snapshot_messages
from services.timeliness.service_layer.unit_of_work import AbstractUnitOfWork


class ReplayRequired(RuntimeError):
    """The measure definitions changed what stored values would be: consumption waits
    for an explicit replay (``POST /v1/replay``) or the old configuration."""


@dataclass(frozen=True)
class Incoming:
    """A consumed message, with the topic (alias) and partition it came from."""

    message: Envelope  # type: ignore[type-arg]
    topic: str
    partition: int

    @property
    def id(self) -> str:
        return self.message.id

    @property
    def key(self) -> tuple[str, str]:
        """What the inbox keys on: (source, id); sources do not share an id space."""
        return (self.message.source, self.message.id)


@dataclass
class Config:
    engine: Engine
    registry: EventRegistry
    topics: Topics
    log: list[str] = field(default_factory=list)
    # The current census position reads every open span: while events stream it is
    # recomputed at most every ``census_every_s`` seconds (0: every batch), and
    # :func:`refresh_census` catches up once the stream pauses.
    census_every_s: float = 0.0
    # ... and at most this share of the time: a census that took 0.5 s waits 4.5 s
    # more at 0.1 (it reads every open span, so it grows with the caseload; 0: no cap).
    census_budget: float = 0.0
    clock: Callable[[], float] = time.monotonic
    census_at: float | None = None  # when the current position was last computed
    census_took: float = 0.0  # how long that took
    census_pending: bool = False  # a batch skipped it
    inbox: bool = True  # False only to measure what exactly-once costs (bench)

    def census_due(self) -> bool:
        if self.census_every_s <= 0 or self.census_at is None:
            return True
        wait = self.census_every_s
        if 0 < self.census_budget < 1:
            wait = max(wait, self.census_took * (1 / self.census_budget - 1))
        return self.clock() - self.census_at >= wait

    def census_current(
        self, repo: Repository, today: date, since: date | None
    ) -> dict[Key, Written]:
        """The current census position (see :func:`census.current`), timed."""
        started = self.clock()
        out = census.current(repo, self.engine, today, since)
        self.census_at = self.clock()
        self.census_took = self.census_at - started
        self.census_pending = False
        return out


# --- a consumed batch ------------------------------------------------------------------


def _messages(items: Sequence[Incoming], registry: EventRegistry) -> list[Message]:
    out: list[Message] = []
    for i in items:
        lane = (i.topic, i.partition)
        if isinstance(i.message, ClockTick):
            out.append(Tick(i.message.time, lane))
        else:
            out.append(Event(registry.observe(i.message), lane))
    return out


def _working(stored: Stored) -> Working:
    lane = (stored.topic, stored.partition)
    return Working(
        stored.state,
        lane,
        set(stored.raised),
        stored.state,
        stored.raised,
        stored.running,
        stored.next_due,
        stored.next_due,
    )


def _save(repo: Repository, st: ServiceState, folded: Folded) -> None:
    new: list[Stored] = []
    changed: list[Stored] = []
    for w in folded.changed:
        running = folded.running[w.state.subject]
        row = Stored(w.state, w.lane[0], w.lane[1], frozenset(w.raised), running, w.next_due)
        (changed if w.known else new).append(row)
        st.running += int(running) - int(w.original_running)
    st.subjects += len(new)
    repo.save_subjects(new, changed)
    gone = [(k, c.subject, seq) for c in folded.spans for (k, seq) in c.before]
    spans = [s for c in folded.spans for s in c.after.values()]
    repo.replace_spans(gone, spans)
    starts = [s.start for s in spans]
    if starts and (st.census_from is None or min(starts) < st.census_from):
        st.census_from = min(starts)


def _add_deltas(
    repo: Repository, engine: Engine, deltas: dict[Key, list[int]]
) -> tuple[dict[Key, Written], bool]:
    """Add the deltas to the stored cells; a closed cycle's cell goes up a revision.
    Also returns whether a cycle was new (it starts open: the caller closes it at once
    if the clock has already passed its close, see :func:`close_cycles`)."""
    if not deltas:
        return {}, False
    cycles = repo.cycles({k[1] for k in deltas})
    fresh = [new_cycle(engine, c) for c in sorted({k[1] for k in deltas}) if c not in cycles]
    repo.add_cycles(fresh)
    closed = {c for c, row in cycles.items() if row.closed}
    stored = repo.cells(deltas)
    out: dict[Key, Written] = {}
    put: dict[Key, Cell] = {}
    for key, d in deltas.items():
        old = stored.get(key)
        is_closed = key[1] in closed
        if old is None:
            cell = Cell(list(d), 1 if is_closed else 0)
        else:
            counts = [a + b for a, b in zip(old.counts, d, strict=True)]
            cell = Cell(counts, old.revision + 1 if is_closed else old.revision)
        put[key] = cell
        out[key] = Written(cell.counts, is_closed, cell.revision)
    repo.put_cells(put, {k for k in put if k not in stored})
    return out, bool(fresh)


def apply_batch(uow: AbstractUnitOfWork, items: Sequence[Incoming], cfg: Config) -> int:
    """Apply a batch idempotently; return how many messages were new."""
    with uow:
        repo = uow.repo
        new_keys = repo.claim([i.key for i in items]) if cfg.inbox else set()
        fresh: list[Incoming] = [] if cfg.inbox else list(items)
        for i in items if cfg.inbox else ():
            if i.key in new_keys:
                fresh.append(i)
                new_keys.discard(i.key)  # the first occurrence wins
        if not fresh:
            uow.commit()
            return 0
        st = repo.state()
        if st.fingerprint != cfg.engine.fingerprint:
            if st.fingerprint is not None or st.subjects:
                raise ReplayRequired("the measure definitions changed: reconcile first")
            st.fingerprint = cfg.engine.fingerprint
        messages = _messages(fresh, cfg.registry)
        working = {
            sid: _working(s)
            for sid, s in repo.subjects(
                {m.obs.subject for m in messages if isinstance(m, Event)}
            ).items()
        }
        ticks = [m for m in messages if isinstance(m, Tick)]
        if ticks:
            # Only the subjects whose next alert day has come (an index, not a scan).
            last = local_date(max(t.time for t in ticks))
            for sid, s in repo.due_in({t.lane for t in ticks}, last).items():
                working.setdefault(sid, _working(s))
        folded = fold_batch(cfg.engine, working, messages, st.as_of, st.watermark)
        earliest = st.census_from
        _save(repo, st, folded)
        written, new_cycles = _add_deltas(repo, cfg.engine, folded.deltas)
        written.update(census.restate(repo, cfg.engine, folded.spans))
        moved = st.watermark is None or (
            folded.watermark is not None and folded.watermark > st.watermark
        )
        moved |= st.census_from != earliest
        # A late event (or one on a lane whose tick is still to come) can open a cycle
        # the watermark has already passed: it is closed now, not at the next tick that
        # moves the watermark (which may never come), so whether a cycle is closed
        # depends on the event time the stream has reached, not on how it was batched.
        moved |= new_cycles
        if moved:
            written.update(close_cycles(repo, cfg.engine, st, folded.watermark))
        today = local_date(folded.watermark or folded.as_of) if folded.as_of else None
        if today is not None and (
            folded.spans or today != st.census_day or census.feeds_outlook(cfg.engine, written)
        ):
            if cfg.census_due():
                written.update(cfg.census_current(repo, today, st.census_day))
                st.census_day = today
            else:
                cfg.census_pending = True
        st.sequence += 1
        st.events_applied += len(fresh)
        st.as_of, st.watermark = folded.as_of, folded.watermark
        outbox = [alert_message(a, s, at, cfg.topics) for a, s, at in folded.alerts]
        values = render(cfg.engine.dictionary, written, today)
        outbox += snapshot_messages(values, st, cfg.topics)
        uow.outbox.add(outbox)
        repo.save_state(st)
        uow.commit()
        return len(fresh)


def refresh_census(uow: AbstractUnitOfWork, cfg: Config) -> int:
    """Recompute the current census position a batch skipped (see
    :attr:`Config.census_every_s`); returns how many cells changed."""
    if not cfg.census_pending:
        return 0
    with uow:
        st = uow.repo.state()
        today = local_date(st.watermark or st.as_of) if st.as_of else None
        written: dict[Key, Written] = {}
        if today is None:
            cfg.census_at, cfg.census_pending = cfg.clock(), False  # nothing to count yet
        else:
            written = cfg.census_current(uow.repo, today, st.census_day)
            st.census_day = today
        if written:
            # A new sequence with its snapshot, as a batch gives (reporting follows the
            # sequence): only when a value changed.
            st.sequence += 1
            uow.outbox.add(
                snapshot_messages(render(cfg.engine.dictionary, written, today), st, cfg.topics)
            )
        uow.repo.save_state(st)
        uow.commit()
        return len(written)


def close_cycles(
    repo: Repository, engine: Engine, st: ServiceState, watermark: datetime | None
) -> dict[Key, Written]:
    """Close every cycle whose end + grace the clock has passed: its cells become
    revision 1 (final unless a late event restates them); census KPIs are counted at
    its last day."""
    if watermark is None:
        return {}
    today = local_date(watermark)
    if st.census_from is not None and engine.census_kpis:
        census.ensure_cycles(repo, engine, st.census_from, today)
    due = repo.due_cycles(today)
    if not due:
        return {}
    out: dict[Key, Written] = {}
    for cycle in due:
        for key, cell in repo.cells_where(cycle=cycle).items():
            out[key] = Written(cell.counts, True, max(1, cell.revision))
    repo.close_cycles(due)
    out.update(census.at_close(repo, engine, due))
    return out


# --- replays and configuration changes ---------------------------------------------


@dataclass(frozen=True)
class ReplayReport:
    cells_changed: int
    closed_restated: int
    subjects: int
    restated: list[str]  # "kpi cycle breakdown" of restated closed cells (first 50)


def _recompute(
    uow: AbstractUnitOfWork, cfg: Config, st: ServiceState, from_day: date | None, bump: bool
) -> tuple[ReplayReport, dict[Key, Written]]:
    """Recompute every cell from the stored subjects (spans and running flags too)."""
    repo, engine = uow.repo, cfg.engine
    start = engine.dictionary.plan_year_start_month
    base: dict[Base, list[int]] = {}
    subjects = running = 0
    repo.clear_spans()
    repo.clear_due()  # the definitions may have moved a deadline: evaluate all again
    spans = []
    changed_rows = []
    for stored in repo.all_subjects():
        subjects += 1
        delta({}, engine.contributions(stored.state), base)
        spans += list(engine.spans(stored.state).values())
        is_running = engine.running(stored.state)
        running += int(is_running)
        if is_running != stored.running:
            stored.running = is_running
            changed_rows.append(stored)
    totals = engine.spread(base)
    repo.replace_spans([], spans)
    repo.save_subjects([], changed_rows)
    st.subjects, st.running = subjects, running
    st.census_from = min((s.start for s in spans), default=None)

    def in_scope(cycle: str) -> bool:
        return from_day is None or cycle == "current" or bounds(cycle, start)[1] >= from_day

    flow = {kpi for kpi, k in engine.dictionary.kpis.items() if not k.census}
    stored_cells = {k: c for k, c in repo.cells_where().items() if k[0] in flow}
    closed = {
        c for c, row in repo.cycles({k[1] for k in [*stored_cells, *totals]}).items() if row.closed
    }
    put: dict[Key, Cell] = {}
    written: dict[Key, Written] = {}
    restated: list[str] = []
    for key in sorted(set(stored_cells) | set(totals)):
        if key[1] == "current" or not in_scope(key[1]):
            continue  # the current position (outlooks) is recomputed below
        old = stored_cells.get(key)
        counts = totals.get(key) or [0] * len(old.counts if old else [])
        if old is not None and old.counts == counts:
            continue
        is_closed = key[1] in closed
        revision = (old.revision if old else 0) + int(bump and is_closed and old is not None)
        revision = max(revision, 1) if is_closed else revision
        put[key] = Cell(counts, revision)
        written[key] = Written(counts, is_closed, revision)
        if is_closed and old is not None and old.counts != [] and bump:
            restated.append(" ".join(key))
    fresh_cycles = sorted({k[1] for k in put} - set(repo.cycles({k[1] for k in put})))
    repo.add_cycles([census.new_cycle(engine, c) for c in fresh_cycles if kind_of(c) != "current"])
    repo.put_cells(put, {k for k in put if k not in stored_cells})
    if fresh_cycles:  # cycles the clock has already passed close now, as in a batch
        written.update(close_cycles(repo, engine, st, st.watermark))
    closed_census = [c for c in repo.closed_cycles(census.census_kinds(engine)) if in_scope(c)]
    for key, w in census.at_close(repo, engine, closed_census).items():
        written[key] = w
        if bump and w.revision > 1:
            restated.append(" ".join(key))
    report = ReplayReport(len(written), len(restated), subjects, restated[:50])
    return report, written


def replay(
    uow: AbstractUnitOfWork, cfg: Config, *, reason: str, from_day: date | None = None
) -> ReplayReport:
    """Recompute the cells of every cycle ending on or after ``from_day`` (all when None)
    from the stored subjects under the current definitions.  Every closed cell that
    changes goes up a revision; the replay is recorded with its reason."""
    if not reason.strip():
        raise ValueError("a replay needs a reason")
    with uow:
        st = uow.repo.state()
        report, written = _recompute(uow, cfg, st, from_day, bump=True)
        _finish(uow, cfg, st, written, "replay", reason, from_day, report)
        return report


def reconcile(uow: AbstractUnitOfWork, cfg: Config) -> str:
    """At start-up: record the definitions of a new database; rebuild the cells after an
    upgrade (nothing restated); accept changed definitions that change no stored value.
    Raises :class:`ReplayRequired` when they would change stored values."""
    with uow:
        st = uow.repo.state()
        outcome = _check_configuration(uow, cfg, st)
        uow.repo.save_state(st)
        uow.commit()
        return outcome


def _check_configuration(uow: AbstractUnitOfWork, cfg: Config, st: ServiceState) -> str:
    fingerprint = cfg.engine.fingerprint
    if st.fingerprint == fingerprint:
        return "unchanged"
    if st.fingerprint is None and not st.subjects:
        st.fingerprint = fingerprint
        return "new"
    report, written = _recompute(uow, cfg, st, None, bump=False)
    if st.fingerprint is None:  # cells carried over from an earlier release
        _finish(uow, cfg, st, written, "rebuild", "upgrade to the measure engine", None, report)
        return "rebuilt"
    if written:
        uow.rollback()
        raise ReplayRequired(
            f"the KPI or clock definitions changed {report.cells_changed} stored value(s); "
            "replay (POST /v1/replay with a reason) or restore the previous configuration"
        )
    _finish(
        uow, cfg, st, written, "accepted", "definitions changed; no value changes", None, report
    )
    return "accepted"


def _finish(
    uow: AbstractUnitOfWork,
    cfg: Config,
    st: ServiceState,
    written: dict[Key, Written],
    action: str,
    reason: str,
    from_day: date | None,
    report: ReplayReport,
) -> None:
    today = local_date(st.watermark or st.as_of) if st.as_of else None
    if today is not None:
        written.update(census.current(uow.repo, cfg.engine, today, st.census_day))
        st.census_day = today
    st.fingerprint = cfg.engine.fingerprint
    detail: dict[str, Any] = {
        "cells_changed": report.cells_changed,
        "closed_restated": report.closed_restated,
        "subjects": report.subjects,
        "restated": report.restated,
    }
    uow.repo.audit(Audit(datetime.now(UTC), action, reason, from_day, st.fingerprint, detail))
    st.sequence += 1
    values: list[KpiValue] = render(cfg.engine.dictionary, written, today)
    if values:
        uow.outbox.add(snapshot_messages(values, st, cfg.topics))
    uow.repo.save_state(st)
    uow.commit()
