"""NHS community referral pathways at their boundaries, through the real handlers and
the real contracts (clocks.yaml, kpis.yaml, referrals.yaml): the CHS SitRep bands (days
7/8, 126/127, 364/365, 728/729), which contacts stop each pathway's clock (telephone per
pathway), a did-not-attend at the first appointment, rejected and discharged on the
census day, the autism, CYPMH and triage clocks, acceptance and capacity measures."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from contracts.snapshots import KpiValue
from services.timeliness import referral_views, views
from services.timeliness.domain import chs
from services.timeliness.service_layer.unit_of_work import FakeUnitOfWork
from tests import referral_fixture as rf

CFG = rf.config()
CONF = rf.referrals()
D = date(2026, 9, 30)  # the census day
SERVICES = ["slt", "ot", "asd_0_5", "nd_6_18", "nd_19_25", "core_mh"]


def ago(days: int) -> date:
    return D - timedelta(days=days)


def rows(uow: FakeUnitOfWork, day: date = D) -> dict[str, chs.Row]:
    return {r["service"]: r for r in referral_views.chs_rows(uow, CFG.engine, CONF, day)}


def value(uow: FakeUnitOfWork, kpi: str, cycle: str, breakdown: str = "all") -> KpiValue:
    (v,) = views.kpi_values(uow, CFG.engine.dictionary, kpi, cycle, breakdown)
    return v


def band_of(row: chs.Row) -> list[str]:
    return [c for c in CONF.chs_waiting_list.band_columns if row[c]]


@pytest.mark.parametrize(
    ("waited", "band"),
    [
        (0, "waiting_0_1_weeks"),
        (7, "waiting_0_1_weeks"),
        (8, "waiting_1_2_weeks"),
        (14, "waiting_1_2_weeks"),
        (15, "waiting_2_4_weeks"),
        (28, "waiting_2_4_weeks"),
        (29, "waiting_4_12_weeks"),
        (84, "waiting_4_12_weeks"),
        (85, "waiting_12_18_weeks"),
        (126, "waiting_12_18_weeks"),
        (127, "waiting_18_52_weeks"),
        (364, "waiting_18_52_weeks"),
        (365, "waiting_52_104_weeks"),
        (728, "waiting_52_104_weeks"),
        (729, "waiting_over_104_weeks"),
    ],
)
def test_chs_bands_at_their_boundaries(waited: int, band: str) -> None:
    b = rf.Builder()
    uow = rf.run(CFG, [b.received(1, ago(waited), "ot")])
    r = rows(uow)
    assert r["ot"]["total_waiting"] == 1 and band_of(r["ot"]) == [band]
    assert r["all"][band] == 1
    assert r["ot"]["within_18_weeks_pc"] == ("100.0" if waited <= 126 else "0.0")
    assert r["slt"]["total_waiting"] == 0 and r["slt"]["within_18_weeks_pc"] == "z"


def test_waits_126_and_127_days_split_the_18_week_kpi() -> None:
    b = rf.Builder()
    uow = rf.run(CFG, [b.received(1, ago(126), "slt"), b.received(2, ago(127), "slt")])
    v = value(uow, "k2_slt_waiting_18wk", "2026-09")
    assert (v.numerator, v.denominator, v.value) == (1, 2, 50.0)
    assert v.extra["band_85_126_days"] == 1 and v.extra["band_127_364_days"] == 1


def test_rows_are_the_pathways_in_order_then_all_with_the_exact_columns() -> None:
    uow = rf.run(CFG, [])
    out = referral_views.chs_csv(uow, CFG.engine, CONF, D).splitlines()
    assert out[0] == (
        "period_end,service,total_waiting,waiting_0_1_weeks,waiting_1_2_weeks,"
        "waiting_2_4_weeks,waiting_4_12_weeks,waiting_12_18_weeks,waiting_18_52_weeks,"
        "waiting_52_104_weeks,waiting_over_104_weeks,within_18_weeks_pc"
    )
    assert [line.split(",")[1] for line in out[1:]] == [*SERVICES, "all"]
    assert all(line.endswith(",z") for line in out[1:])


@pytest.mark.parametrize("service", SERVICES)
def test_telephone_stops_ahp_and_mental_health_clocks_not_neurodevelopmental(
    service: str,
) -> None:
    b = rf.Builder()
    uow = rf.run(
        CFG,
        [b.received(1, ago(60), service), b.contact(1, ago(10), "attended", "telephone")],
    )
    stops = service in ("slt", "ot", "core_mh")
    assert rows(uow)[service]["total_waiting"] == (0 if stops else 1)
    assert rows(uow, ago(11))[service]["total_waiting"] == 1  # waiting before the call


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("mechanism", ["face_to_face", "video"])
def test_attended_face_to_face_or_video_stops_every_pathway(service: str, mechanism: str) -> None:
    b = rf.Builder()
    uow = rf.run(CFG, [b.received(1, ago(60), service), b.contact(1, D, "attended", mechanism)])
    assert rows(uow)[service]["total_waiting"] == 0  # a stopping contact on D
    assert rows(uow, ago(1))[service]["total_waiting"] == 1


@pytest.mark.parametrize("attendance", ["dna", "cancelled"])
def test_a_contact_not_attended_does_not_stop_the_clock(attendance: str) -> None:
    b = rf.Builder()
    uow = rf.run(CFG, [b.received(1, ago(60), "slt"), b.contact(1, ago(5), attendance, "video")])
    assert rows(uow)["slt"]["total_waiting"] == 1


def test_other_mechanism_stops_no_pathway() -> None:
    b = rf.Builder()
    raws = [b.received(1, ago(60), "slt"), b.contact(1, ago(5), "attended", "other")]
    assert rows(rf.run(CFG, raws))["slt"]["total_waiting"] == 1


def test_dna_at_first_appointment_nullifies_the_rtt_clock_but_stays_on_the_list() -> None:
    b = rf.Builder()
    uow = rf.run(
        CFG,
        [
            b.received(1, ago(100), "slt"),
            b.contact(1, ago(50), "dna", "face_to_face"),  # first appointment missed
            b.received(2, ago(100), "slt"),
            b.contact(2, ago(20), "attended", "face_to_face"),  # completed in 80 days
            b.received(3, ago(100), "slt"),
            b.contact(3, ago(50), "dna", "face_to_face"),
            b.contact(3, ago(10), "attended", "face_to_face"),  # nullified, then seen
            b.received(4, ago(100), "slt"),
            b.contact(4, ago(60), "cancelled", "face_to_face"),
            b.contact(4, ago(50), "dna", "face_to_face"),  # not the first appointment
        ],
    )
    r = rows(uow)["slt"]
    assert r["total_waiting"] == 2  # 1 (nullified, still waiting) and 4
    v = value(uow, "k2_slt_waiting_18wk", "2026-09")
    assert v.denominator == 2  # the nullified pathway stays on the waiting list
    done = value(uow, "community_completed_18wk", "2026-09", "service=slt")
    assert (done.numerator, done.denominator) == (1, 1)  # only referral 2 counts


def test_rejected_or_discharged_on_the_census_day_is_not_waiting_that_day() -> None:
    b = rf.Builder()
    uow = rf.run(
        CFG,
        [
            b.received(1, ago(30), "asd_0_5"),
            b.outcome(1, D, "rejected"),
            b.received(2, ago(30), "asd_0_5"),
            b.discharged(2, D, "moved_away"),
            b.received(3, ago(30), "asd_0_5"),
            b.outcome(3, ago(20), "accepted"),  # accepted: still waiting
            b.triaged(3, ago(19)),
            b.received(4, D, "asd_0_5"),  # received on D: waiting, 0 days
        ],
    )
    assert rows(uow)["asd_0_5"]["total_waiting"] == 2
    assert rows(uow)["asd_0_5"]["waiting_0_1_weeks"] == 1
    before = rows(uow, ago(1))["asd_0_5"]
    assert before["total_waiting"] == 3 and before["waiting_4_12_weeks"] == 3


def test_within_18_weeks_share_is_rounded_half_up() -> None:
    b = rf.Builder()
    raws = [b.received(1, ago(10), "core_mh")]
    raws += [b.received(n, ago(200), "core_mh") for n in range(2, 17)]  # 1 of 16: 6.25%
    r = rows(rf.run(CFG, raws))["core_mh"]
    assert (r["total_waiting"], r["within_18_weeks_pc"]) == (16, "6.3")
    assert chs.share_half_up(1, 16) == "6.3" and round(6.25, 1) == 6.2
    assert chs.share_half_up(2, 3) == "66.7" and chs.share_half_up(0, 0) == "z"


def test_a_past_date_sees_the_list_as_it_stood_then() -> None:
    b = rf.Builder()
    uow = rf.run(
        CFG,
        [
            b.received(1, date(2026, 1, 5), "nd_6_18"),
            b.contact(1, date(2026, 6, 1), "attended", "video"),
            b.received(2, date(2026, 7, 1), "nd_6_18"),
        ],
    )
    assert rows(uow, date(2026, 1, 4))["nd_6_18"]["total_waiting"] == 0
    assert rows(uow, date(2026, 3, 1))["nd_6_18"]["total_waiting"] == 1
    assert rows(uow, date(2026, 6, 1))["nd_6_18"]["total_waiting"] == 0
    assert rows(uow, date(2026, 7, 1))["nd_6_18"]["total_waiting"] == 1


def _completed(kpi: str, service: str, days: int, **contact: Any) -> KpiValue:
    b = rf.Builder()
    start = date(2026, 5, 4)
    r = b.received(1, start, service)
    uow = rf.run(CFG, [r, b.contact(1, start + timedelta(days=days), **contact)])
    month = (start + timedelta(days=days)).strftime("%Y-%m")
    return value(uow, kpi, month)


@pytest.mark.parametrize(("days", "within"), [(91, 1), (92, 0)])
def test_autism_13_weeks_to_the_first_attended_face_to_face_contact(days: int, within: int) -> None:
    v = _completed("autism_first_contact_13wk", "asd_0_5", days, mechanism="face_to_face")
    assert (v.numerator, v.denominator) == (within, 1)


def test_autism_clock_is_not_stopped_by_telephone_but_by_a_later_video_contact() -> None:
    b = rf.Builder()
    start = date(2026, 5, 4)
    uow = rf.run(
        CFG,
        [
            b.received(1, start, "nd_6_18"),
            b.contact(1, start + timedelta(days=30), "attended", "telephone"),
            b.contact(1, start + timedelta(days=120), "attended", "video"),
        ],
    )
    v = value(uow, "autism_first_contact_13wk", "2026-09")
    assert (v.numerator, v.denominator) == (0, 1)  # 120 days: the call did not count


def test_autism_assessment_started_clock_is_kept_beside_first_contact() -> None:
    b = rf.Builder()
    start = date(2026, 5, 4)
    uow = rf.run(CFG, [b.received(1, start, "asd_0_5"), b.assessment(1, start + timedelta(91))])
    v = value(uow, "autism_assessment_13wk", "2026-08")
    assert (v.numerator, v.denominator) == (1, 1)


@pytest.mark.parametrize(("days", "within"), [(28, 1), (29, 0)])
def test_cypmh_help_within_4_weeks_by_any_attended_contact(days: int, within: int) -> None:
    v = _completed("cypmh_help_4wk", "core_mh", days, mechanism="telephone")
    assert (v.numerator, v.denominator) == (within, 1)


@pytest.mark.parametrize(("days", "within"), [(14, 1), (15, 0)])
def test_triage_within_2_weeks(days: int, within: int) -> None:
    b = rf.Builder()
    start = date(2026, 6, 1)
    uow = rf.run(CFG, [b.received(1, start, "slt"), b.triaged(1, start + timedelta(days))])
    v = value(uow, "referral_triage_2wk", "2026-06")
    assert (v.numerator, v.denominator) == (within, 1)


def test_referrals_accepted_as_appropriate_per_service() -> None:
    b = rf.Builder()
    day = date(2026, 6, 10)
    raws = []
    for n, (service, outcome) in enumerate(
        [("slt", "accepted")] * 9 + [("slt", "rejected")] + [("ot", "rejected")], start=1
    ):
        raws += [b.received(n, day, service), b.outcome(n, day, outcome)]
    uow = rf.run(CFG, raws)
    k7 = value(uow, "k7_slt_referrals_accepted", "2026-06")
    k8 = value(uow, "k8_ot_referrals_accepted", "2026-06")
    assert (k7.numerator, k7.denominator, k7.value) == (9, 10, 90.0)
    assert (k8.numerator, k8.denominator, k8.value) == (0, 1, 0.0)
    assert k7.baseline == 91.0 and k7.standard == 98.0


def test_capacity_against_demand_and_use_of_commissioned_capacity_are_weekly_sums() -> None:
    b = rf.Builder()
    monday = date(2026, 6, 1)  # ISO week 2026-W23
    raws = [b.received(n, monday + timedelta(days=n % 5), "slt") for n in range(1, 21)]
    raws += [
        rf.capacity("slt", monday + timedelta(6), first_slots_offered=15, sessions_delivered=80),
        rf.capacity("ot", monday + timedelta(6), first_slots_offered=5, sessions_delivered=100),
    ]
    uow = rf.run(CFG, raws)
    demand = value(uow, "health_capacity_vs_demand", "2026-W23")
    assert (demand.numerator, demand.denominator, demand.value) == (20, 20, 100.0)
    slt = value(uow, "health_capacity_vs_demand", "2026-W23", "service=slt")
    assert slt.value == 75.0  # 15 first slots for 20 referrals
    used = value(uow, "health_commissioned_capacity_used", "2026-W23")
    assert (used.numerator, used.denominator, used.value) == (180, 200, 90.0)


def test_open_backlog_counts_those_waiting_over_18_weeks() -> None:
    b = rf.Builder()
    raws = [b.received(1, ago(126), "slt"), b.received(2, ago(127), "ot")]
    raws += [b.received(3, ago(400), "nd_19_25")]
    v = value(rf.run(CFG, raws), "health_open_backlog", "2026-09")
    assert v.value == 2.0 and v.direction == "lower"


def test_k4_and_k5_targets_are_to_be_established() -> None:
    b = rf.Builder()
    uow = rf.run(CFG, [b.received(1, ago(10), "nd_6_18"), b.received(2, ago(10), "nd_19_25")])
    for kpi in ("k4_nd_6_18_waiting_18wk", "k5_nd_19_25_waiting_18wk"):
        v = value(uow, kpi, "2026-09")
        assert v.goal_basis == "to_be_established" and v.rag in (None, "none")
    k2 = CFG.engine.dictionary.kpis["k2_slt_waiting_18wk"]
    assert k2.baseline == 60.0 and k2.standard == 92.0
