"""The personal-data guard (contracts/privacy.py), the locality list and the
plausibility window, on every string and every date of an event."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from contracts.case_events import parse_case_event
from contracts.dlq import RejectReason, classify
from contracts.plausibility import TimeWindow, load_window
from contracts.privacy import find_personal_data, nhs_number_valid, upn_check_letter
from contracts.timeline import ClockTick
from services.ingest.sources.sen2.pseudonymise import Pseudonymiser
from services.ingest.sources.simulator.model import generate_cases
from tests.helpers import case_event


def synthetic_nhs_numbers(n: int, seed: int = 1) -> list[str]:
    """Ten-digit numbers valid by the modulus-11 check (synthetic, not issued ones)."""
    rng = random.Random(seed)
    out: list[str] = []
    while len(out) < n:
        body = "9" + "".join(str(rng.randrange(10)) for _ in range(8))
        total = sum(int(d) * w for d, w in zip(body, range(10, 1, -1), strict=True))
        check = (11 - total % 11) % 11
        if check != 10:
            out.append(body + str(check))
    return out


def synthetic_upn(seed: int = 1) -> str:
    rng = random.Random(seed)
    digits = "893" + "".join(str(rng.randrange(10)) for _ in range(9))
    return (upn_check_letter("A" + digits) or "") + digits


def rejection(raw: dict) -> tuple[RejectReason, str | None]:
    with pytest.raises(ValidationError) as info:
        parse_case_event(raw)
    reason, field, _ = classify(info.value)
    return reason, field


# --- checksums -----------------------------------------------------------------------


def test_nhs_number_and_upn_checks() -> None:
    assert nhs_number_valid("9434765919")
    assert not nhs_number_valid("9434765918")  # wrong check digit
    assert all(nhs_number_valid(n) for n in synthetic_nhs_numbers(50))
    assert upn_check_letter("A123456789012") == "A"
    assert upn_check_letter("H801200001001") == "H"
    upn = synthetic_upn()
    assert upn_check_letter(upn) == upn[0]


# --- values, in any field, any case, whatever the separators --------------------------

NHS = "9434765919"


@pytest.mark.parametrize(
    "value",
    [
        NHS,
        "943 476 5919",
        "943-476-5919",
        f"p_{NHS}_x",  # "_" is no boundary for the guard (it is one for \\b)
        f"case-{NHS}",
        f"evt.{NHS}",
        synthetic_upn().lower(),
        f"case-{synthetic_upn().lower()}",
        "sy3 8hq",
        "SY3 8HQ",
        "case-sy38hq",
        "jane.doe@example.org",
    ],
)
@pytest.mark.parametrize("key", ["subject", "person_id", "id", "notes"])
def test_personal_values_are_found_in_every_field(key: str, value: str) -> None:
    hit = find_personal_data({"data": {key: value}})
    assert hit is not None and hit[0] == f"data.{key}"


def test_every_synthetic_nhs_number_is_found_and_wrong_checksums_are_not() -> None:
    for number in synthetic_nhs_numbers(200, seed=7):
        assert find_personal_data({"person_id": f"p-{number}"}) is not None
        wrong = number[:9] + str((int(number[9]) + 1) % 10)
        if not nhs_number_valid(wrong):
            assert find_personal_data({"x": f"ref {wrong}"}) is None


def test_pseudonymous_ids_with_a_date_or_a_name_are_refused() -> None:
    for key in ("subject", "person_id", "case_id"):
        assert find_personal_data({key: "case-2015-02-03"}) == (key, "date_of_birth")
        assert find_personal_data({key: "p_03/02/2015"}) == (key, "date_of_birth")
        assert find_personal_data({key: "p-20150203"}) == (key, "date_of_birth")
        assert find_personal_data({key: "case-jane-smith"}) == (key, "name")
        assert find_personal_data({key: "p-jsmith01"}) == (key, "name")
        assert find_personal_data({key: "p-20150230"}) is None  # no such day
    # Event ids carry the event's own date legitimately (and are logged only hashed).
    assert find_personal_data({"id": "tick-2026-06-12"}) is None
    assert find_personal_data({"id": "evt-decision-to-assess-00000001"}) is None


def test_the_projects_own_pseudonymous_ids_pass() -> None:
    """HMAC digests of the SEN2 import, the simulator's ids and ticks, test-style ids."""
    p = Pseudonymiser("a-test-key-of-sufficient-length")
    for n in range(3000):
        identity = p.identity(f"A{n:012d}", None, "f.xml", n)
        case_id = p.case_id(identity, date(2024, 1, 1) + timedelta(days=n % 700), n)
        ids = {
            "person_id": p.person_id(identity),
            "subject": case_id,
            "id": p.event_id(case_id, "ehc.request.received"),
        }
        assert find_personal_data(ids) is None, ids
    for event in generate_cases(42, date(2026, 4, 1), date(2026, 7, 1)):
        assert find_personal_data(event) is None, event
    for ok in (
        {"subject": "case-00000001", "person_id": "p-00000001", "id": "evt-received-00000001"},
        {"subject": "clock:simulated", "id": "sim-tick-42-2026-04-01:p0"},
        {"subject": "kpi-set:timeliness", "id": "snap-timeliness-000000000012-0000"},
        {"subject": "dlq:0123456789abcdef", "id": "dlq-0123456789abcdef0123456789abcdef"},
        {"time": "2026-04-01T09:00:00+00:00", "cycle": "2026/27-Q3", "kpi": "ehcp_20wk"},
    ):
        assert find_personal_data(ok) is None, ok


def test_ingest_reason_for_personal_data_names_the_field_not_the_value() -> None:
    ev = case_event(1)
    ev["data"] = {**ev["data"], "notes": "NHS 943 476 5919"}
    with pytest.raises(ValidationError) as info:
        parse_case_event(ev)
    reason, field, message = classify(info.value)
    assert (reason, field) == (RejectReason.PERSONAL_DATA, "data.notes")
    assert "943" not in message


# --- localities ----------------------------------------------------------------------


def test_locality_must_be_one_of_the_councils() -> None:
    for name in ("shrewsbury", "market-drayton", "unknown"):
        parse_case_event(case_event(1, data={"locality": name}))
    for bad in ("jane-smith", "Jane Smith", "north"):
        assert rejection(case_event(1, data={"locality": bad})) == (
            RejectReason.UNKNOWN_LOCALITY,
            "data.locality",
        )


# --- the plausibility window ----------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("time", "9999-12-31T23:59:59+00:00"),
        ("time", "0001-01-01T00:00:00+00:00"),
        ("time", "9999-12-31T23:00:00-05:00"),  # year 10000 in UTC
        ("time", "1999-12-31T12:00:00+00:00"),
        ("recorded", "9999-12-31T00:00:00+00:00"),
    ],
)
def test_times_outside_the_window_are_refused_naming_the_field(field: str, value: str) -> None:
    ev = {**case_event(1), field: value}
    reason, where = rejection(ev)
    assert (reason, where) == (RejectReason.IMPLAUSIBLE_TIME, field)
    tick = {"id": "tick-00000001", "source": "clock", "type": "clock.tick"}
    tick |= {"subject": "clock:test", "time": value, "data": {}}
    if field == "time":
        with pytest.raises(ValidationError) as info:
            ClockTick.model_validate(tick)
        assert classify(info.value)[:2] == (RejectReason.IMPLAUSIBLE_TIME, "time")


def test_window_bounds_and_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    w = TimeWindow(date(2000, 1, 1), 366)
    assert w.contains(date(2000, 1, 1), now) and not w.contains(date(1999, 12, 31), now)
    assert w.contains(date(2027, 12, 2), now) and not w.contains(date(2027, 12, 3), now)
    monkeypatch.setenv("SENDWATCH_TIME_EARLIEST", "2010-01-01")
    monkeypatch.setenv("SENDWATCH_TIME_FUTURE_DAYS", "30")
    load_window.cache_clear()
    try:
        w = load_window()
        assert (w.earliest, w.future_days) == (date(2010, 1, 1), 30)
        late = datetime.now(UTC) + timedelta(days=60)
        assert rejection({**case_event(1), "time": late.isoformat()})[0] is (
            RejectReason.IMPLAUSIBLE_TIME
        )
    finally:
        monkeypatch.undo()
        load_window.cache_clear()


def test_iso_times_pass_the_gate_and_longer_fractions_are_still_searched() -> None:
    """An ISO 8601 time with at most six fractional digits cannot hold an NHS number,
    a UPN or a postcode, so it is not searched; any other shape still is."""
    from contracts.privacy import find_personal_data

    for text in ("2026-04-01T09:00:00+00:00", "2026-04-01T09:00:00.123456Z", "2026-04-01"):
        assert find_personal_data({"time": text}) is None
    # ten fractional digits: 943 476 5919 is a valid NHS number
    assert find_personal_data({"time": "2026-04-01T09:00:00.9434765919+00:00"}) == (
        "time",
        "nhs_number",
    )


def test_a_batch_memo_gives_the_same_verdicts() -> None:
    from contracts.privacy import find_personal_data

    memo: dict[tuple[int, str], str | None] = {}
    items = [
        {"subject": "case-000001", "data": {"person_id": "p-000001", "locality": "wem"}},
        {"subject": "case-000001", "data": {"person_id": "p-9434765919", "locality": "wem"}},
        {"subject": "case-smith", "data": {"person_id": "p-000001"}},
        {"subject": "case-000001", "data": {"person_id": "p-9434765919", "locality": "wem"}},
    ]
    assert [find_personal_data(i, memo=memo) for i in items] == [
        find_personal_data(i) for i in items
    ]
    assert find_personal_data(items[1], memo=memo) == ("data.person_id", "nhs_number")
