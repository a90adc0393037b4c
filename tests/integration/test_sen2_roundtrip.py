"""SEN2 round trip through the running system: a generated SEN2 XML goes through
`sendwatch import sen2 --wait` and `sendwatch export dfe-*`, and every number matches a
direct count from the XML.  No personal value from the XML is left in the topics, the
databases or the logs."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import date
from pathlib import Path

import pytest

from services.ingest.sources.sen2.synthetic import generate_sen2_xml
from tests.helpers import read_topic

YEAR = 2025
ALLOWED_DATA = {
    "person_id",
    "locality",
    "age_band",
    "phase",
    "primary_need",
    "setting_type",
    "sex",
    "ethnicity",
    "request_source",
    "rya",
    "historical",
    "outcome",
    "reason",
    "cease_reason",
    "sen_type",
    "rank",
}
KEY = "test-pseudonym-key-0123456789"


def direct_counts(xml: bytes) -> dict[str, int]:
    """Count straight from the XML, DfE's way (independent of the import code)."""
    out = dict.fromkeys(
        (
            "plans",
            "within",
            "mid",
            "over",
            "plans_ex",
            "within_ex",
            "received",
            "assessed",
            "not_assessed",
            "withdrawn",
            "six_in",
            "six_over",
        ),
        0,
    )

    def d(el: ET.Element, tag: str) -> date | None:
        text = el.findtext(tag)
        return date.fromisoformat(text) if text else None

    for person in ET.fromstring(xml).iter("Person"):
        for req in person.findall("Requests"):
            received = d(req, "ReceivedDate")
            r_out = req.findtext("RequestOutcome")
            assessments = req.findall("Assessment")
            a_outs = [a.findtext("AssessmentOutcome") for a in assessments]
            historical = "H" in a_outs or (r_out == "H" and not {"Y", "N"} & set(a_outs))
            if received is None or historical:
                continue
            for a in assessments:
                issued = d(a, "AssessmentOutcomeDate")
                if a.findtext("AssessmentOutcome") == "Y" and issued and issued.year == YEAR:
                    days = (issued - received).days
                    band = "within" if days <= 140 else ("mid" if days < 365 else "over")
                    out["plans"] += 1
                    out[band] += 1
                    if a.findtext("Week20") != "1":
                        out["plans_ex"] += 1
                        out["within_ex"] += band == "within"
            if received.year == YEAR:
                out["received"] += 1
                out["assessed"] += r_out == "Y"
                out["not_assessed"] += r_out == "N"
                out["withdrawn"] += r_out == "W"
            decided = d(req, "RequestOutcomeDate")
            if r_out in ("Y", "N") and decided and decided.year == YEAR:
                out["six_in" if (decided - received).days <= 42 else "six_over"] += 1
    return out


OPS_TOKEN = "dev-operational-token"  # roles operational and read: --wait and the exports


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_sen2_import_then_export_matches_the_xml(
    stack_factory, broker, tmp_path: Path, database_url
) -> None:
    xml, expected = generate_sen2_xml(seed=7, persons=400, year=YEAR)
    path = tmp_path / "sen2.xml"
    path.write_bytes(xml)
    stack = stack_factory("timeliness", "reporting", "alerts", "ingest")
    p = stack.ports

    refused = run_cli(
        "import",
        "sen2",
        str(path),
        "--url",
        f"http://127.0.0.1:{p['ingest']}",
        env={"SENDWATCH_PSEUDONYM_KEY": ""},
    )
    assert refused.returncode == 2 and "SENDWATCH_PSEUDONYM_KEY" in refused.stderr

    done = run_cli(
        "import",
        "sen2",
        str(path),
        "--wait",
        "--url",
        f"http://127.0.0.1:{p['ingest']}",
        "--timeliness-url",
        f"http://127.0.0.1:{p['timeliness']}",
        "--reporting-url",
        f"http://127.0.0.1:{p['reporting']}",
        "--alerts-url",
        "",
        env={"SENDWATCH_PSEUDONYM_KEY": KEY, "SENDWATCH_TOKEN": OPS_TOKEN},
    )
    assert done.returncode == 0, done.stdout + done.stderr

    want = direct_counts(xml)
    assert want["plans"] == expected.plans.plans_issued > 20

    out = run_cli(
        "export",
        "dfe-timeliness",
        "--year",
        str(YEAR),
        "--url",
        f"http://127.0.0.1:{p['timeliness']}",
        env={"SENDWATCH_TOKEN": OPS_TOKEN},
    )
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    allrow = next(r for r in rows if r["breakdown"] == "All EHC plans issued")
    assert allrow["la_name"] == "Shropshire" and allrow["new_la_code"] == "E06000051"
    assert allrow["old_la_code"] == "893" and allrow["region_name"] == "West Midlands"
    assert int(allrow["plans_issued_den"]) == want["plans"]
    assert int(allrow["plans_issued_within_20_weeks"]) == want["within"]
    assert int(allrow["plans_issued_gt20weeks_ltYear"]) == want["mid"]
    assert int(allrow["plans_issued_gt_1_year"]) == want["over"]
    assert int(allrow["plans_issued_den_ex"]) == want["plans_ex"]
    assert int(allrow["plans_issued_20_weeks_ex"]) == want["within_ex"]
    pc = round(100 * want["within"] / want["plans"] + 1e-9, 1)
    assert float(allrow["pc_plans_issued_within_20_weeks"]) == pytest.approx(pc)
    by_sex = {
        r["breakdown"]: int(r["plans_issued_den"]) for r in rows if r["breakdown_topic"] == "Sex"
    }
    assert sum(by_sex.values()) == want["plans"]

    out = run_cli(
        "export",
        "dfe-requests",
        "--year",
        str(YEAR),
        "--url",
        f"http://127.0.0.1:{p['timeliness']}",
        env={"SENDWATCH_TOKEN": OPS_TOKEN},
    )
    assert out.returncode == 0, out.stderr
    req = next(
        r
        for r in csv.DictReader(io.StringIO(out.stdout))
        if r["breakdown"] == "All requests for EHC needs assessments"
    )
    assert int(req["requests_received_in_year"]) == want["received"]
    assert int(req["requests_decided_to_assess"]) == want["assessed"]
    assert int(req["requests_decided_not_to_assess"]) == want["not_assessed"]
    assert int(req["requests_withdrawn"]) == want["withdrawn"]
    assert int(req["request_outcome_six_weeks"]) == want["six_in"]
    assert int(req["request_outcome_over_6_weeks"]) == want["six_over"]

    # No personal value from the XML anywhere: topics, databases, logs.
    root = ET.fromstring(xml)
    secrets = set()
    for person in root.iter("Person"):
        # Dates of birth are dates like any other (an infant's can equal a request date),
        # so they are checked by field below, not by value.
        for tag in ("Surname", "Forename", "UPN", "UniqueLearnerNumber", "PostCode"):
            value = person.findtext(tag)
            if value and len(value) >= 5:
                secrets.add(value)
    assert len(secrets) > 500
    events = read_topic(broker.bootstrap, "sendwatch.case-events.v1", expect=expected.events)
    blobs = [
        repr(events),
        repr(read_topic(broker.bootstrap, "sendwatch.dlq.v1", expect=0, timeout=2)),
    ]
    for log in (stack.var_dir / "logs").glob("*.log"):
        blobs.append(log.read_text(errors="replace"))
    blobs += [done.stdout, done.stderr]
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
    leaked = [s for s in secrets if s in text]
    assert leaked == []
    assert "birth" not in repr(events).lower()
    assert all(set(e["data"]) <= ALLOWED_DATA for e in events)
