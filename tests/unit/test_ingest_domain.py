"""The ingest verdicts, without a broker."""

from __future__ import annotations

from datetime import UTC, datetime

from contracts.dlq import RejectReason
from contracts.sources import load_sources
from services.ingest.domain.intake import all_foreign, check_batch
from tests.helpers import case_event

NOW = datetime(2026, 5, 1, tzinfo=UTC)
SPEC = load_sources().sources["case-management"]


def test_mixed_batch_keeps_the_valid_events() -> None:
    items = [case_event(1), {**case_event(2), "oops": 1}, case_event(3)]
    verdicts = check_batch(items, "case-management", SPEC, NOW)
    assert [v.accepted for v in verdicts] == [True, False, True]
    assert verdicts[1].reason is RejectReason.UNKNOWN_FIELD
    assert verdicts[0].event is not None and verdicts[0].event.recorded == NOW
    assert not all_foreign(verdicts)


def test_recorded_is_kept_when_the_source_sets_it() -> None:
    ev = {**case_event(1), "recorded": "2026-04-02T10:00:00+01:00"}
    (v,) = check_batch([ev], "case-management", SPEC, NOW)
    assert v.event is not None and v.event.recorded != NOW


def test_personal_data_outranks_other_problems() -> None:
    ev = {**case_event(1), "type": "nope", "surname": "Smith"}
    (v,) = check_batch([ev], "case-management", SPEC, NOW)
    assert (v.reason, v.field) == (RejectReason.PERSONAL_DATA, "surname")
    assert "Smith" not in str(v.as_result())


def test_foreign_source() -> None:
    verdicts = check_batch([case_event(1, source="placements")], "case-management", SPEC, NOW)
    assert verdicts[0].reason is RejectReason.FORBIDDEN_SOURCE
    assert all_foreign(verdicts)
    nhs = load_sources().sources["nhs-community"]
    (v,) = check_batch([case_event(1, source="nhs-community")], "nhs-community", nhs, NOW)
    assert (v.reason, v.field) == (RejectReason.FORBIDDEN_SOURCE, "type")
