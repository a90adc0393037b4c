"""The active EHC plan cohort and the counted placement at their boundaries, through
the real engine and dictionary (K20: INMSS, LA funded, over active plans)."""

from __future__ import annotations

from datetime import date, timedelta

from contracts.placements import load_placements
from services.timeliness.domain.dfe.caseload import setting_counts
from tests.placements_fixture import (
    PERSON,
    ceased,
    census,
    ev,
    left,
    placed,
    plan,
    spans,
)

D = date(2026, 4, 30)
EARLY = date(2025, 9, 1)
INMSS = "special_independent"


def k20(day: date, raws: list[dict[str, object]]) -> tuple[int, int]:
    population, inmss = census("inmss_share", day, raws)["all"][:2]
    return population, inmss


def settings(day: date, raws: list[dict[str, object]]) -> dict[str, int]:
    return dict(setting_counts(load_placements().caseload, day, spans(raws)))


def test_a_plan_ceased_on_the_census_day_is_not_active_that_day() -> None:
    raws = [plan("person-000001", EARLY), placed("person-000001", EARLY, INMSS)]
    raws.append(ceased("person-000001", D))
    assert k20(D, raws) == (0, 0)
    assert k20(D - timedelta(days=1), raws) == (1, 1)


def test_a_plan_transferred_out_on_the_census_day_is_not_active_that_day() -> None:
    raws = [plan("person-000001", EARLY), placed("person-000001", EARLY, INMSS)]
    raws.append(ceased("person-000001", D, reason="5"))  # SEN2 CeaseReason 5: another LA
    case = "case-00000000000000000001"
    attrs = {**PERSON, "person_id": "person-000002"}
    raws += [
        ev("ehc.plan.final-issued", case, EARLY, **attrs),
        ev("ehc.case.transferred-out", case, D, other_la="894", **attrs),
    ]
    assert k20(D, raws) == (0, 0)
    assert k20(D - timedelta(days=1), raws) == (2, 1)


def test_a_rank_2_placement_is_ignored() -> None:
    raws = [plan("person-000001", EARLY), placed("person-000001", EARLY, "mainstream_academy")]
    raws.append(placed("person-000001", EARLY + timedelta(days=7), INMSS, rank=2))
    assert k20(D, raws) == (1, 0)
    assert settings(D, raws) == {"mainstream_academy": 1}


def test_a_placement_ending_the_day_before_does_not_count_one_ending_that_day_does() -> None:
    before = [plan("person-000001", EARLY), placed("person-000001", EARLY, INMSS)]
    before.append(left("person-000001", D - timedelta(days=1)))
    assert k20(D, before) == (1, 0)
    assert settings(D, before) == {"placement_unknown": 1}
    on_the_day = [plan("person-000002", EARLY), placed("person-000002", EARLY, INMSS)]
    on_the_day.append(left("person-000002", D))
    assert k20(D, on_the_day) == (1, 1)
    assert settings(D, on_the_day) == {INMSS: 1}


def test_a_plan_with_no_placement_counts_as_placement_unknown() -> None:
    raws = [plan("person-000001", EARLY), plan("person-000002", EARLY)]
    raws.append(placed("person-000002", EARLY, "special_non_maintained"))
    assert k20(D, raws) == (2, 1)  # in the denominator, never the numerator
    assert settings(D, raws) == {"placement_unknown": 1, "special_non_maintained": 1}


def test_only_la_funded_inmss_counts_and_a_new_placement_replaces_the_old() -> None:
    raws = [plan(f"person-00000{n}", EARLY) for n in range(1, 4)]
    raws.append(placed("person-000001", EARLY, INMSS, la_funded=False))
    raws.append(placed("person-000002", EARLY, INMSS))
    raws.append(placed("person-000002", D - timedelta(days=3), "special_la_maintained"))
    raws.append(placed("person-000003", EARLY, "mainstream_academy"))
    raws.append(placed("person-000003", D, "special_non_maintained"))  # starts on D: counts
    assert k20(D, raws) == (3, 1)
    assert k20(D - timedelta(days=4), raws) == (3, 1)  # then person 2 was the one
    assert settings(D, raws) == {INMSS: 1, "special_la_maintained": 1, "special_non_maintained": 1}


def test_a_plan_issued_on_case_events_meets_placements_recorded_for_the_person() -> None:
    person = "person-000007"
    attrs = {**PERSON, "person_id": person}
    raws = [
        ev("ehc.plan.final-issued", "case-00000000000000000007", EARLY, **attrs),
        placed(person, EARLY, INMSS),
        plan(person, EARLY),  # recorded on both: counted once
        plan("person-000008", EARLY),
    ]
    assert k20(D, raws) == (2, 1)
    cells = census("inmss_share", D, raws)
    assert cells["phase=secondary"][:2] == [2, 1]
    assert cells["locality=ludlow"][:2] == [2, 1]


def test_out_of_area_and_distance_read_the_counted_placement() -> None:
    raws = [plan(f"person-00000{n}", EARLY) for n in range(1, 5)]
    raws.append(placed("person-000001", EARLY, distance_km=4.0))
    raws.append(placed("person-000002", EARLY, INMSS, out_of_area=True, distance_km=62.5))
    raws.append(placed("person-000003", EARLY, distance_km=12.0))
    raws.append(placed("person-000003", EARLY, out_of_area=True, distance_km=90.0, rank=2))
    assert census("out_of_area_share", D, raws)["all"] == [4, 1]
    population, over, p50, p90 = census("distance_over_threshold", D, raws)["all"]
    assert (population, over) == (4, 1)  # only 62.5 km is over 30 km; rank 2 is ignored
    assert (p50, p90) == (120, 625)  # nearest rank of 4, 12, 62.5 (x10)


def test_ehe_counts_by_cohort_over_episodes() -> None:
    raws = [
        ev("placement.ehe.registered", "person-000001", EARLY, cohort="ehcp", **PERSON),
        ev("placement.ehe.ended", "person-000001", EARLY + timedelta(days=30), cohort="ehcp"),
        ev("placement.ehe.registered", "person-000001", D - timedelta(days=2), cohort="ehcp"),
        ev("placement.ehe.registered", "person-000002", EARLY, cohort="sen-support", **PERSON),
        ev("placement.ehe.registered", "person-000003", EARLY, cohort="sen-support", **PERSON),
    ]
    assert census("ehe_ehcp", D, raws)["all"] == [1, 1]
    assert census("ehe_ehcp", EARLY + timedelta(days=40), raws)["all"] == [0, 0]
    assert census("ehe_sen_support", D, raws)["all"] == [2, 2]


def test_inclusion_base_occupancy_by_phase_and_base() -> None:
    base = "placement.base.places-commissioned"
    raws = [
        ev(base, "setting-000001", EARLY, base="ib-001", phase="secondary", places=4),
        ev(base, "setting-000002", EARLY, base="ib-002", phase="primary", places=10),
    ]
    resourced = "mainstream_academy_resourced_provision"
    for n in range(1, 4):
        raws.append(plan(f"person-00000{n}", EARLY))
        raws.append(placed(f"person-00000{n}", EARLY, resourced, base="ib-001"))
    raws.append(placed("person-000003", D - timedelta(days=1), "mainstream_academy"))  # moved on
    cells = census("inclusion_base_occupancy", D, raws)
    assert cells["all"] == [2, 14]
    assert cells["base=ib-001"] == [2, 4]
    assert cells["phase=primary"] == [0, 10]


def test_a_person_with_a_ceased_plan_and_a_later_plan_is_active_on_the_later_one() -> None:
    raws = [
        plan("person-000001", date(2022, 1, 10)),
        ceased("person-000001", date(2023, 3, 1)),
        plan("person-000001", date(2025, 2, 1)),
        placed("person-000001", date(2025, 2, 1), INMSS),
    ]
    assert k20(date(2024, 1, 18), raws) == (0, 0)
    assert k20(D, raws) == (1, 1)
