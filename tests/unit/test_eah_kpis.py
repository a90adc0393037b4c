"""Experts at Hand KPIs (K13a-c, O18, O19, O21, R16) at their boundaries, from the
real contract (``contracts/eah_events.py``) and the real dictionary, through the real
handlers over the in-memory unit of work."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from contracts.clock_rules import load_clocks
from contracts.events import load_events
from contracts.kpi_dictionary import load_kpis
from contracts.snapshots import KpiValue
from services.timeliness import views
from services.timeliness.domain.engine import Engine
from services.timeliness.service_layer import handlers
from services.timeliness.service_layer.messages import Topics
from services.timeliness.service_layer.unit_of_work import FakeUnitOfWork
from tests import engine_fixture as fx

REG = load_events()
CFG = handlers.Config(Engine(load_kpis(), load_clocks(), REG), REG, Topics("snapshots", "ms"))
D0 = date(2026, 9, 7)  # a Monday in the autumn term 2026/27-T1
_ids = itertools.count(1)


def ev(etype: str, subject: str, when: date, **data: Any) -> dict[str, Any]:
    raw = fx.event(etype, subject, when, **data)
    raw["id"], raw["source"] = f"eah-event-{next(_ids):09d}", "experts-at-hand"
    return raw


def run(*batches: list[dict[str, Any]]) -> FakeUnitOfWork:
    uow = FakeUnitOfWork()
    for raws in batches:
        items = [i for raw in raws for i in fx.incoming(REG, raw)]
        handlers.apply_batch(uow, items, CFG)
    return uow


def value(uow: FakeUnitOfWork, kpi: str, cycle: str, breakdown: str = "all") -> KpiValue:
    (v,) = views.kpi_values(uow, CFG.engine.dictionary, kpi, cycle, breakdown)
    return v


def request(n: int, day: date, service: str = "slt", locality: str = "ludlow") -> dict[str, Any]:
    return ev(
        "eah.request.received",
        f"eah-{n:08d}",
        day,
        service=service,
        requester="setting",
        phase="primary",
        locality=locality,
        setting_id="setting-00000001",
    )


def supported(
    n: int, day: date, service: str = "slt", has_ehcp: bool = False, phase: str = "primary"
) -> dict[str, Any]:
    return ev(
        "eah.cyp.supported",
        f"cyp-{n:08d}",
        day,
        service=service,
        phase=phase,
        locality="oswestry",
        has_ehcp=has_ehcp,
    )


def test_reach_counts_each_child_without_a_plan_once_a_year_per_service() -> None:
    uow = run(
        [
            supported(1, D0),
            supported(1, D0 + timedelta(days=40)),  # the same child again: once
            supported(2, D0, phase="secondary"),
            supported(3, D0, has_ehcp=True),  # has an EHC plan: not K13
            supported(4, D0, service="ot"),
            supported(5, date(2027, 3, 31)),  # last day of 2026/27
            supported(6, date(2027, 4, 1)),  # first day of 2027/28
        ]
    )
    slt = value(uow, "eah_reach_slt", "2026/27")
    assert (slt.value, slt.extra["events"]) == (3.0, 4)
    # judged against the plan's 2026/27 target, in force from the year's first day
    assert (slt.target, slt.goal, slt.goal_basis, slt.rag) == (2105.0, 2105.0, "trajectory", "red")
    assert slt.baseline == 1914.0
    assert value(uow, "eah_reach_slt", "2026/27", "phase=secondary").value == 1.0
    assert value(uow, "eah_reach_slt", "2027/28").target == 2316.0
    assert value(uow, "eah_reach_ot", "2026/27").value == 1.0
    # termly: all services, the same child counted once in a term
    autumn = value(uow, "eah_reach_term", "2026/27-T1")
    assert autumn.value == 3.0 and autumn.goal is None  # children 1, 2 and 4


def test_reach_meets_its_target_at_exactly_the_target() -> None:
    k = load_kpis().kpis["eah_reach_ot"]
    target = int(k.targets["2026/27"])
    uow = run([supported(n, D0, service="ot") for n in range(target)])
    v = value(uow, "eah_reach_ot", "2026/27")
    assert (v.value, v.rag) == (float(target), "green")
    uow = run([supported(n, D0, service="ot") for n in range(target - 1)])
    assert value(uow, "eah_reach_ot", "2026/27").rag == "amber"  # within 5 of 372


def test_triage_within_two_weeks_day_14_is_on_time_day_15_late_and_the_median() -> None:
    raws = []
    day0 = date(2026, 10, 1)
    for n, days in enumerate([1, 3, 14, 15, 30], start=1):
        raws += [
            request(n, day0),
            ev("eah.request.triaged", f"eah-{n:08d}", day0 + timedelta(days)),
        ]
    raws.append(request(9, day0))  # not triaged: no completion
    uow = run(raws)
    v = value(uow, "eah_triage_time", "2026-10")
    assert (v.numerator, v.denominator, v.value) == (3, 5, 60.0)
    assert v.extra["p50_days"] == 14 and v.extra["p90_days"] == 30
    assert v.extra["average_days"] == round((1 + 3 + 14 + 15 + 30) / 5, 1)
    assert value(uow, "eah_triage_time", "2026-10", "service=slt").denominator == 5


def test_first_contact_median_and_a_time_beyond_the_histogram() -> None:
    raws = []
    for n, days in enumerate([28, 29, 400], start=1):
        raws += [
            request(n, D0, service="ep"),
            ev(
                "eah.request.first-contact",
                f"eah-{n:08d}",
                D0 + timedelta(days),
                mode="consultation",
            ),
        ]
    uow = run(raws)
    v = value(uow, "eah_first_contact_time", "2026/27-Q3")  # contacts on 5 and 6 October
    assert (v.numerator, v.denominator, v.value) == (1, 2, 50.0)  # day 28 on time, 29 late
    assert v.extra["p50_days"] == 28
    later = value(uow, "eah_first_contact_time", "2027/28-Q3")
    assert later.denominator == 1 and later.extra["p50_days"] == 180  # capped at max


def test_closed_without_escalation_counts_resolved_and_de_escalated() -> None:
    outcomes = ["resolved", "de-escalated", "escalated-statutory", "de-escalated"]
    raws = []
    for n, outcome in enumerate(outcomes, start=1):
        raws += [request(n, D0), ev("eah.request.outcome", f"eah-{n:08d}", D0, outcome=outcome)]
    uow = run(raws)
    v = value(uow, "eah_de_escalated", "2026-09")
    assert (v.numerator, v.denominator, v.value) == (3, 4, 75.0)


def test_settings_supported_by_phase_and_locality() -> None:
    raws = [
        ev(
            "eah.setting.supported",
            "setting-00000001",
            D0,
            service="slt",
            phase="primary",
            locality="ludlow",
        ),
        ev(
            "eah.setting.supported",
            "setting-00000001",
            D0,
            service="ep",
            phase="primary",
            locality="ludlow",
        ),
        ev(
            "eah.setting.supported",
            "setting-00000002",
            D0,
            service="ot",
            phase="secondary",
            locality="wem",
        ),
    ]
    uow = run(raws)
    assert value(uow, "eah_settings_supported", "2026/27-T1").value == 2.0
    assert value(uow, "eah_settings_supported", "2026/27-T1", "phase=primary").value == 1.0
    assert value(uow, "eah_settings_supported", "2026/27-T1", "locality=wem").value == 1.0


def test_weekly_demand_against_capacity_and_the_backlog_at_the_week_end() -> None:
    raws = [ev("eah.capacity.reported", "capacity-00000001", D0, service="slt", sessions=4)]
    raws += [request(n, D0 - timedelta(days=30 if n < 2 else 3)) for n in range(5)]
    uow = run(raws, [fx.tick(D0 + timedelta(days=13))])
    week = "2026-W37"
    occ = value(uow, "eah_demand_vs_capacity", week)
    # five requests waiting for a first contact against four sessions: over capacity
    assert (occ.numerator, occ.denominator, occ.value) == (5, 4, 125.0)
    assert (occ.goal, occ.rag, occ.direction) == (100.0, "red", "lower")
    backlog = value(uow, "eah_backlog", week)
    # at Sunday 13 September: two waited 36 days (over 4 weeks), three 9 days
    assert (backlog.numerator, backlog.denominator, backlog.value) == (3, 5, 60.0)


def test_the_contract_refuses_an_unknown_service_and_a_named_subject() -> None:
    with pytest.raises(ValidationError):
        REG.parse_event({**request(1, D0), "data": {**request(1, D0)["data"], "service": "physio"}})
    with pytest.raises(ValidationError, match="personal data"):
        REG.parse_event({**request(1, D0), "subject": "eah-johnsmith"})
    with pytest.raises(ValidationError):
        REG.parse_event(
            {**request(1, D0), "data": {**request(1, D0)["data"], "locality": "london"}}
        )
