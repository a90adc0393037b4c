"""The current census position recomputed at most every N seconds while events stream
(``Config.census_every_s``): batches that skip it leave it pending, and
:func:`handlers.refresh_census` then gives exactly what recomputing it on every batch
gives, snapshots included."""

from __future__ import annotations

import dataclasses
import random
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sendwatch.db import make_engine, migrate
from services.timeliness.adapters.outbox import pending_outbox
from services.timeliness.service_layer import handlers
from services.timeliness.service_layer.unit_of_work import SqlUnitOfWork
from tests.unit.test_timeliness_property import (
    CFG,
    current,
    deliveries,
    incoming,
    split,
    stream_into,
)


class FrozenClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def throttled(clock: FrozenClock) -> handlers.Config:
    return dataclasses.replace(CFG, census_every_s=60.0, clock=clock, census_at=None)


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(delivery=deliveries(), split_seed=st.integers(0, 2**32 - 1))
def test_a_skipped_census_caught_up_equals_one_on_every_batch(
    delivery: tuple[list[dict[str, Any]], list[dict[str, Any]]], split_seed: int
) -> None:
    stream, ticks = delivery
    rng = random.Random(split_seed)
    messages = list(stream) + list(ticks)
    rng.shuffle(messages)
    items = [incoming(raw) for raw in messages]
    batches = split(items, rng)
    with tempfile.TemporaryDirectory() as tmp:
        every, _ = stream_into(Path(tmp) / "every.db", batches)
        engine = make_engine(f"sqlite:///{Path(tmp) / 'throttled.db'}")
        migrate("timeliness", engine)
        clock = FrozenClock()
        cfg = throttled(clock)
        try:
            for batch in batches:
                handlers.apply_batch(SqlUnitOfWork(engine), batch, cfg)
            handlers.refresh_census(SqlUnitOfWork(engine), cfg)
            assert not cfg.census_pending
            got, want = current(engine), current(every)
            # Every batch writes a zero for a group that had open cases at some batch
            # and has none now; a position computed less often may never have had that
            # group, and then has no cell for it: the same figure (no case).
            zero = {k for k, v in {**got, **want}.items() if not v[1]}
            assert {k: v for k, v in got.items() if k in want or k not in zero} == {
                k: v for k, v in want.items() if k in got or k not in zero
            }
        finally:
            every.dispose()
            engine.dispose()


def test_a_batch_within_the_interval_skips_the_census_and_the_refresh_publishes_it() -> None:
    """Two batches inside the interval: the second leaves the census pending (its open
    case is not counted yet); the refresh counts it and puts the snapshot in the
    outbox; once the interval has passed a batch computes it itself."""
    base = {
        "source": "case-management",
        "type": "ehc.request.received",
        "data": {
            "person_id": "p-c0001",
            "locality": "shrewsbury",
            "age_band": "5-10",
            "phase": "primary",
            "primary_need": "ASD",
        },
    }
    first = {
        **base,
        "id": "evt-census-0001",
        "subject": "case-c0001",
        "time": "2026-05-01T09:00:00+00:00",
    }
    second = {
        **base,
        "id": "evt-census-0002",
        "subject": "case-c0002",
        "time": "2026-05-02T09:00:00+00:00",
    }
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 't.db'}")
        migrate("timeliness", engine)
        clock = FrozenClock()
        cfg = throttled(clock)
        try:
            handlers.apply_batch(SqlUnitOfWork(engine), [incoming(first)], cfg)
            after_first = current(engine)
            assert not cfg.census_pending
            clock.now += 1
            handlers.apply_batch(SqlUnitOfWork(engine), [incoming(second)], cfg)
            assert cfg.census_pending
            assert current(engine) == after_first  # not recomputed yet
            before = {r.id for r in pending_outbox(engine)}
            assert handlers.refresh_census(SqlUnitOfWork(engine), cfg) > 0
            assert not cfg.census_pending
            assert current(engine) != after_first
            new = [r for r in pending_outbox(engine) if r.id not in before]
            assert new and all(r.topic == CFG.topics.snapshots for r in new)
            # the interval passes: a batch computes the position itself
            clock.now += 61
            third = {**second, "id": "evt-census-0003", "subject": "case-c0003"}
            handlers.apply_batch(SqlUnitOfWork(engine), [incoming(third)], cfg)
            assert not cfg.census_pending
            # nothing pending: a refresh does nothing
            assert handlers.refresh_census(SqlUnitOfWork(engine), cfg) == 0
        finally:
            engine.dispose()


def test_the_census_takes_at_most_its_budget_of_the_time() -> None:
    """A census that took 3 s waits 27 s more at a budget of 0.1 (not the 2 s interval):
    while a large caseload streams in, re-reading every open span is at most a tenth of
    the work.  Without a budget the interval alone decides."""

    class Ticking(FrozenClock):
        def __call__(self) -> float:  # every reading is 3 s later: a census takes 3 s
            self.now += 3.0
            return self.now

    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 't.db'}")
        migrate("timeliness", engine)
        clock = Ticking()
        cfg = dataclasses.replace(
            CFG, census_every_s=2.0, census_budget=0.1, clock=clock, census_at=None
        )
        try:
            with SqlUnitOfWork(engine) as uow:
                cfg.census_current(uow.repo, date(2026, 5, 1), None)
            assert cfg.census_took == 3.0 and not cfg.census_pending
            done = cfg.census_at
            assert done is not None
            frozen = FrozenClock()
            cfg.clock = frozen
            frozen.now = done + 26.9
            assert not cfg.census_due()
            frozen.now = done + 27.0
            assert cfg.census_due()
            cfg.census_budget = 0.0  # no cap: the interval
            frozen.now = done + 2.0
            assert cfg.census_due()
        finally:
            engine.dispose()
