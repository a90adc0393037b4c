"""The census horizon (``census_from`` in the dictionary): census KPIs are counted at the
close of cycles ending on or after it, none before, so a county whose history starts
years back (plans and waits open since 2019) does not close and restate every week since
then.  History older than the horizon still counts in every census from the horizon on,
and a late event restates only the closed cycles from the horizon."""

from __future__ import annotations

from datetime import date
from typing import Any

from services.timeliness import views
from services.timeliness.domain.engine import Engine
from services.timeliness.service_layer import handlers
from services.timeliness.service_layer.messages import Topics
from services.timeliness.service_layer.unit_of_work import FakeUnitOfWork
from tests import engine_fixture as fx

HORIZON = date(2026, 4, 1)
OLD = date(2024, 1, 8)  # referrals waiting since long before the horizon


def _config(horizon: date | None) -> handlers.Config:
    reg = fx.registry()
    d = fx.dictionary().model_copy(update={"census_from": horizon})
    return handlers.Config(Engine(d, fx.rules(), reg), reg, Topics("snapshots", "ms"))


def _referral(n: int, day: date) -> dict[str, Any]:
    return fx.event(
        "fixture.referral.received", f"ref-{n:06d}", day, locality="ludlow", service="slt"
    )


def _contact(n: int, day: date) -> dict[str, Any]:
    return fx.event(
        "fixture.referral.contact",
        f"ref-{n:06d}",
        day,
        attendance="attended",
        mechanism="video",
    )


def _run(cfg: handlers.Config, *batches: list[dict[str, Any]]) -> FakeUnitOfWork:
    uow = FakeUnitOfWork()
    for raws in batches:
        handlers.apply_batch(uow, [i for r in raws for i in fx.incoming(cfg.registry, r)], cfg)
    return uow


def _months(uow: FakeUnitOfWork, cfg: handlers.Config) -> dict[str, int | None]:
    return {
        v.cycle: v.denominator
        for v in views.kpi_values(uow, cfg.engine.dictionary, "fixture_slt_waiting")
        if v.cycle_kind == "month" and v.breakdown == "all"
    }


def test_no_census_before_the_horizon_and_old_history_still_counts_after_it() -> None:
    batches = (
        [_referral(1, OLD), _referral(2, date(2025, 6, 2))],
        [fx.tick(date(2026, 6, 15))],  # closes every month to May 2026
    )
    without = _months(_run(_config(None), *batches), _config(None))
    cfg = _config(HORIZON)
    uow = _run(cfg, *batches)
    months = _months(uow, cfg)
    # without a horizon every month since January 2024 has its census
    assert "2024-01" in without and "2026-03" in without
    assert without["2026-04"] == without["2026-05"] == 2
    # with it, only the months ending on or after 1 April 2026, with the same counts
    assert sorted(months) == ["2026-04", "2026-05"]
    assert months == {c: without[c] for c in months}
    # a late event on the 2024 referral restates only cycles from the horizon
    handlers.apply_batch(uow, fx.incoming(cfg.registry, _contact(1, date(2026, 5, 20))), cfg)
    after = _months(uow, cfg)
    assert sorted(after) == ["2026-04", "2026-05"]
    assert (after["2026-04"], after["2026-05"]) == (2, 1)


def test_the_horizon_is_part_of_the_definitions_fingerprint() -> None:
    assert _config(None).engine.fingerprint != _config(HORIZON).engine.fingerprint
    assert _config(HORIZON).engine.fingerprint == _config(HORIZON).engine.fingerprint


def test_a_new_span_after_a_long_one_restates_only_the_days_either_was_in_force() -> None:
    """A person placed since 2019 moves today: the old placement closes today and a new
    one starts today, so no census day before today changes (not every week since 2019).
    A changed attribute changes every day the span was in force."""
    from services.timeliness.domain.fold import SpanChange
    from services.timeliness.domain.measures.base import Span
    from services.timeliness.service_layer.census import _affected

    today = date(2026, 10, 12)
    old = Span("counted_placement", "p-1", 1, date(2019, 3, 4), None, attrs={"phase": "primary"})
    moved = SpanChange(
        "p-1",
        {("counted_placement", 1): old},
        {
            ("counted_placement", 1): Span(
                "counted_placement", "p-1", 1, old.start, today, attrs=dict(old.attrs)
            ),
            ("counted_placement", 2): Span(
                "counted_placement", "p-1", 2, today, None, attrs={"phase": "secondary"}
            ),
        },
    )
    assert min(first for first, _ in _affected(moved, "counted_placement")) == today
    assert _affected(moved, "ehcp_active") == []
    relabelled = SpanChange(
        "p-1",
        {("counted_placement", 1): old},
        {("counted_placement", 1): Span("counted_placement", "p-1", 1, old.start, None)},
    )
    assert (old.start, None) in _affected(relabelled, "counted_placement")
