"""A generated placement extract through the running system: `sendwatch import
placements --wait`, then `sendwatch export dfe-caseload`, equals a count made straight
from the rows; no person id, date of birth or postcode from the extract is left in the
topics, the databases or the logs."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from services.timeliness.domain.dfe.caseload import BASE_COLUMNS
from tests.helpers import read_topic
from tests.placements_extract import expected_counts, generate, to_csv

KEY = "test-pseudonym-key-0123456789"
OPS_TOKEN = "dev-operational-token"
CENSUS = date(2026, 1, 15)
ALLOWED_DATA = {
    "locality",
    "age_band",
    "phase",
    "primary_need",
    "sex",
    "cease_reason",
    "setting_type",
    "setting_urn",
    "rank",
    "la_funded",
    "out_of_area",
    "distance_km",
    "cost_band",
    "base",
    "la_code",
    "mediation",
    "tribunal",
}


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_placement_import_then_caseload_export_matches_the_rows(
    stack_factory, broker, tmp_path: Path, database_url
) -> None:
    rows = generate(250, CENSUS, seed=3)
    bad = dict(rows[4], setting_type="castle")  # line 6 of the file: reported, skipped
    rows.insert(4, bad)
    path = tmp_path / "placements.csv"
    path.write_text(to_csv(rows), encoding="utf-8")
    good = rows[:4] + rows[5:]
    stack = stack_factory("timeliness", "ingest")
    p = stack.ports

    done = run_cli(
        "import",
        "placements",
        str(path),
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
    assert done.returncode == 1, done.stdout + done.stderr  # one row was rejected
    assert "line 6: setting_type" in done.stderr
    assert f"{len(rows)} rows, {len(rows) - 1} imported, 1 not imported" in done.stdout
    assert "applied: all" in done.stdout

    out = run_cli(
        "export",
        "dfe-caseload",
        "--date",
        CENSUS.isoformat(),
        "--url",
        f"http://127.0.0.1:{p['timeliness']}",
        env={"SENDWATCH_TOKEN": OPS_TOKEN},
    )
    assert out.returncode == 0, out.stderr
    (row,) = list(csv.DictReader(io.StringIO(out.stdout)))
    want = expected_counts(good, CENSUS)
    assert {c: int(row[c]) for c in BASE_COLUMNS} == {c: want.get(c, 0) for c in BASE_COLUMNS}
    assert int(row["ehcplans"]) == sum(want.values()) > 150
    assert row["time_period"] == "202526" and row["la_name"] == "Shropshire"

    # Nothing personal from the extract: topics, databases, logs.
    secrets = {r["person_id"] for r in rows} | {r["postcode"] for r in rows}
    events = read_topic(broker.bootstrap, "sendwatch.placement-events.v1", expect=10**6, timeout=4)
    assert len(events) > 300
    blobs = [repr(events), done.stdout, done.stderr]
    for log in (stack.var_dir / "logs").glob("*.log"):
        blobs.append(log.read_text(errors="replace"))
    if database_url is None:
        for db in stack.var_dir.glob("*.db*"):
            blobs.append(db.read_bytes().decode("latin-1"))
    else:
        dump = subprocess.run(
            ["pg_dump", "--data-only", database_url.replace("postgresql+psycopg", "postgresql")],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert dump.returncode == 0, dump.stderr
        blobs.append(dump.stdout)
    text = "\n".join(blobs)
    assert [s for s in secrets if s in text] == []
    assert "birth" not in repr(events).lower()
    extra = {k for e in events for k in e["data"]} - ALLOWED_DATA
    assert extra == set()
