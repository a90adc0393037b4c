"""The CSDS-style extract reader: keyed pseudonyms only, age bands and localities, the
NHS number's modulus-11 check, and bad rows reported by file and line and skipped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contracts.events import load_events
from services.ingest.sources.csds.extract import (
    REFERRAL_COLUMNS,
    ExtractFormatError,
    ReferralPseudonyms,
    nhs_number_valid,
    read_extract,
)
from services.ingest.sources.csds.synthetic import generate_extract

KEY = "unit-test-pseudonym-key-0001"
HEADER = ",".join(REFERRAL_COLUMNS)


def files(tmp_path: Path, refs: str, contacts: str) -> tuple[Path, Path]:
    r, c = tmp_path / "REFERRALS.csv", tmp_path / "CONTACTS.csv"
    r.write_text(refs, encoding="utf-8")
    c.write_text(contacts, encoding="utf-8")
    return r, c


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("9434765919", True),  # the NHS's published example
        ("943 476 5919", True),
        ("9434765918", False),
        ("4010232137", True),
        ("4010232138", False),
        ("1000000010", False),  # check digit would be 10: never issued
        ("943476591", False),
        ("94347659AB", False),
    ],
)
def test_nhs_number_modulus_11(number: str, valid: bool) -> None:
    assert nhs_number_valid(number) is valid


def test_a_row_becomes_pseudonymous_events_with_age_band_and_locality(tmp_path: Path) -> None:
    refs = (
        f"{HEADER}\n"
        "R1,9434765919,2019-03-10,F,SY8 1AB,slt,2026-03-01,school,routine,accepted,"
        "2026-03-04,2026-03-05,2026-06-01,treatment_completed\n"
    )
    contacts = "referral_id,contact_date,attendance,mechanism\nR1,2026-04-01,attended,telephone\n"
    r, c = files(tmp_path, refs, contacts)
    ext = read_extract(r, c, ReferralPseudonyms(KEY))
    assert ext.problems == [] and (ext.referrals, ext.contacts) == (1, 1)
    types = [e["type"] for e in ext.events]
    assert types == [
        "referral.received",
        "referral.outcome",
        "referral.triaged",
        "referral.discharged",
        "referral.contact",
    ]
    first = ext.events[0]
    assert first["data"]["age_band"] == "5-10" and first["data"]["locality"] == "ludlow"
    assert first["data"]["phase"] == "primary"
    text = json.dumps(ext.events)
    for secret in ("9434765919", "SY8", "1AB", "2019-03-10", 'R1"'):
        assert secret not in text
    reg = load_events()
    for e in ext.events:  # every event passes its contract (and the privacy guard)
        reg.parse_event(e)
    again = read_extract(r, c, ReferralPseudonyms(KEY))
    other = read_extract(r, c, ReferralPseudonyms(KEY + "x"))
    assert [e["id"] for e in again.events] == [e["id"] for e in ext.events]
    assert {e["subject"] for e in other.events}.isdisjoint({e["subject"] for e in ext.events})


def test_bad_rows_are_reported_by_line_and_field_and_the_rest_imported(tmp_path: Path) -> None:
    x = generate_extract(seed=3, referrals=200)
    r, c = files(tmp_path, x.referrals_csv, x.contacts_csv)
    ext = read_extract(r, c, ReferralPseudonyms(KEY))
    got_r = {p.line for p in ext.problems if p.file == "REFERRALS.csv"}
    got_c = {p.line for p in ext.problems if p.file == "CONTACTS.csv"}
    assert got_r == x.bad_referral_lines and len(got_r) == 6
    assert got_c == x.bad_contact_lines
    assert ext.referrals == 200 - 6
    reasons = {p.reason.split(" (")[0] for p in ext.problems}
    assert {
        "unknown code",
        "impossible date",
        "fails the NHS number modulus-11 check",
        "missing required field",
        "no imported referral with this id",
    } <= reasons
    text = " ".join(str(p) for p in ext.problems)
    assert not any(n in text for n in x.nhs_numbers)


def test_a_wrong_header_is_refused_before_anything_is_read(tmp_path: Path) -> None:
    r, c = files(tmp_path, "referral_id,nhs\nR1,1\n", "referral_id\n")
    with pytest.raises(ExtractFormatError, match="header row"):
        read_extract(r, c, ReferralPseudonyms(KEY))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"referral_outcome": "accepted", "referral_outcome_date": ""}, "referral_outcome_date"),
        ({"discharge_date": "2026-05-01"}, "discharge_reason"),
        ({"date_of_birth": "1990-01-01"}, "date_of_birth"),  # 36 at referral
        ({"triage_date": "2026-02-01"}, "triage_date"),  # before the referral
        ({"priority": "soon"}, "priority"),
        ({"sex": "X"}, "sex"),
        ({"nhs_number": ""}, "nhs_number"),
    ],
)
def test_each_kind_of_bad_referral_row(tmp_path: Path, change: dict[str, str], field: str) -> None:
    row = dict.fromkeys(REFERRAL_COLUMNS, "")
    row.update(
        referral_id="R9",
        nhs_number="9434765919",
        date_of_birth="2015-01-01",
        sex="M",
        postcode="SY1 1AA",
        service="ot",
        referral_received_date="2026-03-01",
        source_of_referral="gp",
        priority="routine",
    )
    row.update(change)
    line = ",".join(row[c] for c in REFERRAL_COLUMNS)
    r, c = files(tmp_path, f"{HEADER}\n{line}\n", "referral_id,contact_date,attendance,mechanism\n")
    ext = read_extract(r, c, ReferralPseudonyms(KEY))
    assert [(p.line, p.field) for p in ext.problems] == [(2, field)]
    assert ext.events == []
