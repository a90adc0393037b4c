"""Open caseload projection: order-independent and duplicate-safe."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.case_events import parse_case_event
from services.timeliness.domain.caseload import CaseRecord, apply, open_caseload
from tests.helpers import case_event


def fold(events: list) -> dict[str, CaseRecord]:
    records: dict[str, CaseRecord] = {}
    for ev in events:
        records[ev.subject] = apply(records.get(ev.subject), ev)
    return records


def history(case: int, kind: int) -> list:
    evs = [case_event(case * 10, case=case)]
    if kind == 1:
        evs.append(
            case_event(
                case * 10 + 1,
                "ehc.assessment.decision-to-assess",
                case=case,
                day=20,
                data={"outcome": "N"},
            )
        )
    elif kind == 2:
        evs.append(case_event(case * 10 + 2, "ehc.plan.final-issued", case=case, day=130))
    elif kind == 3:
        evs.append(
            case_event(
                case * 10 + 3,
                "ehc.assessment.decision-to-assess",
                case=case,
                day=20,
                data={"outcome": "Y"},
            )
        )
    return [parse_case_event(e) for e in evs]


def test_closing_events() -> None:
    recs = fold(history(1, 0) + history(2, 1) + history(3, 2) + history(4, 3))
    assert {c: r.is_open for c, r in recs.items()} == {
        "case-00000001": True,
        "case-00000002": False,
        "case-00000003": False,
        "case-00000004": True,
    }
    assert recs["case-00000002"].closed_reason == "not_assessed"
    assert recs["case-00000003"].closed_reason == "plan_issued"
    assert open_caseload(list(recs.values())) == 2


def test_historical_transfer_in_does_not_open_a_case() -> None:
    ev = parse_case_event(case_event(1, "ehc.case.transferred-in", data={"historical": True}))
    assert not apply(None, ev).is_open
    ev2 = parse_case_event(case_event(2, "ehc.case.transferred-in", data={"historical": False}))
    assert apply(None, ev2).is_open


@settings(max_examples=60, deadline=None)
@given(
    kinds=st.lists(st.integers(min_value=0, max_value=3), min_size=1, max_size=12),
    data=st.data(),
)
def test_any_order_with_duplicates_gives_the_same_state(kinds: list[int], data) -> None:
    events = [ev for case, kind in enumerate(kinds) for ev in history(case, kind)]
    shuffled = data.draw(st.permutations(events + events[: len(events) // 2]))
    assert fold(list(shuffled)) == fold(events)
    assert open_caseload(list(fold(events).values())) == sum(1 for k in kinds if k in (0, 3))
