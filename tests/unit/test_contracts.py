"""Contracts are strict: unknown fields, personal data and unknown types are rejected."""

from __future__ import annotations

import hashlib

import pytest
from pydantic import ValidationError

from contracts.case_events import CASE_EVENT_TYPES, parse_case_event
from contracts.dlq import RejectReason, classify, dead_letter
from contracts.privacy import find_personal_data
from contracts.snapshots import KpiSnapshot
from contracts.sources import load_sources
from contracts.topics import load_topics
from tests.helpers import DEV_KEY, case_event


def reason_of(raw: object) -> tuple[RejectReason, str | None]:
    with pytest.raises(ValidationError) as info:
        parse_case_event(raw)  # type: ignore[arg-type]
    reason, field, _ = classify(info.value)
    return reason, field


def test_every_event_type_round_trips() -> None:
    extra = {
        "ehc.assessment.decision-to-assess": {"outcome": "Y"},
        "ehc.assessment.decision": {"outcome": "N"},
        "ehc.advice.requested": {"advice_giver": "health"},
        "ehc.advice.received": {"advice_giver": "ep"},
        "ehc.exception.started": {"reason": "10(4)(b)"},
        "ehc.exception.ended": {"reason": "10(4)(b)"},
        "ehc.plan.ceased": {"cease_reason": "5"},
        "ehc.need.recorded": {"sen_type": "ASD"},
        "ehc.case.transferred-in": {"other_la": "894"},
    }
    assert len(CASE_EVENT_TYPES) == 13
    for i, etype in enumerate(sorted(CASE_EVENT_TYPES)):
        ev = parse_case_event(case_event(i, etype, data=extra.get(etype)))
        assert ev.type == etype
        again = parse_case_event(ev.model_dump_json())
        assert again == ev
        assert ev.partition_key() == ev.subject.encode()


def test_strictness() -> None:
    assert reason_of({**case_event(1), "extra": 1}) == (RejectReason.UNKNOWN_FIELD, "extra")
    nested = case_event(1, data={"favourite": "x"})
    assert reason_of(nested) == (RejectReason.UNKNOWN_FIELD, "data.favourite")
    assert reason_of({**case_event(1), "type": "ehc.nope"})[0] is RejectReason.UNKNOWN_TYPE
    no_time = case_event(1)
    del no_time["time"]
    assert reason_of(no_time) == (RejectReason.MISSING_FIELD, "time")
    naive = {**case_event(1), "time": "2026-04-01T09:00:00"}
    assert reason_of(naive)[0] is RejectReason.INVALID_VALUE
    assert reason_of(b"{nope")[0] is RejectReason.MALFORMED_JSON
    wrong_code = case_event(1, "ehc.assessment.decision", data={"outcome": "Q"})
    assert reason_of(wrong_code) == (RejectReason.INVALID_VALUE, "data.outcome")


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"data": {"surname": "Smith"}}, "data.surname"),
        ({"data": {"Forename": "Sam"}}, "data.Forename"),
        ({"data": {"dob": "2014-01-01"}}, "data.dob"),
        ({"data": {"UPN": "x"}}, "data.UPN"),
        ({"data": {"post-code": "x"}}, "data.post-code"),
        ({"data": {"nhs_number": "x"}}, "data.nhs_number"),
        ({"subject": "case-H801200001001"}, "subject"),
        ({"data": {"locality": "TF1 2AB"}}, "data.locality"),
    ],
)
def test_personal_data_is_refused(patch: dict, field: str) -> None:
    ev = case_event(1)
    if "data" in patch:
        ev["data"] = {**ev["data"], **patch["data"]}
    else:
        ev.update(patch)
    assert reason_of(ev) == (RejectReason.PERSONAL_DATA, field)


def test_pseudonymous_ids_do_not_trip_the_guard() -> None:
    for value in ("case-3fa85f64a1b2", "p-00012345", "evt-0000000001", "2026-04-01T09:00:00Z"):
        assert find_personal_data({"x": value}) is None


@pytest.mark.parametrize("reason", list(RejectReason))
def test_dead_letter_never_carries_the_input(reason: RejectReason) -> None:
    """Whatever the reason, a dead letter keeps the digest and size of the input, never
    the input: any field of it may hold free text (names are not recognisable)."""
    raw = '{"id": "evt-00000001", "colour": "Jane Smithson", "x": "943 476 5919", "pc": "SY3 8HQ"}'
    letter = dead_letter(
        rejected_by="ingest",
        reason=reason,
        field="colour",
        message="unknown field (not in the contract)",
        raw=raw,
        original_id="evt-00000001",
    )
    text = letter.model_dump_json()
    for value in ("Jane", "Smithson", "943 476 5919", "SY3 8HQ"):
        assert value not in text
    assert "payload" not in letter.data.model_dump(exclude={"payload_sha256", "payload_bytes"})
    assert letter.data.payload_sha256 == hashlib.sha256(raw.encode()).hexdigest()
    assert letter.data.payload_bytes == len(raw.encode())
    assert letter.data.original_id == "evt-00000001" and letter.data.field == "colour"


def test_dead_letter_drops_ids_and_field_names_that_hold_personal_data() -> None:
    letter = dead_letter(
        rejected_by="ingest",
        reason=RejectReason.UNKNOWN_FIELD,
        field="data.943 476 5919",
        message="unknown field (not in the contract)",
        raw="{}",
        original_id="evt-9434765919",
    )
    assert letter.data.original_id is None
    assert letter.data.field == "data.<unnamed>"
    assert "9434765919" not in letter.model_dump_json()


def test_topic_catalogue_and_sources() -> None:
    topics = load_topics()
    assert topics.name("case-events") == "sendwatch.case-events.v1"
    assert topics["case-events"].key == "subject"
    assert {t.name for t in topics.topics.values()} >= {
        "sendwatch.dlq.v1",
        "sendwatch.kpi-snapshots.v1",
    }
    sources = load_sources()
    assert sources.authenticate(DEV_KEY) == "case-management"
    assert sources.authenticate("guess") is None
    assert sources.sources["case-management"].may_send("ehc.plan.final-issued")
    assert not sources.sources["placements"].may_send("ehc.plan.final-issued")


def test_snapshot_contract() -> None:
    snap = KpiSnapshot.model_validate(
        {
            "id": "snap-timeliness-000000000001",
            "source": "timeliness",
            "type": "sendwatch.kpi.snapshot",
            "subject": "kpi-set:timeliness",
            "time": "2026-04-01T00:00:00Z",
            "data": {
                "producer": "timeliness",
                "sequence": 1,
                "as_of": None,
                "events_applied": 0,
                "values": [],
            },
        }
    )
    assert snap.data.sequence == 1
