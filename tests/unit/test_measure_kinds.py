"""Every measure kind, from events to published values, through the real handlers over
the in-memory unit of work.  The KPIs are defined only in the fixture YAML
(``tests/fixtures/engine``): no kind has code of its own beyond its pure function."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from contracts.snapshots import KpiSnapshot, KpiValue
from services.timeliness import views
from services.timeliness.service_layer import handlers
from services.timeliness.service_layer.unit_of_work import FakeUnitOfWork
from tests import engine_fixture as fx

CFG = fx.config()
REG = CFG.registry
D0 = date(2026, 4, 1)


def run(*batches: list[dict[str, Any]]) -> FakeUnitOfWork:
    uow = FakeUnitOfWork()
    for raws in batches:
        items = [i for raw in raws for i in fx.incoming(REG, raw)]
        handlers.apply_batch(uow, items, CFG)
    return uow


def value(uow: FakeUnitOfWork, kpi: str, cycle: str, breakdown: str = "all") -> KpiValue:
    (v,) = views.kpi_values(uow, CFG.engine.dictionary, kpi, cycle, breakdown)
    return v


def referral(n: int, day: int, locality: str = "ludlow", service: str = "slt") -> dict[str, Any]:
    return fx.event(
        "fixture.referral.received",
        f"ref-{n:06d}",
        fx.days(D0, day),
        locality=locality,
        service=service,
    )


def contact(
    n: int, day: int, attendance: str = "attended", mechanism: str = "video"
) -> dict[str, Any]:
    return fx.event(
        "fixture.referral.contact",
        f"ref-{n:06d}",
        fx.days(D0, day),
        attendance=attendance,
        mechanism=mechanism,
    )


# --- completed_within -------------------------------------------------------------------


def test_completed_within_two_thresholds_a_pause_and_a_first_appointment_dna() -> None:
    uow = run(
        [
            referral(1, 0),
            contact(1, 40),  # 40 days: within 6 and 18 weeks
            referral(2, 0),
            contact(2, 85),  # within 18 weeks only
            referral(3, 0),
            contact(3, 10, "dna"),
            contact(3, 20),  # DNA first: nullified
            referral(4, 0),
            fx.event("fixture.referral.paused", "ref-000004", fx.days(D0, 10)),
            fx.event("fixture.referral.resumed", "ref-000004", fx.days(D0, 40)),
            contact(4, 70),  # 70 days less 30 paused: 40, within 6 weeks
            referral(5, 0),
            contact(5, 30, mechanism="telephone"),  # no stop before 1 Sep 2026
            referral(6, 0, service="ot"),
            contact(6, 5),  # not an SLT referral
        ]
    )
    v = value(uow, "fixture_slt_18wk", "2026/27-Q1")
    assert (v.numerator, v.denominator, v.value) == (2, 3, 66.7)
    assert v.extra["within_42_days"] == 2 and v.extra["within_126_days"] == 3
    assert v.extra["pc_within_126_days"] == 100.0
    assert v.extra["standard_within_42_days"] == 75.0
    assert v.extra["average_days"] == round((40 + 85 + 40) / 3, 1)
    # before the first trajectory point the goal is interpolated from the 60% baseline
    assert v.target is None and v.goal_basis == "interpolated"
    # 60 + (70 - 60) x 90 days (1 April to 30 June) / 183 days (to 1 October)
    assert (v.goal, v.rag) == (64.9, "green")
    assert (v.unit, v.direction, v.kind) == ("percent", "higher", "completed_within")


def test_a_clock_follows_the_policy_version_in_force_on_its_start_day() -> None:
    before, after = date(2026, 8, 20), date(2026, 9, 10)
    uow = run(
        [
            fx.event(
                "fixture.referral.received", "ref-000001", before, locality="ludlow", service="slt"
            ),
            fx.event(
                "fixture.referral.contact",
                "ref-000001",
                date(2026, 9, 15),
                attendance="attended",
                mechanism="telephone",
            ),
            fx.event(
                "fixture.referral.received", "ref-000002", after, locality="ludlow", service="slt"
            ),
            fx.event(
                "fixture.referral.contact",
                "ref-000002",
                date(2026, 9, 15),
                attendance="attended",
                mechanism="telephone",
            ),
        ]
    )
    v = value(uow, "fixture_slt_18wk", "2026-09")
    assert (v.numerator, v.denominator) == (1, 1)  # only the clock started after 1 Sep


# --- waiting_list ------------------------------------------------------------------------


def test_waiting_list_bands_percentiles_and_nullified_referrals_still_waiting() -> None:
    today = date(2027, 6, 30)
    waits = [3, 7, 8, 100, 126, 127, 364, 365]
    raws = [referral(i, 0) for i in range(len(waits))]
    raws = [
        fx.event(
            "fixture.referral.received",
            f"ref-{i:06d}",
            today - timedelta(days=w),
            locality="ludlow",
            service="slt",
        )
        for i, w in enumerate(waits)
    ]
    raws.append(contact(0, 0, "dna"))  # ref 0: nullified, but include_nullified keeps it
    uow = run(raws, [fx.tick(today)])
    v = value(uow, "fixture_slt_waiting", "current")
    assert (v.numerator, v.denominator) == (5, 8)  # waiting 126 days or fewer
    assert v.value == 62.5
    assert [v.extra[f] for f in ("band_0_7_days", "band_8_14_days", "band_127_364_days")] == [
        2,
        1,
        2,
    ]
    assert v.extra["band_365_plus_days"] == 1  # day 365 is over 52 weeks
    assert v.extra["p50_days"] == 100 and v.extra["p95_days"] == 365
    assert v.goal == 92.0 and v.goal_basis == "standard"


def test_a_closed_month_is_counted_at_its_last_day_and_restated_by_a_late_event() -> None:
    may = date(2026, 5, 31)
    uow = run(
        [referral(1, 0), referral(2, 10)],
        [fx.tick(date(2026, 6, 15))],  # May has closed (end + 10 days of grace)
    )
    v = value(uow, "fixture_slt_waiting", "2026-05")
    assert (v.closed, v.revision, v.denominator, v.numerator) == (True, 1, 2, 2)
    assert v.closes_on == date(2026, 6, 11)
    # a late event: referral 1 was seen on 20 May, so it was not waiting at the end of May
    handlers.apply_batch(uow, fx.incoming(REG, contact(1, 49)), CFG)
    v = value(uow, "fixture_slt_waiting", "2026-05")
    assert (v.revision, v.denominator) == (2, 1)
    assert fx.days(D0, 49) < may


# --- share_of_outcomes, event_count, distinct_subjects, rate_per ---------------------------


def test_share_of_outcomes_counts_the_first_decision() -> None:
    triage = "fixture.referral.triaged"
    uow = run(
        [
            fx.event(triage, "ref-000001", D0, outcome="accepted"),
            fx.event(triage, "ref-000001", fx.days(D0, 5), outcome="rejected"),  # not the first
            fx.event(triage, "ref-000002", D0, outcome="rejected"),
            fx.event(triage, "ref-000003", D0, outcome="accepted"),
        ]
    )
    v = value(uow, "fixture_referrals_accepted", "2026-04")
    assert (v.numerator, v.denominator, v.value) == (2, 3, 66.7)
    assert (v.goal, v.goal_basis, v.rag) == (91.0, "baseline", "red")  # goal_before: baseline


def test_event_count_with_a_cap_is_judged_lower_is_better() -> None:
    complaints = [
        fx.event("fixture.complaint.received", f"cmp-{n:06d}", fx.days(D0, n), locality="ludlow")
        for n in range(11)
    ]
    uow = run(complaints)
    v = value(uow, "fixture_complaints", "2026-04")
    assert (v.value, v.numerator, v.denominator) == (11.0, 11, None)
    assert (v.goal, v.direction, v.rag) == (10.0, "lower", "amber")  # margin 2 for counts
    assert value(uow, "fixture_complaints", "2026-04", "locality=ludlow").value == 11.0


def test_distinct_subjects_per_term_with_a_target_to_be_established() -> None:
    contacts = [
        fx.event(
            "fixture.eah.contact",
            "person-000001",
            date(2026, 9, 10),
            phase="primary",
            service="slt",
        ),
        fx.event(
            "fixture.eah.contact",
            "person-000001",
            date(2026, 10, 1),
            phase="primary",
            service="slt",
        ),
        fx.event(
            "fixture.eah.contact",
            "person-000002",
            date(2026, 11, 1),
            phase="secondary",
            service="slt",
        ),
        fx.event(
            "fixture.eah.contact", "person-000003", date(2026, 11, 1), phase="primary", service="ot"
        ),
        fx.event(
            "fixture.eah.contact",
            "person-000002",
            date(2027, 2, 1),
            phase="secondary",
            service="slt",
        ),
    ]
    uow = run(contacts)
    autumn = value(uow, "fixture_eah_reach", "2026/27-T1")
    assert (autumn.value, autumn.extra["events"]) == (2.0, 3)
    assert (autumn.goal, autumn.goal_basis, autumn.rag) == (None, "to_be_established", "none")
    assert value(uow, "fixture_eah_reach", "2026/27-T2").value == 1.0
    assert value(uow, "fixture_eah_reach", "2026/27").value == 2.0
    assert value(uow, "fixture_eah_reach", "2026/27-T1", "phase=primary").value == 1.0


def test_rate_per_reads_a_real_contract_for_its_denominator() -> None:
    raws = [
        fx.event("ehc.plan.final-issued", f"case-{n:08d}", fx.days(D0, n), **fx.case_data())
        for n in range(8)
    ]
    raws.append(fx.event("fixture.tribunal.appeal", "case-00000001", fx.days(D0, 30)))
    uow = run(raws)
    v = value(uow, "fixture_tribunal_rate", "2026/27-Q1")
    assert (v.numerator, v.denominator, v.value) == (1, 8, 12.5)
    assert v.extra["per"] == 100


# --- census kinds: cohort share and occupancy ------------------------------------------


def test_cohort_share_of_active_plans_in_inmss_placements() -> None:
    raws = [
        fx.event("fixture.plan.started", f"person-{n:06d}", D0, cohort="ehcp") for n in range(10)
    ]
    raws.append(fx.event("fixture.plan.started", "person-000099", D0, cohort="sen-support"))
    raws.append(fx.event("fixture.placement.started", "person-000001", D0, setting="inmss"))
    raws.append(fx.event("fixture.placement.started", "person-000099", D0, setting="inmss"))
    uow = run(raws, [fx.tick(date(2026, 6, 1))])
    v = value(uow, "fixture_inmss_share", "current")
    assert (v.numerator, v.denominator, v.value) == (1, 10, 10.0)  # SEN Support is not counted
    assert (v.direction, v.goal, v.rag) == ("lower", 9.0, "amber")  # within the margin above
    april = value(uow, "fixture_inmss_share", "2026-04")
    assert april.closed and april.value == 10.0


def test_occupancy_against_the_capacity_in_force_at_the_census() -> None:
    cap = "fixture.capacity.commissioned"
    raws = [
        fx.event(cap, "svc-000001", D0, base="ludlow-base", places=10),
        fx.event(cap, "svc-000001", date(2026, 5, 10), base="ludlow-base", places=8),
    ]
    raws += [
        fx.event(
            "fixture.placement.started",
            f"person-{n:06d}",
            D0,
            setting="inclusion-base",
            base="ludlow-base",
        )
        for n in range(6)
    ]
    uow = run(raws, [fx.tick(date(2026, 6, 12))])
    april = value(uow, "fixture_base_occupancy", "2026-04", "base=ludlow-base")
    assert (april.numerator, april.denominator, april.value) == (6, 10, 60.0)
    may = value(uow, "fixture_base_occupancy", "2026-05")
    assert (may.numerator, may.denominator, may.value, may.extra["vacant"]) == (6, 8, 75.0, 2)


# --- reported_figure -----------------------------------------------------------------------


def test_reported_figure_latest_report_wins_with_a_confidence_interval() -> None:
    fig = "fixture.figure.reported"
    raws = [
        fx.event(
            fig,
            "fig-000001",
            date(2026, 12, 20),
            cohort="ehcp",
            measure="attendance",
            period="2026/27-T1",
            value=84.0,
            responses=400,
        ),
        fx.event(
            fig,
            "fig-000001",
            date(2027, 1, 5),
            cohort="ehcp",
            measure="attendance",
            period="2026/27-T1",
            value=85.5,
            responses=420,
        ),
        fx.event(
            fig,
            "fig-000001",
            date(2027, 1, 5),
            cohort="ehcp",
            measure="attendance",
            period="2026-11",
            value=80.0,
            responses=5,
        ),
        fx.event(
            fig,
            "fig-000002",
            date(2027, 1, 5),
            cohort="sen-support",
            measure="attendance",
            period="2026/27-T1",
            value=90.0,
            responses=900,
        ),
    ]
    uow = run(raws)
    v = value(uow, "fixture_attendance_ehcp", "2026/27-T1")
    assert (v.value, v.denominator) == (85.5, 420)
    assert v.extra["ci_low"] < 85.5 < v.extra["ci_high"]
    assert (v.goal, v.rag) == (87.0, "amber")
    few = value(uow, "fixture_attendance_ehcp", "2026-11")
    assert few.value is None and few.extra["too_few_responses"] is True


# --- the snapshot carries what consumers need ----------------------------------------------


def test_every_snapshot_value_carries_unit_direction_goal_and_its_close() -> None:
    uow = run([referral(1, 0), contact(1, 40)], [fx.tick(date(2026, 7, 1))])
    snaps = [
        KpiSnapshot.model_validate_json(m.payload)
        for m in uow.take_outbox()
        if m.topic == "snapshots"
    ]
    values = [v for s in snaps for v in s.data.values]
    assert values
    for v in values:
        assert v.unit and v.direction and v.kind
        if v.cycle != "current":
            assert v.closes_on is not None
    may = [v for v in values if v.kpi == "fixture_slt_18wk" and v.cycle == "2026-05" and v.closed]
    assert may and may[-1].revision == 1


@pytest.mark.parametrize("kpi", sorted(CFG.engine.dictionary.kpis))
def test_every_fixture_kpi_has_its_own_kind_and_no_problem(kpi: str) -> None:
    kinds = {k.kind for k in CFG.engine.dictionary.kpis.values()}
    assert kinds == {
        "completed_within",
        "waiting_list",
        "share_of_outcomes",
        "event_count",
        "distinct_subjects",
        "cohort_share",
        "occupancy",
        "rate_per",
        "reported_figure",
    }
    assert CFG.engine.problems == []
