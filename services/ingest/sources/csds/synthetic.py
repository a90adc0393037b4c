"""A synthetic CSDS-style referral extract (REFERRALS.csv, CONTACTS.csv) for tests and
demonstrations: test-range NHS numbers (999...), made-up postcodes in the county's
outward codes, and optionally a known set of bad rows.  Nothing here is real data."""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from services.ingest.sources.csds.extract import CONTACT_COLUMNS, REFERRAL_COLUMNS
from services.ingest.sources.sen2.pseudonymise import load_localities

SERVICES = ("slt", "ot", "asd_0_5", "nd_6_18", "nd_19_25", "core_mh")
AGES = {
    "slt": (2, 15),
    "ot": (3, 17),
    "asd_0_5": (1, 5),
    "nd_6_18": (6, 18),
    "nd_19_25": (19, 25),
    "core_mh": (8, 17),
}
TYPICAL_WAIT = {
    "slt": 120,
    "ot": 90,
    "asd_0_5": 200,
    "nd_6_18": 420,
    "nd_19_25": 300,
    "core_mh": 70,
}
SOURCES = ("gp", "school", "early_years", "health_visitor", "paediatrics", "eah", "family_hub")
MECHANISMS = ("face_to_face", "face_to_face", "video", "telephone", "other")
LETTERS = "ABDEFGHJLNPQRSTUWXYZ"


def nhs_number(rng: random.Random) -> str:
    """A number in the 999 test range that passes the modulus-11 check."""
    while True:
        body = "999" + "".join(str(rng.randrange(10)) for _ in range(6))
        total = sum(int(d) * w for d, w in zip(body, range(10, 1, -1), strict=True))
        check = 11 - total % 11
        if check == 10:
            continue
        return body + str(0 if check == 11 else check)


def bad_check_digit(good: str) -> str:
    return good[:9] + str((int(good[9]) + 1) % 10)


@dataclass
class SyntheticExtract:
    referrals_csv: str
    contacts_csv: str
    bad_referral_lines: set[int] = field(default_factory=set)
    bad_contact_lines: set[int] = field(default_factory=set)
    nhs_numbers: set[str] = field(default_factory=set)
    postcodes: set[str] = field(default_factory=set)


def generate_extract(
    seed: int = 1,
    referrals: int = 300,
    *,
    first: date = date(2024, 10, 1),
    last: date = date(2026, 11, 20),
    bad_rows: bool = True,
) -> SyntheticExtract:
    rng = random.Random(seed)
    outward = sorted(load_localities().outward_codes) + ["B1", "LL14"]  # two out of county
    ref_rows: list[dict[str, str]] = []
    contact_rows: list[dict[str, str]] = []
    out = SyntheticExtract("", "")
    span = (last - first).days
    for n in range(1, referrals + 1):
        service = rng.choice(SERVICES)
        received = first + timedelta(days=rng.randrange(span))
        lo, hi = AGES[service]
        age = rng.randint(lo, hi)
        birth = received - timedelta(days=age * 365 + rng.randrange(300))
        postcode = (
            f"{rng.choice(outward)} {rng.randrange(10)}{rng.choice(LETTERS)}{rng.choice(LETTERS)}"
        )
        nhs = nhs_number(rng)
        out.nhs_numbers.add(nhs)
        out.postcodes.add(postcode)
        row = dict.fromkeys(REFERRAL_COLUMNS, "")
        row.update(
            referral_id=f"R{n:07d}",
            nhs_number=nhs,
            date_of_birth=birth.isoformat(),
            sex=rng.choice("MFU" if rng.random() < 0.05 else "MF"),
            postcode=postcode,
            service=service,
            referral_received_date=received.isoformat(),
            source_of_referral=rng.choice(SOURCES),
            priority="urgent" if rng.random() < 0.1 else "routine",
        )
        roll = rng.random()
        if roll < 0.07:
            row["referral_outcome"] = "rejected"
            row["referral_outcome_date"] = (received + timedelta(rng.randrange(1, 20))).isoformat()
        elif roll < 0.95:
            row["referral_outcome"] = "accepted"
            row["referral_outcome_date"] = (received + timedelta(rng.randrange(0, 20))).isoformat()
        if rng.random() < 0.85:
            row["triage_date"] = (received + timedelta(rng.randrange(0, 25))).isoformat()
        day = received
        for _ in range(rng.choice((0, 1, 1, 2, 3))):
            day = day + timedelta(days=max(1, int(rng.expovariate(1 / TYPICAL_WAIT[service]))))
            if day > last:
                break
            c = {
                "referral_id": row["referral_id"],
                "contact_date": day.isoformat(),
                "attendance": rng.choices(("attended", "dna", "cancelled"), (8, 1, 1))[0],
                "mechanism": rng.choice(MECHANISMS),
            }
            contact_rows.append(c)
        if rng.random() < 0.15:
            gone = day + timedelta(days=rng.randrange(1, 60))
            if gone <= last:
                row["discharge_date"] = gone.isoformat()
                row["discharge_reason"] = rng.choice(
                    ("treatment_completed", "moved_away", "declined")
                )
        ref_rows.append(row)
    if bad_rows:
        _spoil(rng, ref_rows, contact_rows, out)
    out.referrals_csv = _csv(REFERRAL_COLUMNS, ref_rows)
    out.contacts_csv = _csv(CONTACT_COLUMNS, contact_rows)
    return out


def _spoil(
    rng: random.Random,
    refs: list[dict[str, str]],
    contacts: list[dict[str, str]],
    out: SyntheticExtract,
) -> None:
    """Spoil known rows: line numbers count the header as line 1."""
    spoilers: list[dict[str, str] | None] = [
        {"service": "physio"},
        {"referral_received_date": "2026-02-30"},
        None,  # an NHS number failing its check
        {"sex": ""},
        {"source_of_referral": "pharmacy"},
        {"discharge_date": "2000-01-02", "discharge_reason": "other"},
    ]
    picked = rng.sample(range(len(refs)), len(spoilers))
    spoiled_ids = set()
    for i, change in zip(picked, spoilers, strict=True):
        refs[i].update(change or {"nhs_number": bad_check_digit(refs[i]["nhs_number"])})
        out.bad_referral_lines.add(i + 2)
        spoiled_ids.add(refs[i]["referral_id"])
    for i, c in enumerate(contacts):
        if c["referral_id"] in spoiled_ids:  # contacts of a rejected referral are rejected
            out.bad_contact_lines.add(i + 2)
    good = [i for i, c in enumerate(contacts) if c["referral_id"] not in spoiled_ids]
    for i, change in zip(
        rng.sample(good, 3),
        ({"mechanism": "carrier_pigeon"}, {"attendance": "maybe"}, {"contact_date": "2026-13-01"}),
        strict=True,
    ):
        contacts[i].update(change)
        out.bad_contact_lines.add(i + 2)


def _csv(columns: tuple[str, ...], rows: list[dict[str, str]]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()
