"""The figures and surveys CSV imports: each bad row reported by its line and field,
the valid rows still turned into events, the same file twice giving the same ids."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.ingest.sources.outcomes import (
    CsvFormatError,
    Row,
    RowProblem,
    figure_rows,
    survey_rows,
)

NOW = datetime(2026, 11, 2, 9, tzinfo=UTC)

FIGURES = """measure,cohort,area,period,value,pupils,published
attendance,ehcp,local,2025/26-T1,84.8,2100,2026-03-19
attendance,ehcp,statistical-neighbours,2025/26-T1,86.1,,2026-03-19
attendance,ehcp,local,autumn 2025,84.8,,
attendance,ehcp,local,2025/26-T2,104,,
attendance,looked-after,local,2025/26-T1,80,,

persistent-absence,sen-support,local,2025/26-T1,x,,
suspensions,ehcp,local,2025/26-T1,3.2,12.5,
"""


def test_bad_figure_rows_are_reported_by_line_and_field() -> None:
    out = list(figure_rows(FIGURES, NOW))
    rows = [r for r in out if isinstance(r, Row)]
    problems = {p.line: p for p in out if isinstance(p, RowProblem)}
    assert [r.line for r in rows] == [2, 3]
    assert sorted(problems) == [4, 5, 6, 8, 9]
    assert problems[4].field == "period"
    assert problems[5].field == "value" and "less than or equal to 100" in problems[5].message
    assert problems[6].field == "cohort"
    assert problems[8].reason == "bad_value"  # DfE's "x" (not available)
    assert problems[9].reason == "bad_value"  # pupils not a whole number
    first = rows[0].event
    assert first["type"] == "figure.reported" and first["source"] == "outcomes"
    assert first["data"] == {
        "measure": "attendance",
        "cohort": "ehcp",
        "area": "local",
        "period": "2025/26-T1",
        "value": 84.8,
        "pupils": 2100,
    }
    assert first["time"].startswith("2026-03-19")
    # one series per measure, cohort and area; its neighbours' series is another
    assert rows[0].event["subject"] != rows[1].event["subject"]
    again = [r for r in figure_rows(FIGURES, NOW) if isinstance(r, Row)]
    assert [r.event["id"] for r in again] == [r.event["id"] for r in rows]


def test_surveys_name_the_wave_and_score_columns() -> None:
    text = (
        "survey,wave,score,responses,localities\n"
        "big-listen,2026/27,71.5,214,11\n"
        "big-listen,summer,71.5,214,11\n"
        "parents-evening,2026/27,50,40,\n"
        "at-confidence,2026/27-Q3,-3,40,\n"
    )
    out = list(survey_rows(text, NOW))
    assert [r.line for r in out if isinstance(r, Row)] == [2]
    problems = {p.line: p.field for p in out if isinstance(p, RowProblem)}
    assert problems == {3: "wave", 4: "survey", 5: "score"}


def test_a_file_without_the_columns_is_refused_naming_them() -> None:
    with pytest.raises(CsvFormatError, match="period, value"):
        list(figure_rows("measure,cohort,area\nattendance,ehcp,local\n", NOW))
