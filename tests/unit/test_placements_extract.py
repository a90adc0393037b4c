"""The placement extract: events from rows, bad rows reported by line number and
skipped, and nothing personal in what leaves the converter."""

from __future__ import annotations

import json
from datetime import date

import pytest

from contracts.events import load_events
from services.ingest.sources.placements.extract import ExtractConverter
from services.ingest.sources.sen2.pseudonymise import Pseudonymiser
from tests.placements_extract import generate, to_csv

KEY = "a-test-key-of-some-length"
CENSUS = date(2026, 1, 15)


def convert(text: str) -> tuple[list[tuple[int, dict[str, object]]], ExtractConverter]:
    c = ExtractConverter(Pseudonymiser(KEY), today=CENSUS)
    return [(e.line, e.event) for e in c.convert(text)], c


def test_every_event_is_a_valid_placement_event_and_ids_are_stable() -> None:
    rows = generate(60, CENSUS)
    events, c = convert(to_csv(rows))
    assert c.summary.problems == [] and c.summary.rows == len(rows)
    registry = load_events()
    for _, raw in events:
        registry.parse_event(raw)  # the contract and the privacy guard accept it
    again, _ = convert(to_csv(rows))
    assert [e["id"] for _, e in again] == [e["id"] for _, e in events]
    types = {e["type"] for _, e in events}
    assert {"placement.plan.started", "placement.placement.started"} <= types


def test_bad_rows_are_reported_by_line_and_field_and_the_rest_go_in() -> None:
    rows = generate(5, CENSUS)
    rows[1] = {**rows[1], "date_of_birth": "31/02/2015"}  # line 3
    rows[2] = {**rows[2], "placement_start_date": "2025-01-01", "setting_type": "castle"}
    rows[3] = {**rows[3], "plan_end_date": "2020-01-01", "plan_end_reason": "2"}
    events, c = convert(to_csv(rows))
    found = [(p.line, p.field) for p in c.summary.problems]
    assert found[0] == (3, "date_of_birth")
    assert (4, "setting_type") in found
    assert (5, "plan_end_date") in found  # before the plan's start
    assert c.summary.rows_imported == len(rows) - 3
    assert {line for line, _ in events} == set(range(2, len(rows) + 2)) - {3, 4, 5}
    for p in c.summary.problems:  # a problem never repeats a value
        assert "31/02/2015" not in str(p) and "castle" not in str(p)


def test_a_missing_column_refuses_the_file() -> None:
    text = to_csv(generate(2, CENSUS)).replace("distance_km", "distance")
    with pytest.raises(ValueError, match="distance_km"):
        convert(text)


def test_nothing_personal_leaves_the_converter() -> None:
    rows = generate(40, CENSUS)
    events, _ = convert(to_csv(rows))
    blob = json.dumps([e for _, e in events])
    for r in rows:
        assert r["person_id"] not in blob
        assert r["date_of_birth"] not in blob
        assert r["postcode"] not in blob
        assert r["postcode"].split()[0] + '"' not in blob  # not even the outward code
    localities = {e["data"].get("locality") for _, e in events} - {None}
    assert localities and localities <= {
        "shrewsbury",
        "ludlow",
        "market-drayton",
        "bridgnorth",
        "oswestry",
        "unknown",
    }
    bands = {e["data"].get("age_band") for _, e in events} - {None}
    assert bands and bands <= {"under-5", "5-10", "11-15", "16-19"}


def test_the_caseload_of_an_imported_extract_equals_a_count_from_the_rows() -> None:
    from contracts.placements import load_placements
    from services.timeliness.domain.dfe.caseload import setting_counts
    from tests.placements_extract import expected_counts
    from tests.placements_fixture import spans

    rows = generate(300, CENSUS, seed=9)
    events, _ = convert(to_csv(rows))
    counts = setting_counts(load_placements().caseload, CENSUS, spans(e for _, e in events))
    assert dict(counts) == expected_counts(rows, CENSUS)
    assert sum(counts.values()) > 200
