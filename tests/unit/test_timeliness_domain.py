"""The timeliness domain without a database: what a case contributes to each KPI (the
EHCNA KPIs as the measure engine computes them from clock policies and the dictionary),
the calendar cycles, trajectory targets, goals and RAG, the statutory clocks, the cycle
outlook and the order-independent fold."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple

import pytest

from contracts.case_events import CaseEvent, parse_case_event
from contracts.clock_rules import load_clocks
from contracts.cycles import (
    cycle_bounds,
    kind_of,
    labels_for,
    previous,
)
from contracts.events import load_events
from contracts.kpi_dictionary import load_kpis
from services.timeliness.domain import fold as batch
from services.timeliness.domain import milestones, subjects
from services.timeliness.domain.case import from_subject, local_date
from services.timeliness.domain.engine import Engine
from services.timeliness.domain.measures.base import Key, Vector
from services.timeliness.domain.values import (
    Outlook,
    kpi_value,
    outlook_from_counts,
    rag,
    target_for,
)
from tests.helpers import (
    ADVICE_RECEIVED,
    ADVICE_REQUESTED,
    ASSESSMENT_DECISION,
    BASE_TIME,
    CEASED,
    DECIDE_TO_ASSESS,
    DRAFT,
    EXCEPTION,
    FINAL,
    NEED,
    REQUEST,
    TRANSFER_IN,
    TRANSFER_OUT,
    case_event,
)

KPIS = load_kpis()
RULES = load_clocks()
REGISTRY = load_events()
ENGINE = Engine(KPIS, RULES, REGISTRY)
DAY0 = BASE_TIME.date()  # 2026-04-01, the request date of the default case


TWENTY_WEEK_KPIS = ("ehcp_20wk", "ehcp_20wk_ex")

# --- builders -------------------------------------------------------------------------

_ids = itertools.count(1)


def ev(etype: str = REQUEST, day: int = 0, *, case: int = 1, **data: Any) -> CaseEvent:
    """A parsed case event on day ``day`` after 2026-04-01 09:00 UTC."""
    return parse_case_event(case_event(next(_ids), etype, case=case, day=day, data=data))


def at(when: datetime, etype: str = REQUEST, *, case: int = 1, **data: Any) -> CaseEvent:
    """A parsed case event at an exact instant."""
    raw = case_event(next(_ids), etype, case=case, data=data)
    raw["time"] = when.isoformat()
    return parse_case_event(raw)


@dataclass
class Case:
    """A case's subject state; its CaseState fields read through (``case.received``)."""

    state: subjects.SubjectState

    def __getattr__(self, name: str) -> Any:
        return getattr(from_subject(self.state), name)


def apply(case: Case | None, event: CaseEvent) -> Case:
    return Case(subjects.fold(case.state if case else None, REGISTRY.observe(event)))


def fold(events: Iterable[CaseEvent]) -> Case:
    case: Case | None = None
    for event in events:
        case = apply(case, event)
    assert case is not None
    return case


def fold_by_case(events: Iterable[CaseEvent]) -> dict[str, Case]:
    states: dict[str, Case] = {}
    for event in events:
        states[event.subject] = apply(states.get(event.subject), event)
    return states


class Agg(NamedTuple):
    """A completed-within cell in the old layout: within the limit, completions, days,
    and (for the KPIs with DfE's bands) completions after 52 weeks or more."""

    num: int = 0
    den: int = 0
    days: int = 0
    over_year: int = 0

    def __add__(self, other: tuple[Any, ...]) -> Agg:  # type: ignore[override]
        return Agg(*(a + b for a, b in zip(self, other, strict=True)))

    @property
    def is_zero(self) -> bool:
        return not any(self)


ZERO = Agg()


def agg(kpi: str, v: Vector) -> Agg:
    k = KPIS.kpis[kpi]
    n = len(k.thresholds)  # type: ignore[union-attr]
    return Agg(v[1], v[0], v[1 + n], v[-1] if k.bands else 0)  # type: ignore[union-attr]


def cells(case: Case) -> dict[Key, Vector]:
    """The 20-week family's cells (other domains' KPIs over case events left out)."""
    spread = ENGINE.spread(ENGINE.contributions(case.state))
    return {key: v for key, v in spread.items() if KPIS.kpis[key[0]].kind == "completed_within"}


def contributions(case: Case, _kpis: object = None) -> dict[Key, Agg]:
    return {key: agg(key[0], v) for key, v in cells(case).items()}


def recompute_cells(cases: Iterable[Case]) -> dict[Key, Vector]:
    return batch.recompute(ENGINE, [c.state for c in cases])


def _twenty_week(key: Key) -> bool:
    return KPIS.kpis[key[0]].kind == "completed_within"


def recompute(cases: Iterable[Case], _kpis: object = None) -> dict[Key, Agg]:
    return {key: agg(key[0], v) for key, v in recompute_cells(cases).items() if _twenty_week(key)}


def delta(before: Case, after: Case, _kpis: object = None) -> dict[Key, Agg]:
    base: dict[Any, Vector] = {}
    batch.delta(ENGINE.contributions(before.state), ENGINE.contributions(after.state), base)
    return {key: agg(key[0], v) for key, v in ENGINE.spread(base).items() if _twenty_week(key)}


def alerts_due(case: Case, today: date, already: frozenset[str]) -> list[milestones.MilestoneAlert]:
    return ENGINE.alerts_due(case.state, today, already)


def next_deadline(case: Case, today: date) -> milestones.MilestoneStatus | None:
    return milestones.next_deadline(ENGINE.alert_clocks(case.state), today)


def outlook(
    kpi: str, cycle: str, so_far: Agg, open_cases: list[Case], today: date, target: float | None
) -> Outlook:
    """The outlook as the service counts it: from the open spans of the KPI's clock."""
    k = KPIS.kpis[kpi]
    spans = [ENGINE.spans(c.state).get((k.clock, 0)) for c in open_cases]  # type: ignore[union-attr]
    counted = [
        s for s in spans if s and s.close is None and not s.nullified and kpi not in s.excluded
    ]
    late = sum(1 for s in counted if s.wait(today) > (k.limit_days or 0))
    return outlook_from_counts(cycle, so_far.num, so_far.den, len(counted), late, target)


def on(day: int) -> date:
    return DAY0 + timedelta(days=day)


def month(d: date) -> str:
    (label,) = labels_for("month", d)
    return label


def kpis_of(case: Case) -> set[str]:
    return {kpi for kpi, _, _ in contributions(case, KPIS)}


def plan_case(final_day: int, *extra: CaseEvent) -> Case:
    """Requested on day 0, assessed from day 20, final plan on ``final_day``."""
    return fold([ev(), ev(DECIDE_TO_ASSESS, 20, outcome="Y"), *extra, ev(FINAL, final_day)])


def twenty_week(case: Case, kpi: str = "ehcp_20wk") -> Agg:
    assert case.final_issued is not None
    return contributions(case, KPIS).get((kpi, month(case.final_issued), "all"), ZERO)


# --- the 20-week measure ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "expected", "bands"),
    [
        (0, Agg(1, 1, 0, 0), (1, 0, 0)),
        (140, Agg(1, 1, 140, 0), (1, 0, 0)),
        (141, Agg(0, 1, 141, 0), (0, 1, 0)),
        (364, Agg(0, 1, 364, 0), (0, 1, 0)),
        (365, Agg(0, 1, 365, 1), (0, 0, 1)),
        (500, Agg(0, 1, 500, 1), (0, 0, 1)),
    ],
)
def test_day_140_is_on_time_141_is_late_and_the_52_week_band(
    days: int, expected: Agg, bands: tuple[int, int, int]
) -> None:
    case = plan_case(days)
    assert case.received == DAY0
    assert case.final_issued == on(days)
    assert twenty_week(case) == expected
    assert twenty_week(case, "ehcp_20wk_ex") == expected
    key = ("ehcp_20wk", month(on(days)), "all")
    extra = kpi_value(KPIS, key, cells(case)[key], closed=False, revision=0).extra
    assert (extra["within_20_weeks"], extra["weeks_20_to_52"], extra["over_52_weeks"]) == bands
    assert extra["average_days"] == float(days)


def test_band_counts_add_up_across_cases() -> None:
    cases = [plan_case(d) for d in (100, 140, 141, 200, 364, 365, 400)]
    totals = recompute(cases, KPIS)  # seven folds: seven completions
    vectors = recompute_cells(cases)
    by_year = [totals[("ehcp_20wk", year, "all")] for year in ("2026", "2027")]
    assert [a.den for a in by_year] == [4, 3]  # day 364 is 31 March 2027
    for total, year in zip(by_year, ("2026", "2027"), strict=True):
        key = ("ehcp_20wk", year, "all")
        extra = kpi_value(KPIS, key, vectors[key], closed=False, revision=0).extra
        assert (
            extra["within_20_weeks"] + extra["weeks_20_to_52"] + extra["over_52_weeks"] == total.den
        )
    assert Agg(*map(sum, zip(*by_year, strict=True))) == Agg(
        2, 7, 100 + 140 + 141 + 200 + 364 + 365 + 400, 2
    )


def test_a_completion_is_counted_in_every_cycle_and_breakdown_of_its_kpi() -> None:
    case = plan_case(140)  # final plan 2026-08-19
    keys = {(cycle, b) for kpi, cycle, b in contributions(case, KPIS) if kpi == "ehcp_20wk"}
    breakdowns = {
        "all",
        "locality=shrewsbury",
        "age_band=5-10",
        "primary_need=unknown",
        "sex=unknown",
        "ethnicity=unknown",
        "phase=primary",  # ehcp_20wk declares the phase breakdown (Reform Plan 001:476)
    }
    calendar = {"2026-08", "2026/27-Q2", "2026/27", "2026"}
    rolling = {
        f"R12-{y}-{m:02d}"
        for y, m in [(2026, m) for m in range(8, 13)] + [(2027, m) for m in range(1, 8)]
    }
    assert keys == {(c, b) for c in calendar for b in breakdowns} | {(r, "all") for r in rolling}


def test_twenty_weeks_across_29_february_2028(years_ahead: None) -> None:
    received = date(2028, 2, 10)
    assert received + timedelta(days=140) == date(2028, 6, 29)  # 29 Feb 2028 is a day
    assert (date(2028, 6, 29) - received).days == 140
    request = at(datetime(2028, 2, 10, 9, tzinfo=UTC))
    on_time = fold([request, at(datetime(2028, 6, 29, 9, tzinfo=UTC), FINAL)])
    late = fold([request, at(datetime(2028, 6, 30, 9, tzinfo=UTC), FINAL)])
    assert twenty_week(on_time) == Agg(1, 1, 140, 0)
    assert twenty_week(late) == Agg(0, 1, 141, 0)
    assert ("ehcp_20wk", "2028/29-Q1", "all") in contributions(on_time, KPIS)


def test_days_are_english_calendar_days() -> None:
    """A plan sent at 23:30 UTC in summer is issued the next day in England."""
    request = at(datetime(2026, 4, 1, 9, tzinfo=UTC))
    just_in = fold([request, at(datetime(2026, 8, 19, 22, 59, tzinfo=UTC), FINAL)])
    next_day = fold([request, at(datetime(2026, 8, 19, 23, 30, tzinfo=UTC), FINAL)])
    assert local_date(datetime(2026, 8, 19, 23, 30, tzinfo=UTC)) == date(2026, 8, 20)
    assert local_date(datetime(2026, 12, 1, 23, 30, tzinfo=UTC)) == date(2026, 12, 1)  # GMT
    assert twenty_week(just_in) == Agg(1, 1, 140, 0)
    assert twenty_week(next_day) == Agg(0, 1, 141, 0)


def test_an_exception_counts_in_ehcp_20wk_but_not_in_ehcp_20wk_ex() -> None:
    with_exception = plan_case(150, ev(EXCEPTION, 60, reason="10(4)(b)"))
    without = plan_case(150)
    assert with_exception.has_exception
    assert twenty_week(with_exception) == Agg(0, 1, 150, 0)
    assert "ehcp_20wk_ex" not in kpis_of(with_exception)
    assert twenty_week(without, "ehcp_20wk_ex") == Agg(0, 1, 150, 0)
    # other measures are unaffected by the exception
    assert "decision_6wk" in kpis_of(with_exception)


# --- cases that end without a plan --------------------------------------------------------


@pytest.mark.parametrize(
    ("ending", "reason"),
    [
        ([(DECIDE_TO_ASSESS, 30, "W")], "withdrawn"),
        ([(DECIDE_TO_ASSESS, 30, "N")], "not_assessed"),
        ([(DECIDE_TO_ASSESS, 30, "Y"), (ASSESSMENT_DECISION, 100, "N")], "not_issued"),
        ([(DECIDE_TO_ASSESS, 30, "Y"), (ASSESSMENT_DECISION, 100, "W")], "withdrawn"),
    ],
)
def test_cases_that_end_without_a_plan_have_no_20_week_contribution(
    ending: list[tuple[str, int, str]], reason: str
) -> None:
    case = fold([ev(), *(ev(t, d, outcome=o) for t, d, o in ending)])
    assert case.closed_reason == reason
    assert not case.is_open
    assert not kpis_of(case) & set(TWENTY_WEEK_KPIS)


@pytest.mark.parametrize(("day", "num"), [(100, 1), (112, 1), (113, 0), (200, 0)])
def test_not_issue_decision_counts_in_not_issue_16wk(day: int, num: int) -> None:
    case = fold(
        [ev(), ev(DECIDE_TO_ASSESS, 20, outcome="Y"), ev(ASSESSMENT_DECISION, day, outcome="N")]
    )
    assert contributions(case, KPIS)[("not_issue_16wk", month(on(day)), "all")] == Agg(
        num, 1, day, 0
    )


@pytest.mark.parametrize("outcome", ["Y", "W"])
def test_only_a_not_issue_decision_counts_in_not_issue_16wk(outcome: str) -> None:
    case = fold(
        [ev(), ev(DECIDE_TO_ASSESS, 20, outcome="Y"), ev(ASSESSMENT_DECISION, 90, outcome=outcome)]
    )
    assert case.not_issue_decision is None
    assert "not_issue_16wk" not in kpis_of(case)


@pytest.mark.parametrize("outcome", ["Y", "N"])
@pytest.mark.parametrize(("day", "num"), [(0, 1), (42, 1), (43, 0)])
def test_decision_6wk_counts_decisions_to_assess_and_not_to_assess(
    outcome: str, day: int, num: int
) -> None:
    case = fold([ev(), ev(DECIDE_TO_ASSESS, day, outcome=outcome)])
    assert contributions(case, KPIS)[("decision_6wk", month(on(day)), "all")] == Agg(num, 1, day, 0)


def test_decision_6wk_needs_a_decision() -> None:
    assert "decision_6wk" not in kpis_of(fold([ev()]))


def test_a_withdrawn_request_is_not_a_decision_whether_to_assess() -> None:
    case = fold([ev(), ev(DECIDE_TO_ASSESS, 30, outcome="W")])
    assert "decision_6wk" not in kpis_of(case)


def test_an_end_before_the_start_is_ignored() -> None:
    case = fold([ev(REQUEST, 10), ev(FINAL, 5)])
    assert "ehcp_20wk" not in kpis_of(case)


# --- historical cases and transfers in ------------------------------------------------


def test_a_historical_request_contributes_nothing_and_raises_nothing() -> None:
    case = fold([ev(historical=True), ev(DECIDE_TO_ASSESS, 50, outcome="Y"), ev(FINAL, 300)])
    assert case.historical
    assert contributions(case, KPIS) == {}
    still_open = fold([ev(historical=True)])
    assert contributions(still_open, KPIS) == {}
    assert alerts_due(still_open, on(400), frozenset()) == []
    assert next_deadline(still_open, on(400)) is None
    o = outlook("ehcp_20wk", "2027/28-Q1", ZERO, [still_open], on(400), 70.0)
    assert (o.open_cases, o.certain_breaches, o.best_achievable) == (0, 0, None)


def test_a_historical_request_is_not_open() -> None:
    case = fold([ev(historical=True)])
    assert not case.is_open
    assert not case.open_on(on(10))


def test_a_historical_transfer_in_contributes_nothing_and_is_not_open() -> None:
    for data in ({}, {"historical": True}):
        case = fold([ev(TRANSFER_IN, 0, other_la="894", **data), ev(FINAL, 30)])
        assert case.historical
        assert case.received is None
        assert contributions(case, KPIS) == {}
        assert not fold([ev(TRANSFER_IN, 0, **data)]).is_open


@pytest.mark.parametrize(("final_day", "num"), [(150, 1), (151, 0)])
def test_an_assessment_transferred_in_starts_its_clock_on_the_transfer(
    final_day: int, num: int
) -> None:
    case = fold([ev(TRANSFER_IN, 10, historical=False, other_la="894"), ev(FINAL, final_day)])
    assert not case.historical
    assert case.received == on(10)
    assert not case.is_open  # the plan closed it
    assert twenty_week(case) == Agg(num, 1, final_day - 10, 0)
    assert fold([ev(TRANSFER_IN, 10, historical=False)]).is_open


def test_two_requests_for_one_person_are_two_independent_cases() -> None:
    person = "p-00000077"
    ludlow = {"person_id": person, "locality": "ludlow"}
    events = [
        ev(REQUEST, 0, case=1, person_id=person),
        ev(REQUEST, 200, case=2, **ludlow),
        ev(DECIDE_TO_ASSESS, 20, case=1, person_id=person, outcome="Y"),
        ev(DECIDE_TO_ASSESS, 230, case=2, outcome="N", **ludlow),
        ev(FINAL, 100, case=1, person_id=person),
    ]
    states = fold_by_case(events)
    first, second = states["case-00000001"], states["case-00000002"]
    assert first.person_id == second.person_id == person
    assert (first.received, second.received) == (on(0), on(200))
    assert (first.closed_reason, second.closed_reason) == ("plan_issued", "not_assessed")
    assert (first.locality, second.locality) == ("shrewsbury", "ludlow")
    totals = recompute(states.values(), KPIS)
    assert totals[("ehcp_20wk", month(on(100)), "all")] == Agg(1, 1, 100, 0)
    assert totals[("decision_6wk", "2026", "all")] == Agg(2, 2, 20 + 30, 0)
    assert totals[("decision_6wk", "2026", "locality=ludlow")] == Agg(1, 1, 30, 0)


def test_delta_turns_the_old_contribution_into_the_new_one() -> None:
    before = fold([ev(), ev(DECIDE_TO_ASSESS, 20, outcome="Y")])
    after = apply(
        apply(before, ev(FINAL, 141)), ev(CEASED, 160, cease_reason="2", locality="ludlow")
    )
    assert after.locality == "ludlow"
    d = delta(before, after, KPIS)
    merged = dict(contributions(before, KPIS))
    for key, change in d.items():
        merged[key] = merged.get(key, ZERO) + change
    assert {k: v for k, v in merged.items() if not v.is_zero} == contributions(after, KPIS)
    assert delta(after, after, KPIS) == {}


# --- cycles, targets and RAG ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "day", "labels"),
    [
        ("week", date(2026, 4, 1), ["2026-W14"]),
        ("week", date(2027, 1, 1), ["2026-W53"]),
        ("week", date(2029, 12, 31), ["2030-W01"]),
        ("month", date(2028, 2, 29), ["2028-02"]),
        ("quarter", date(2026, 4, 1), ["2026/27-Q1"]),
        ("quarter", date(2026, 6, 30), ["2026/27-Q1"]),
        ("quarter", date(2026, 7, 1), ["2026/27-Q2"]),
        ("quarter", date(2026, 12, 31), ["2026/27-Q3"]),
        ("quarter", date(2027, 1, 1), ["2026/27-Q4"]),
        ("quarter", date(2027, 1, 31), ["2026/27-Q4"]),
        ("quarter", date(2027, 3, 31), ["2026/27-Q4"]),
        ("quarter", date(2027, 4, 1), ["2027/28-Q1"]),
        ("plan_year", date(2027, 3, 31), ["2026/27"]),
        ("plan_year", date(2027, 4, 1), ["2027/28"]),
        ("plan_year", date(2099, 12, 1), ["2099/00"]),
        ("calendar_year", date(2027, 1, 1), ["2027"]),
        ("calendar_year", date(2026, 12, 31), ["2026"]),
        (
            "rolling_12",
            date(2026, 11, 15),
            [f"R12-2026-{m:02d}" for m in range(11, 13)]
            + [f"R12-2027-{m:02d}" for m in range(1, 11)],
        ),
    ],
)
def test_labels_for(kind: str, day: date, labels: list[str]) -> None:
    assert labels_for(kind, day) == labels


@pytest.mark.parametrize(
    ("kind", "label", "bounds"),
    [
        ("week", "2026-W14", (date(2026, 3, 30), date(2026, 4, 5))),
        ("week", "2026-W53", (date(2026, 12, 28), date(2027, 1, 3))),
        ("month", "2028-02", (date(2028, 2, 1), date(2028, 2, 29))),
        ("month", "2026-12", (date(2026, 12, 1), date(2026, 12, 31))),
        ("quarter", "2026/27-Q1", (date(2026, 4, 1), date(2026, 6, 30))),
        ("quarter", "2026/27-Q3", (date(2026, 10, 1), date(2026, 12, 31))),
        ("quarter", "2026/27-Q4", (date(2027, 1, 1), date(2027, 3, 31))),
        ("plan_year", "2026/27", (date(2026, 4, 1), date(2027, 3, 31))),
        ("calendar_year", "2026", (date(2026, 1, 1), date(2026, 12, 31))),
        ("rolling_12", "R12-2027-03", (date(2026, 4, 1), date(2027, 3, 31))),
        ("rolling_12", "R12-2027-01", (date(2026, 2, 1), date(2027, 1, 31))),
    ],
)
def test_cycle_bounds(kind: str, label: str, bounds: tuple[date, date]) -> None:
    assert cycle_bounds(kind, label) == bounds
    assert kind_of(label) == kind


@pytest.mark.parametrize(
    "kind", ["week", "month", "quarter", "plan_year", "calendar_year", "rolling_12"]
)
def test_every_day_lies_in_the_bounds_of_its_cycles(kind: str) -> None:
    day = date(2025, 12, 1)
    while day < date(2029, 4, 15):
        for label in labels_for(kind, day):
            first, last = cycle_bounds(kind, label)
            assert first <= day <= last, (kind, day, label)
            assert kind_of(label) == kind
            if kind != "rolling_12":  # rolling windows overlap
                assert cycle_bounds(kind, previous(label))[1] == first - timedelta(days=1)
        day += timedelta(days=1)


def test_labels_for_rejects_an_unknown_kind() -> None:
    with pytest.raises(ValueError):
        labels_for("fortnight", DAY0)


@pytest.mark.parametrize(
    ("cycle", "target"),
    [
        ("2026/27-Q1", None),
        ("2026/27-Q2", None),
        ("2026-09", None),
        ("2026-10", 65.0),
        ("2026-11", 65.0),
        ("2026/27-Q3", 65.0),
        ("2026", 65.0),
        ("2026-W40", 65.0),  # 28 Sep - 4 Oct 2026: the target in force at its end
        ("2027-02", 70.0),
        ("2026/27-Q4", 70.0),
        ("2026/27", 70.0),
        ("R12-2027-01", 70.0),
        ("2028/29-Q3", 70.0),
        ("2028-12", 70.0),
        ("2028/29-Q4", 90.0),
        ("2029-01", 90.0),
        ("2028/29", 90.0),
        ("2031/32", 90.0),
        ("current", None),
    ],
)
def test_target_for_the_ehcp_trajectory(cycle: str, target: float | None) -> None:
    for kpi in TWENTY_WEEK_KPIS:
        assert target_for(KPIS.kpis[kpi], cycle) == target


def test_no_trajectory_means_no_target() -> None:
    assert target_for(KPIS.kpis["decision_6wk"], "2027-02") is None


@pytest.mark.parametrize(
    ("kpi", "value", "target", "expected"),
    [
        ("ehcp_20wk", 70.0, 70.0, "green"),
        ("ehcp_20wk", 80.0, 70.0, "green"),
        ("ehcp_20wk", 65.0, 70.0, "amber"),
        ("ehcp_20wk", 64.9, 70.0, "red"),
        ("ehcp_20wk", None, 70.0, "none"),
        ("ehcp_20wk", 90.0, None, "green"),  # no target: the standard (90) applies
        ("ehcp_20wk", 85.0, None, "amber"),
        ("ehcp_20wk", 84.9, None, "red"),
        ("decision_6wk", 100.0, None, "green"),
        ("decision_6wk", 94.9, None, "red"),
        ("backlog_over_20wk", 0.0, None, "green"),  # lower is better, standard 0
        ("backlog_over_20wk", 5.0, None, "amber"),
        ("backlog_over_20wk", 6.0, None, "red"),
        ("open_caseload", 300.0, None, "none"),  # direction none
    ],
)
def test_rag(kpi: str, value: float | None, target: float | None, expected: str) -> None:
    assert KPIS.rag.amber_margin == 5.0
    k = KPIS.kpis[kpi]
    goal = target if target is not None else k.standard  # no target: judged on the standard
    assert rag(k, value, goal, KPIS.rag.amber_margin) == expected


# --- statutory clocks ---------------------------------------------------------------------


def first_alerts(case: Case, days: range) -> list[tuple[int, str]]:
    """Live through ``days`` with a tick a day; return (day, alert key) as each fires."""
    raised: set[str] = set()
    fired: list[tuple[int, str]] = []
    for day in days:
        for alert in alerts_due(case, on(day), frozenset(raised)):
            assert alert.key not in raised
            raised.add(alert.key)
            fired.append((day, alert.key))
    return fired


def test_decision_to_assess_clock() -> None:
    case = fold([ev()])
    none: frozenset[str] = frozenset()
    assert alerts_due(case, on(34), none) == []
    (warning,) = alerts_due(case, on(35), none)
    assert (warning.milestone, warning.kind, warning.kpi) == (
        "decision_to_assess",
        "early_warning",
        "decision_6wk",
    )
    assert (warning.start, warning.due, warning.day, warning.fired_on) == (
        DAY0,
        on(42),
        35,
        on(35),
    )
    raised = frozenset({warning.key})
    assert alerts_due(case, on(36), raised) == []
    assert alerts_due(case, on(42), raised) == []  # day 42 is still on time
    (slip,) = alerts_due(case, on(43), raised)
    assert (slip.key, slip.day, slip.due) == ("decision_to_assess:slipped", 43, on(42))
    assert alerts_due(case, on(50), raised | {slip.key}) == []
    # a clock that first looks after the due day reports the slip, not the warning
    assert [a.key for a in alerts_due(case, on(60), none)] == ["decision_to_assess:slipped"]


def test_a_case_with_no_progress_raises_each_alert_once_on_its_day() -> None:
    assert first_alerts(fold([ev()]), range(0, 400)) == [
        (35, "decision_to_assess:early_warning"),
        (43, "decision_to_assess:slipped"),
        (105, "not_issue_decision:early_warning"),
        (113, "not_issue_decision:slipped"),
        (119, "draft_plan:early_warning"),
        (126, "draft_plan:slipped"),
        (126, "final_plan:early_warning"),
        (141, "final_plan:slipped"),
    ]


def test_a_decision_on_day_40_stops_the_decision_clock() -> None:
    case = fold([ev(), ev(DECIDE_TO_ASSESS, 40, outcome="Y")])
    fired = first_alerts(case, range(40, 100))
    assert not [key for _, key in fired if key.startswith("decision_to_assess")]
    # replaying from before the decision: the warning was owed on days 35-39
    assert first_alerts(case, range(0, 100)) == [(35, "decision_to_assess:early_warning")]


def test_draft_and_final_plan_clocks() -> None:
    assessing = fold(
        [ev(), ev(DECIDE_TO_ASSESS, 20, outcome="Y"), ev(ASSESSMENT_DECISION, 100, outcome="Y")]
    )
    fired = first_alerts(assessing, range(0, 400))
    assert fired == [
        (119, "draft_plan:early_warning"),
        (126, "draft_plan:slipped"),
        (126, "final_plan:early_warning"),
        (141, "final_plan:slipped"),
    ]
    drafted = apply(assessing, ev(DRAFT, 110))
    assert first_alerts(drafted, range(0, 400)) == [
        (126, "final_plan:early_warning"),
        (141, "final_plan:slipped"),
    ]
    final = apply(drafted, ev(FINAL, 140))
    assert first_alerts(final, range(0, 400)) == [(126, "final_plan:early_warning")]
    assert alerts_due(final, on(141), frozenset()) == []


@pytest.mark.parametrize(
    "ending",
    [
        (DECIDE_TO_ASSESS, 30, {"outcome": "N"}),
        (DECIDE_TO_ASSESS, 30, {"outcome": "W"}),
        (ASSESSMENT_DECISION, 30, {"outcome": "N"}),
        (ASSESSMENT_DECISION, 30, {"outcome": "W"}),
        (FINAL, 30, {}),
        (TRANSFER_OUT, 30, {"other_la": "894"}),
        (CEASED, 30, {"cease_reason": "5"}),
    ],
)
def test_a_closed_case_raises_nothing(ending: tuple[str, int, dict[str, Any]]) -> None:
    etype, day, data = ending
    case = fold([ev(), ev(ADVICE_REQUESTED, 5, advice_giver="health"), ev(etype, day, **data)])
    assert case.closed_on == on(30)
    for today in (30, 43, 141, 400):
        assert alerts_due(case, on(today), frozenset()) == []
    assert next_deadline(case, on(31)) is None


def test_advice_clocks_start_at_the_advice_request() -> None:
    case = fold(
        [
            ev(),
            ev(DECIDE_TO_ASSESS, 20, outcome="Y"),
            ev(ADVICE_REQUESTED, 50, advice_giver="health"),
            ev(ADVICE_REQUESTED, 50, advice_giver="ep"),
            ev(ADVICE_RECEIVED, 90, advice_giver="ep"),
        ]
    )
    fired = [(day, key) for day, key in first_alerts(case, range(0, 200)) if "advice" in key]
    assert fired == [
        (85, "advice_ep:early_warning"),
        (85, "advice_health:early_warning"),
        (93, "advice_health:slipped"),
    ]
    (warning,) = [
        a for a in alerts_due(case, on(85), frozenset()) if a.milestone == "advice_health"
    ]
    assert (warning.start, warning.due, warning.day, warning.kpi) == (
        on(50),
        on(92),
        35,
        "advice_6wk_health",
    )
    # advice returned within 6 weeks of its request counts as on time
    assert contributions(case, KPIS)[("advice_6wk_ep", month(on(90)), "all")] == Agg(1, 1, 40, 0)
    nxt = next_deadline(case, on(91))
    assert nxt is not None and (nxt.milestone, nxt.due) == ("advice_health", on(92))


# --- the outlook for the current cycle ------------------------------------------------------


def open_case(case: int, days_open: int, today: date, **data: Any) -> Case:
    start = datetime.combine(today - timedelta(days=days_open), BASE_TIME.timetz())
    return fold([at(start, case=case, **data)])


def test_outlook_counts_certain_breaches_and_the_best_achievable() -> None:
    today = date(2026, 12, 1)
    cases = [
        open_case(1, 141, today),  # late whenever issued
        open_case(2, 140, today),  # can still be on time
        open_case(3, 250, today),  # late
        open_case(4, 10, today),  # can still be on time
        open_case(5, 300, today, historical=True),  # not measured
    ]
    exception = apply(open_case(6, 300, today), ev(EXCEPTION, 10, case=6, reason="10(4)(d)"))
    so_far = Agg(num=6, den=10, days=1300, over_year=0)
    k = KPIS.kpis["ehcp_20wk"]
    o = outlook("ehcp_20wk", "2026/27-Q3", so_far, [*cases, exception], today, 65.0)
    assert (o.issued, o.on_time, o.open_cases, o.certain_breaches) == (10, 6, 5, 3)
    could, late = 2, 3
    assert o.best_achievable == round(100 * (6 + could) / (10 + could + late), 1) == 53.3
    assert o.target_still_possible is False
    text = o.sentence(k.name)
    for part in ("3 open case(s)", "53.3%", "2026/27-Q3", "65%", "can no longer be met"):
        assert part in text

    k_ex = KPIS.kpis["ehcp_20wk_ex"]
    o_ex = outlook("ehcp_20wk_ex", "2026/27-Q3", so_far, [*cases, exception], today, 50.0)
    assert (o_ex.open_cases, o_ex.certain_breaches) == (4, 2)
    assert o_ex.best_achievable == round(100 * (6 + 2) / (10 + 2 + 2), 1) == 57.1
    assert o_ex.target_still_possible is True
    assert "can still be met" in o_ex.sentence(k_ex.name)


def test_outlook_without_a_target_or_any_cases() -> None:
    k = KPIS.kpis["ehcp_20wk"]
    today = date(2026, 5, 1)
    o = outlook("ehcp_20wk", "2026/27-Q1", Agg(1, 2, 200, 0), [open_case(1, 5, today)], today, None)
    assert o.best_achievable == round(100 * 2 / 3, 1)
    assert o.target_still_possible is None
    assert o.sentence(k.name).endswith(f"{o.best_achievable:.1f}%.")
    empty = outlook("ehcp_20wk", "2026/27-Q1", ZERO, [], today, 65.0)
    assert empty.best_achievable is None and empty.target_still_possible is None
    assert empty.sentence(k.name).startswith("No plans issued or open")


# --- the fold: out of order and duplicated ---------------------------------------------------


def rich_history() -> list[CaseEvent]:
    """Every kind of event one case can have, with attributes that change and tie."""
    noon = BASE_TIME + timedelta(days=60)
    return [
        ev(REQUEST, 3, sex="F"),
        ev(REQUEST, 0, locality="oswestry"),  # the earliest request is the clock start
        ev(DECIDE_TO_ASSESS, 25, outcome="Y"),
        ev(DECIDE_TO_ASSESS, 31, outcome="N"),  # the first decision stands
        ev(ADVICE_REQUESTED, 30, advice_giver="ep"),
        ev(ADVICE_REQUESTED, 32, advice_giver="ep"),
        ev(ADVICE_REQUESTED, 30, advice_giver="health", age_band="11-15"),
        ev(ADVICE_RECEIVED, 70, advice_giver="ep"),
        ev(ADVICE_RECEIVED, 80, advice_giver="health"),
        ev(EXCEPTION, 40, reason="10(4)(b)"),
        ev(EXCEPTION, 45, reason="10(4)(d)"),
        ev("ehc.exception.ended", 60, reason="10(4)(b)"),
        at(noon, NEED, sen_type="SEMH", primary_need="ASD"),  # rank 1 sets primary need
        at(noon, NEED, sen_type="ASD", rank=2),  # rank 2 keeps the envelope's (none)
        at(noon, ADVICE_RECEIVED, advice_giver="education", locality="ludlow"),
        at(noon, ADVICE_REQUESTED, advice_giver="education", locality="bridgnorth"),
        ev(DRAFT, 120),
        ev(DRAFT, 118, sex="M"),
        ev(ASSESSMENT_DECISION, 125, outcome="Y"),
        ev(ASSESSMENT_DECISION, 125, outcome="N"),  # same day: the smaller code wins
        ev(FINAL, 150),
        ev(FINAL, 149, ethnicity="WBRI"),
        ev(CEASED, 400, cease_reason="2"),
    ]


def test_folding_out_of_order_with_duplicates_gives_the_same_state() -> None:
    events = rich_history()
    ordered = sorted(events, key=lambda e: e.time)
    expected = fold(ordered)
    assert expected.received == on(0)
    assert (expected.decision_to_assess, expected.decision_outcome) == (on(25), "Y")
    assert expected.advice_requested == {"ep": on(30), "health": on(30), "education": on(60)}
    assert expected.advice_received["ep"] == on(70)
    assert expected.exception_starts == {("10(4)(b)", on(40)), ("10(4)(d)", on(45))}
    assert (expected.draft_issued, expected.final_issued) == (on(118), on(149))
    assert (expected.assessment_decision, expected.assessment_outcome) == (on(125), "N")
    assert expected.closed_on == on(125) and expected.closed_reason == "not_issued"
    # attributes: the latest event carrying one; ties at noon go to the smaller value
    assert expected.locality == "shrewsbury"  # the ceased event on day 400 is latest
    assert expected.primary_need == "SEMH"
    assert (expected.sex, expected.age_band, expected.ethnicity) == ("M", "5-10", "WBRI")
    rng = random.Random(20260401)
    for _ in range(25):
        stream = events + rng.sample(events, k=len(events) // 2)
        rng.shuffle(stream)
        assert fold(stream) == expected
    assert apply(expected, events[5]) == expected


def test_attribute_ties_do_not_depend_on_arrival_order() -> None:
    noon = BASE_TIME + timedelta(days=60)
    events = [
        ev(),
        at(noon, ADVICE_REQUESTED, advice_giver="ep", locality="oswestry", sex="M"),
        at(noon, ADVICE_REQUESTED, advice_giver="health", locality="ludlow", sex="F"),
        at(noon, ADVICE_REQUESTED, advice_giver="education", locality="market-drayton"),
    ]
    for perm in itertools.permutations(events):
        state = fold(perm)
        assert (state.locality, state.sex) == ("ludlow", "F")
