"""NHS community referrals through the running system: a generated CSDS-style extract
with bad rows goes through `sendwatch import referrals --wait` (bad rows reported by
line, non-zero exit, the rest imported), then `sendwatch export chs-waiting-list` for
past dates equals a count made here straight from the CSV files by the issue's
definition.  None of the extract's NHS numbers or postcodes is left in the topics, the
database (SQLite and PostgreSQL) or the logs."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from services.ingest.sources.csds.synthetic import generate_extract
from tests.privacy_scan import collect, leaks

KEY = "test-pseudonym-key-0123456789"
OPS_TOKEN = "dev-operational-token"
SERVICES = ["slt", "ot", "asd_0_5", "nd_6_18", "nd_19_25", "core_mh"]
BANDS = [  # (column, first day, last day)
    ("waiting_0_1_weeks", 0, 7),
    ("waiting_1_2_weeks", 8, 14),
    ("waiting_2_4_weeks", 15, 28),
    ("waiting_4_12_weeks", 29, 84),
    ("waiting_12_18_weeks", 85, 126),
    ("waiting_18_52_weeks", 127, 364),
    ("waiting_52_104_weeks", 365, 728),
    ("waiting_over_104_weeks", 729, 10**6),
]
STOPS = {  # mechanisms of an attended contact that stop each pathway's clock
    **dict.fromkeys(("asd_0_5", "nd_6_18", "nd_19_25"), {"face_to_face", "video"}),
    **dict.fromkeys(("slt", "ot", "core_mh"), {"face_to_face", "video", "telephone"}),
}


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def expected_rows(refs_csv: str, contacts_csv: str, bad: set[int], bad_c: set[int], d: date):
    """The waiting list on ``d`` by the issue's definition, from the files."""
    refs = {}
    for line, row in enumerate(csv.DictReader(io.StringIO(refs_csv)), start=2):
        if line not in bad:
            refs[row["referral_id"]] = row
    stopped: set[str] = set()
    for line, c in enumerate(csv.DictReader(io.StringIO(contacts_csv)), start=2):
        r = refs.get(c["referral_id"])
        if line in bad_c or r is None:
            continue
        if (
            c["attendance"] == "attended"
            and c["mechanism"] in STOPS[r["service"]]
            and date.fromisoformat(c["contact_date"]) <= d
        ):
            stopped.add(c["referral_id"])
    waits: dict[str, list[int]] = {s: [] for s in SERVICES}
    for rid, r in refs.items():
        received = date.fromisoformat(r["referral_received_date"])
        if received > d or rid in stopped:
            continue
        if (
            r["referral_outcome"] == "rejected"
            and date.fromisoformat(r["referral_outcome_date"]) <= d
        ):
            continue
        if r["discharge_date"] and date.fromisoformat(r["discharge_date"]) <= d:
            continue
        waits[r["service"]].append((d - received).days)
    waits["all"] = [w for s in SERVICES for w in waits[s]]
    out = []
    for service in [*SERVICES, "all"]:
        ws = waits[service]
        row = {"period_end": d.isoformat(), "service": service, "total_waiting": str(len(ws))}
        for col, lo, hi in BANDS:
            row[col] = str(sum(lo <= w <= hi for w in ws))
        within = sum(w <= 126 for w in ws)
        row["within_18_weeks_pc"] = (
            str((Decimal(100 * within) / len(ws)).quantize(Decimal("0.1"), ROUND_HALF_UP))
            if ws
            else "z"
        )
        out.append(row)
    return out


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_referral_import_then_chs_export_matches_the_extract(
    stack_factory, broker, tmp_path: Path, database_url
) -> None:
    x = generate_extract(seed=11, referrals=600)
    refs, contacts = tmp_path / "REFERRALS.csv", tmp_path / "CONTACTS.csv"
    refs.write_text(x.referrals_csv, encoding="utf-8")
    contacts.write_text(x.contacts_csv, encoding="utf-8")
    stack = stack_factory("timeliness", "ingest")
    p = stack.ports

    done = run_cli(
        "import",
        "referrals",
        str(refs),
        str(contacts),
        "--wait",
        "--url",
        f"http://127.0.0.1:{p['ingest']}",
        "--timeliness-url",
        f"http://127.0.0.1:{p['timeliness']}",
        "--reporting-url",
        "",
        "--alerts-url",
        "",
        env={"SENDWATCH_PSEUDONYM_KEY": KEY, "SENDWATCH_TOKEN": OPS_TOKEN},
    )
    assert done.returncode == 1, done.stdout + done.stderr  # rows were rejected
    reported = {
        (line.split(" line ")[0], int(line.split(" line ")[1].split(":")[0]))
        for line in done.stderr.splitlines()
        if " line " in line
    }
    assert reported == {("REFERRALS.csv", n) for n in x.bad_referral_lines} | {
        ("CONTACTS.csv", n) for n in x.bad_contact_lines
    }
    assert "referrals imported: 594" in done.stdout and "rejected 0)" in done.stdout
    assert "wait: applied" in done.stdout

    for day in (date(2025, 6, 30), date(2026, 3, 31), date(2026, 9, 13)):
        out = run_cli(
            "export",
            "chs-waiting-list",
            "--date",
            day.isoformat(),
            "--url",
            f"http://127.0.0.1:{p['timeliness']}",
            env={"SENDWATCH_TOKEN": OPS_TOKEN},
        )
        assert out.returncode == 0, out.stderr
        got = list(csv.DictReader(io.StringIO(out.stdout)))
        want = expected_rows(
            x.referrals_csv, x.contacts_csv, x.bad_referral_lines, x.bad_contact_lines, day
        )
        assert got == want, day
        assert int(got[-1]["total_waiting"]) > 50
    bad = run_cli(
        "export",
        "chs-waiting-list",
        "--date",
        "2026-02-30",
        "--url",
        f"http://127.0.0.1:{p['timeliness']}",
        env={"SENDWATCH_TOKEN": OPS_TOKEN},
    )
    assert bad.returncode == 2 and "--date" in bad.stderr

    # No NHS number or postcode of the extract anywhere: topics, database, logs.
    stores = collect(broker.bootstrap, stack.var_dir, database_url)
    events = stores.topics["sendwatch.referral-events.v1"]
    assert len(events) > 1000
    if database_url is not None:
        assert "ref-" in stores.database  # the referrals are there, pseudonymously
    text = stores.text(done.stdout, done.stderr)
    assert leaks(x.nhs_numbers | x.postcodes, text) == []
    assert "date_of_birth" not in repr(events)
