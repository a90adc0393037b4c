"""What is served does not depend on how the stream was cut into batches.

The consumer reads several lanes (topic partitions): the same events and ticks can reach
the timeliness handlers in other batches and interleavings, after a restart or simply
because one partition was fetched before another.  Once everything is applied, every
value reporting keeps (the newest revision of each kpi, cycle and breakdown, chosen by
reporting's own rule) must be the same: its counts, whether its cycle is closed, and its
target, goal and RAG.  (How many revisions a value went through may differ.)
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from contracts.snapshots import KpiSnapshot, KpiValue
from services.reporting.domain.revisions import Key, Stored, key_of, new_revisions, stored_of
from services.timeliness import views
from services.timeliness.service_layer import handlers
from services.timeliness.service_layer.unit_of_work import FakeUnitOfWork
from tests import engine_fixture as fx
from tests.helpers import ADVICE_RECEIVED, ADVICE_REQUESTED, BASE_TIME, REQUEST, case_event
from tests.unit.test_timeliness_property import CFG

Served = dict[Key, dict[str, Any]]
PATH = ("revision",)  # how many times a value was revised on its way: the path, not the value


class Reporting:
    """Reporting's choice of what to keep, applied to the snapshots in the outbox."""

    def __init__(self) -> None:
        self.stored: dict[Key, Stored] = {}
        self.values: dict[Key, KpiValue] = {}

    def take(self, uow: FakeUnitOfWork) -> None:
        for m in uow.take_outbox():
            if m.topic != CFG.topics.snapshots:
                continue
            snap = KpiSnapshot.model_validate_json(m.payload)
            for v in new_revisions(self.stored, snap):
                self.stored[key_of(v)] = stored_of(v, snap.data.sequence)
                self.values[key_of(v)] = v

    def served(self) -> Served:
        return {
            k: {f: x for f, x in v.model_dump(mode="json").items() if f not in PATH}
            for k, v in self.values.items()
        }


def _run(batches: list[list[dict[str, Any]]], cfg: handlers.Config = CFG) -> tuple[Served, Any]:
    uow = FakeUnitOfWork()
    rep = Reporting()
    for batch in batches:
        items = [i for raw in batch for i in fx.incoming(cfg.registry, raw)]
        handlers.apply_batch(uow, items, cfg)
        rep.take(uow)
    handlers.refresh_census(uow, cfg)
    rep.take(uow)
    return rep.served(), uow


def _case(n: int, giver: str = "health", day: int = 0) -> list[dict[str, Any]]:
    """A request, its advice asked for the next day and returned 19 days later."""
    advice = {"advice_giver": giver}
    return [
        case_event(100 * n + 1, REQUEST, case=n, day=day),
        case_event(100 * n + 2, ADVICE_REQUESTED, case=n, day=day + 1, data=advice),
        case_event(100 * n + 3, ADVICE_RECEIVED, case=n, day=day + 20, data=advice),
    ]


def _day(n: int) -> date:
    return (BASE_TIME + timedelta(days=n)).date()


def _differences(a: Served, b: Served) -> list[tuple[Key, dict[str, Any]]]:
    out = []
    for key in sorted(set(a) | set(b)):
        x, y = a.get(key), b.get(key)
        if x != y:
            fields = {
                f: ((x or {}).get(f), (y or {}).get(f))
                for f in set(x or {}) | set(y or {})
                if (x or {}).get(f) != (y or {}).get(f)
            }
            out.append((key, fields))
    return out


def test_a_cycle_first_written_after_the_clock_passed_its_close_is_closed() -> None:
    """The events of a week reach the service after a tick (on another lane, or a
    historical import) that is already past the week's close: the week is closed at
    once, exactly as when the events came first; it does not wait for a tick that moves
    the clock again, which at the end of a stream never comes.  (History from before
    the census horizon: no census has opened its weeks and months already.)"""
    events, tick = _case(1, day=-120), fx.tick(_day(60))
    # an older case is known already, so the late events move nothing else
    known = case_event(9, REQUEST, case=9, day=-200)
    first, uow_first = _run([[known, *events], [tick]])
    late, uow_late = _run([[known, tick], events])
    closed_first = {
        (v.kpi, v.cycle, v.breakdown): v.closed
        for v in views.kpi_values(uow_first, CFG.engine.dictionary)
    }
    closed_late = {
        (v.kpi, v.cycle, v.breakdown): v.closed
        for v in views.kpi_values(uow_late, CFG.engine.dictionary)
    }
    # the week of the advice closed 3 days after it ended
    weeks = {k for k, closed in closed_first.items() if closed and k[1].count("-W") == 1}
    assert weeks, "the case completes advice in a week the tick has closed"
    assert closed_late == closed_first
    assert {k: v["closed"] for k, v in late.items()} == {k: v["closed"] for k, v in first.items()}


def test_the_current_goal_follows_the_day_even_when_the_counts_do_not_move() -> None:
    """A current-position value is judged against the goal of the data's day (an
    interpolated goal moves day by day, a trajectory target steps at its cycle): when
    the day moves on, the value is published again with its new goal even though its
    counts are unchanged, and reporting keeps it."""
    events = _case(1)
    # the position first computed on the events' own day (no tick yet), then the day
    # moves on with nothing else changing
    stepwise, _ = _run([events, [fx.tick(_day(90))]])
    at_once, _ = _run([[*events, fx.tick(_day(90))]])
    assert _differences(stepwise, at_once) == []


def test_served_values_do_not_depend_on_the_batching() -> None:
    """Cases on several days, ticks every day: one batch per message, one per day, all
    at once, and the ticks ahead of the events give the same served values."""
    cases = [
        _case(n, giver, day)
        for n, (giver, day) in enumerate([("health", -30), ("education", 0), ("ep", 5)], 1)
    ]
    events = sorted((e for c in cases for e in c), key=lambda e: (str(e["time"]), str(e["id"])))
    ticks = [fx.tick(_day(d)) for d in range(-10, 45, 3)]
    stream = sorted([*events, *ticks], key=lambda e: (str(e["time"]), str(e["id"])))
    one_by_one, _ = _run([[m] for m in stream])
    at_once, _ = _run([stream])
    # the first day's events, then every tick, then the rest (arriving late)
    early = [e for e in events if e["time"] == events[0]["time"]]
    ticks_first, _ = _run([early + ticks, [e for e in events if e not in early]])
    assert one_by_one  # not vacuous
    assert _differences(one_by_one, at_once) == []
    assert _differences(one_by_one, ticks_first) == []
