"""Census measures in the service layer: computed from the spans in force at a census
date, when a cycle closes, again (revision + 1) when a late event changes a span that
covered a closed cycle's census date, and for the current position when the spans or
the day change.  The outlook of completed-within KPIs is kept here too (it reads the
same open spans)."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from datetime import date, timedelta

from contracts.cycles import bounds, closed_on, following, kind_of, label_for, quarter_label
from contracts.kpi_dictionary import CompletedWithin
from services.timeliness.adapters.repository import Cell, Cycle, Repository
from services.timeliness.domain.engine import Engine
from services.timeliness.domain.fold import SpanChange
from services.timeliness.domain.measures.base import Key, Span, Vector
from services.timeliness.domain.values import OUTLOOK, Written, goal_for, quarter_number

CURRENT = "current"


def census_kinds(engine: Engine) -> set[str]:
    d = engine.dictionary
    return {c for kpi in engine.census_kpis for c in d.kpis[kpi].cycles if c != CURRENT}


def new_cycle(engine: Engine, label: str) -> Cycle:
    d = engine.dictionary
    last = closed_on(label, d.grace_days, d.plan_year_start_month) - timedelta(days=1)
    return Cycle(label, kind_of(label), last, False)


def ensure_cycles(repo: Repository, engine: Engine, first: date, today: date) -> None:
    """Cycle rows for every census cycle from ``first`` (not before the dictionary's
    ``census_from``) to ``today``."""
    start = engine.dictionary.plan_year_start_month
    first = max(first, engine.dictionary.census_from or first)
    labels: list[str] = []
    for kind in sorted(census_kinds(engine)):
        try:
            label = label_for(kind, first, start)
        except ValueError:
            continue  # e.g. before the term calendar begins
        while bounds(label, start)[0] <= today:
            labels.append(label)
            try:
                label = following(label, start)
            except ValueError:
                break
    known = repo.cycles(labels)
    repo.add_cycles([new_cycle(engine, c) for c in labels if c not in known])


def _spans(
    repo: Repository, engine: Engine, kpi: str, day: date | None, cache: dict[object, object]
) -> dict[str, list[Span]]:
    out: dict[str, list[Span]] = {}
    for key in engine.census_keys(kpi):
        found = cache.get((key, day))
        if found is None:
            found = cache[(key, day)] = repo.spans([key], day)[key]
        assert isinstance(found, list)
        out[key] = found
    return out


def write(
    repo: Repository, cells: Mapping[Key, Vector], *, closed: bool, restate: bool
) -> dict[Key, Written]:
    """Store census cells that differ from what is stored (breakdowns no longer present
    are written as zeros); a closed cycle's cell starts at revision 1 and, when
    ``restate``, goes up by one each time it changes."""
    wanted = dict(cells)
    for cycle, kpi in {(k[1], k[0]) for k in cells}:
        for key, cell in repo.cells_where(kpi, cycle).items():
            if key not in wanted:
                wanted[key] = [0] * len(cell.counts)
    stored = repo.cells(wanted)
    out: dict[Key, Written] = {}
    put: dict[Key, Cell] = {}
    for key, counts in wanted.items():
        old = stored.get(key)
        if old is not None and old.counts == counts:
            continue
        if old is None:
            revision = 1 if closed else 0
        else:
            revision = old.revision + 1 if closed and restate and old.revision > 0 else old.revision
            revision = max(revision, 1) if closed else revision
        put[key] = Cell(counts, revision)
        out[key] = Written(counts, closed, revision)
    repo.put_cells(put, {k for k in put if k not in stored})
    return out


def at_close(repo: Repository, engine: Engine, cycles: Iterable[str]) -> dict[Key, Written]:
    """Census cells of cycles that have just closed (their census day is their last)."""
    out: dict[Key, Written] = {}
    cache: dict[object, object] = {}
    start = engine.dictionary.plan_year_start_month
    horizon = engine.dictionary.census_from or date.min
    for cycle in cycles:
        day = bounds(cycle, start)[1]
        if day < horizon:
            continue  # before the census horizon: no census is kept
        for kpi in engine.census_kpis:
            if kind_of(cycle) in engine.dictionary.kpis[kpi].cycles:
                cells = engine.census(kpi, cycle, day, _spans(repo, engine, kpi, day, cache))
                out.update(write(repo, cells, closed=True, restate=True))
    return out


def _affected(change: SpanChange, key: str) -> list[tuple[date, date | None]]:
    """Census days at which this change alters what a span of ``key`` contributes.  A
    closed cycle's census counts the spans in force at its day (started on or before it,
    not closed by then), so a span's change matters only on the days either version of
    it was in force: a new placement or referral starting today restates no closed
    cycle, however long the subject's earlier spans ran."""
    before = {seq: s for (k, seq), s in change.before.items() if k == key}
    after = {seq: s for (k, seq), s in change.after.items() if k == key}
    out: list[tuple[date, date | None]] = []
    for seq in sorted(before.keys() | after.keys()):
        b, a = before.get(seq), after.get(seq)
        if b == a:
            continue
        if (
            b is not None
            and a is not None
            and (
                b.start,
                b.nullified,
                b.value,
                b.pauses,
                b.excluded,
                b.attrs,
            )
            == (a.start, a.nullified, a.value, a.pauses, a.excluded, a.attrs)
        ):
            ends = sorted((b.close, a.close), key=lambda d: d or date.max)
            out.append((ends[0] or date.max, ends[1]))  # only the close moved
            continue
        out += [(s.start, s.close) for s in (b, a) if s is not None]
    return out


def restate(repo: Repository, engine: Engine, changes: list[SpanChange]) -> dict[Key, Written]:
    """Recompute closed census cycles whose census day a changed span covered."""
    if not changes or not engine.census_kpis:
        return {}
    start = engine.dictionary.plan_year_start_month
    horizon = engine.dictionary.census_from or date.min
    closed = sorted(
        (day, c)
        for c in repo.closed_cycles(census_kinds(engine))
        if (day := bounds(c, start)[1]) >= horizon
    )
    if not closed:
        return {}
    days = [d for d, _ in closed]
    todo: set[tuple[str, str]] = set()
    for kpi in engine.census_kpis:
        kinds = engine.dictionary.kpis[kpi].cycles
        for key in engine.census_keys(kpi):
            for change in changes:
                for first, last in _affected(change, key):
                    i = bisect.bisect_left(days, first)
                    j = len(days) if last is None else bisect.bisect_left(days, last)
                    todo |= {(kpi, c) for _, c in closed[i:j] if kind_of(c) in kinds}
    out: dict[Key, Written] = {}
    cache: dict[object, object] = {}
    for kpi, cycle in sorted(todo):
        day = bounds(cycle, start)[1]
        cells = engine.census(kpi, cycle, day, _spans(repo, engine, kpi, day, cache))
        out.update(write(repo, cells, closed=True, restate=True))
    return out


def current(
    repo: Repository, engine: Engine, today: date, since: date | None = None
) -> dict[Key, Written]:
    """The current position of every census KPI, and every outlook, where it changed.

    ``since``: the day the position was last published for (None: not known).  A
    current value is judged against the goal of its day, so when the day has moved the
    values whose goal moved are published again, unchanged counts included: what is
    served then does not depend on which days the stream happened to stop at."""
    out: dict[Key, Written] = {}
    cache: dict[object, object] = {}
    d = engine.dictionary
    for kpi in engine.census_kpis:
        if CURRENT in d.kpis[kpi].cycles:
            cells = engine.census(kpi, CURRENT, today, _spans(repo, engine, kpi, None, cache))
            out.update(write(repo, cells, closed=False, restate=False))
            k = d.kpis[kpi]
            if since != today and (
                since is None or goal_for(k, CURRENT, d, since) != goal_for(k, CURRENT, d, today)
            ):
                for key, cell in repo.cells_where(kpi, CURRENT).items():
                    if key not in out and cell.counts:
                        out[key] = Written(cell.counts, False, cell.revision)
    quarter = quarter_label(today, d.plan_year_start_month)
    for kpi, k in d.kpis.items():
        if not isinstance(k, CompletedWithin) or k.outlook != "quarter":
            continue
        so_far = repo.cells([(kpi, quarter, "all")]).get((kpi, quarter, "all"))
        issued, on_time = (so_far.counts[0], so_far.counts[1]) if so_far else (0, 0)
        open_cases = late = 0
        limit = k.thresholds[0].days
        for span in _spans(repo, engine, kpi, None, cache)[k.clock]:
            if span.nullified or kpi in span.excluded:
                continue
            open_cases += 1
            late += int(span.wait(today) > limit)
        key = (kpi, CURRENT, OUTLOOK)
        # the quarter is part of the cell: a new quarter is a new outlook
        cells = {key: [issued, on_time, open_cases, late, quarter_number(quarter)]}
        out.update(write(repo, cells, closed=False, restate=False))
    return out


def feeds_outlook(engine: Engine, written: Mapping[Key, Written]) -> bool:
    """Whether cells just written change an outlook (a completion this quarter)."""
    kpis = {
        kpi
        for kpi, k in engine.dictionary.kpis.items()
        if isinstance(k, CompletedWithin) and k.outlook
    }
    return any(key[0] in kpis and kind_of(key[1]) == "quarter" for key in written)
