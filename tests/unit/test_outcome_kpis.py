"""Outcome and experience KPIs (K9, K10, K14-K19, E9-E11, E33, E34, E36) at their
boundaries, from the real contract (``contracts/outcome_events.py``) and dictionary,
through the real handlers over the in-memory unit of work."""

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
D0 = date(2026, 10, 1)
_ids = itertools.count(1)


def ev(etype: str, subject: str, when: date, **data: Any) -> dict[str, Any]:
    raw = fx.event(etype, subject, when, **data)
    raw["id"], raw["source"] = f"outcome-{next(_ids):09d}", "outcomes"
    return raw


def run(*batches: list[dict[str, Any]]) -> FakeUnitOfWork:
    uow = FakeUnitOfWork()
    for raws in batches:
        handlers.apply_batch(uow, [i for raw in raws for i in fx.incoming(REG, raw)], CFG)
    return uow


def value(uow: FakeUnitOfWork, kpi: str, cycle: str, breakdown: str = "all") -> KpiValue:
    (v,) = views.kpi_values(uow, CFG.engine.dictionary, kpi, cycle, breakdown)
    return v


def figure(series: str, period: str, v: float, when: date = D0, **kw: Any) -> dict[str, Any]:
    measure, cohort, area = kw.get("measure", "attendance"), kw["cohort"], kw["area"]
    return ev(
        "figure.reported",
        f"figure-{series}",
        when,
        measure=measure,
        cohort=cohort,
        area=area,
        period=period,
        value=v,
    )


def test_attendance_against_its_absolute_target_and_a_later_correction() -> None:
    uow = run(
        [
            figure("01", "2026/27-T1", 86.9, cohort="ehcp", area="local"),
            figure("02", "2026/27-T1", 91.0, cohort="sen-support", area="local"),
        ]
    )
    k9 = value(uow, "attendance_ehcp", "2026/27-T1")
    assert (k9.value, k9.target, k9.rag) == (86.9, 87.0, "amber")  # 0.1 below 87%
    assert value(uow, "attendance_sen_support", "2026/27-T1").rag == "green"  # exactly 91%
    # DfE revises the figure: the latest report for the period wins
    uow2 = run(
        [
            figure("01", "2026/27-T1", 86.9, cohort="ehcp", area="local"),
            figure("01", "2026/27-T1", 87.0, D0 + timedelta(days=30), cohort="ehcp", area="local"),
        ]
    )
    assert value(uow2, "attendance_ehcp", "2026/27-T1").rag == "green"


def test_within_five_percent_of_statistical_neighbours_is_relative() -> None:
    raws = [
        figure("01", "2027/28-T1", 85.5, cohort="ehcp", area="local"),
        figure("03", "2027/28-T1", 90.0, cohort="ehcp", area="statistical-neighbours"),
        figure("04", "2027/28-T1", 88.0, cohort="ehcp", area="england"),  # not the reference
    ]
    v = value(run(raws), "attendance_ehcp_vs_neighbours", "2027/28-T1")
    # 85.5 / 90 = 95.0% of the neighbours' figure: exactly "within 5%"
    assert (v.value, v.target, v.rag) == (95.0, 95.0, "green")
    assert (v.extra["figure"], v.extra["reference"], v.extra["difference"]) == (85.5, 90.0, -4.5)
    raws[0] = figure("01", "2027/28-T1", 85.4, cohort="ehcp", area="local")
    assert value(run(raws), "attendance_ehcp_vs_neighbours", "2027/28-T1").rag == "amber"
    # without the neighbours' figure there is no comparison, not a zero
    alone = value(run(raws[:1]), "attendance_ehcp_vs_neighbours", "2027/28-T1")
    assert alone.value is None and alone.extra["reference"] is None
    # 2028/29: "in line with statistical neighbours"
    later = [
        figure("01", "2028/29-T1", 89.9, cohort="ehcp", area="local"),
        figure("03", "2028/29-T1", 90.0, cohort="ehcp", area="statistical-neighbours"),
    ]
    assert value(run(later), "attendance_ehcp_vs_neighbours", "2028/29-T1").target == 100.0


def test_persistent_absence_and_exclusions_have_a_baseline_to_be_set() -> None:
    uow = run(
        [
            figure(
                "05", "2026/27-T1", 38.2, cohort="ehcp", area="local", measure="persistent-absence"
            ),
            figure("06", "2026/27-T1", 4.1, cohort="ehcp", area="local", measure="suspensions"),
        ]
    )
    pa = value(uow, "persistent_absence_ehcp", "2026/27-T1")
    assert (pa.value, pa.goal_basis, pa.rag) == (38.2, "to_be_established", "none")
    assert value(uow, "suspensions_ehcp", "2026/27-T1").value == 4.1
    assert CFG.engine.dictionary.kpis["persistent_absence_ehcp"].baseline_note is not None


def test_audit_share_good_or_outstanding() -> None:
    grades = ["outstanding", "good", "requires-improvement", "inadequate", "good"]
    raws = [
        ev("quality.audit.graded", f"audit-{n:06d}", D0, grade=g, locality="wem", phase="primary")
        for n, g in enumerate(grades)
    ]
    v = value(run(raws), "ehcp_audit_good", "2026-10")
    assert (v.numerator, v.denominator, v.value) == (3, 5, 60.0)


def test_annual_review_four_and_twelve_week_clocks() -> None:
    def review(n: int, decision: str, decided: int, amended: int | None) -> list[dict[str, Any]]:
        s = f"review-{n:06d}"
        out = [
            ev("review.meeting.held", s, D0, locality="ludlow", phase="secondary"),
            ev("review.decision.notified", s, D0 + timedelta(decided), decision=decision),
        ]
        if amended is not None:
            out.append(ev("review.plan.amended", s, D0 + timedelta(amended)))
        return out

    raws = review(1, "amend", 28, 84) + review(2, "amend", 29, 85) + review(3, "maintain", 10, None)
    uow = run(raws)
    dec = value(uow, "annual_review_decision_4wk", "2026/27-Q3")
    assert (dec.numerator, dec.denominator) == (2, 3)  # day 28 on time, day 29 late
    amended = value(uow, "annual_review_amended_12wk", "2026/27-Q3")  # 24 and 25 December
    # only the decisions to amend; day 84 on time, day 85 late
    assert (amended.numerator, amended.denominator) == (1, 2)


def test_phase_transfers_by_the_deadline() -> None:
    raws = [
        ev(
            "transfer.plan.finalised",
            f"transfer-{n:06d}",
            date(2027, 2, 15),
            locality="wem",
            phase="secondary",
            by_deadline=on_time,
        )
        for n, on_time in enumerate([True, True, True, False])
    ]
    v = value(run(raws), "phase_transfer_on_time", "2026/27-Q4")
    assert (v.value, v.rag) == (75.0, "red")


def complaint(n: int, when: date, theme: str = "communication") -> dict[str, Any]:
    return ev("complaint.received", f"complaint-{n:06d}", when, theme=theme, locality="shifnal")


def test_complaints_cap_ten_a_month_then_six_and_resolution_time() -> None:
    ten = [complaint(n, D0 + timedelta(days=n)) for n in range(10)]
    v = value(run(ten), "complaints_per_month", "2026-10")
    assert (v.value, v.goal, v.rag) == (10.0, 10.0, "green")  # at the cap
    v = value(run([*ten, complaint(10, D0)]), "complaints_per_month", "2026-10")
    assert v.rag == "amber"  # 11: within the 2-complaint margin
    assert value(run(ten), "complaints_per_month", "2026-10", "theme=communication").value == 10
    nxt = value(run([complaint(1, date(2027, 4, 3))]), "complaints_per_month", "2027-04")
    assert nxt.goal == 6.0
    resolved = [
        complaint(1, D0),
        ev("complaint.resolved", "complaint-000001", D0 + timedelta(28)),
        complaint(2, D0),
        ev("complaint.resolved", "complaint-000002", D0 + timedelta(29)),
    ]
    r = value(run(resolved), "complaint_resolution_time", "2026/27-Q3")
    assert (r.numerator, r.denominator, r.extra["p50_days"]) == (1, 2, 28)


def test_tribunal_rate_per_hundred_final_plans() -> None:
    plans = [
        fx.event("ehc.plan.final-issued", f"case-{n:06d}", D0, **fx.case_data()) for n in range(200)
    ]
    appeals = [
        ev("dispute.registered", "appeal-000001", D0, route="tribunal", locality="wem"),
        ev("dispute.registered", "appeal-000002", D0, route="mediation", locality="wem"),
    ]
    v = value(run(plans + appeals), "tribunal_rate", "2026/27-Q3")
    assert (v.numerator, v.denominator, v.value) == (1, 200, 0.5)
    assert (v.goal, v.rag) == (0.6, "green")
    assert value(run(plans + appeals), "mediations_registered", "2026-10").value == 1.0
    assert "per 100 final EHC plans" in (
        CFG.engine.dictionary.kpis["tribunal_rate"].description or ""
    )


def survey(n: int, name: str, period: str, score: float, responses: int) -> dict[str, Any]:
    return ev(
        "survey.result.reported",
        f"survey-{n:06d}",
        D0,
        survey=name,
        period=period,
        value=score,
        responses=responses,
    )


def test_big_listen_needs_two_hundred_responses_and_shows_its_interval() -> None:
    few = value(
        run([survey(1, "big-listen", "2026/27", 72.0, 199)]), "parent_carer_satisfaction", "2026/27"
    )
    assert few.value is None and few.extra["too_few_responses"] is True
    ok = value(
        run([survey(1, "big-listen", "2026/27", 72.0, 200)]), "parent_carer_satisfaction", "2026/27"
    )
    assert ok.value == 72.0 and ok.denominator == 200
    assert ok.extra["ci_low"] < 72.0 < ok.extra["ci_high"]
    assert (ok.goal, ok.goal_basis, ok.rag) == (None, "to_be_established", "none")
    cyp = value(
        run([survey(2, "cyp-satisfaction", "2026/27-Q3", 64.0, 50)]),
        "cyp_satisfaction",
        "2026/27-Q3",
    )
    assert cyp.value == 64.0


def test_the_contract_refuses_free_text_and_an_impossible_figure() -> None:
    good = figure("01", "2026/27-T1", 86.0, cohort="ehcp", area="local")
    REG.parse_event(good)
    with pytest.raises(ValidationError):
        REG.parse_event({**good, "data": {**good["data"], "value": 101.0}})
    with pytest.raises(ValidationError):
        REG.parse_event({**good, "data": {**good["data"], "period": "autumn 2026"}})
    bad = complaint(1, D0)
    with pytest.raises(ValidationError):
        REG.parse_event({**bad, "data": {**bad["data"], "theme": "Mrs Smith was rude"}})
