"""CSV imports of the figures and survey results the partnership receives: DfE's
attendance and exclusion figures by cohort, area and period (``sendwatch import
figures``) and survey waves (``sendwatch import surveys``).

Each data row becomes one event of ``contracts/outcome_events.py``; a row that does not
make a valid event is reported by its line number (the header is line 1) with the field
and the reason, and skipped: the valid rows still go in.  The files hold aggregates
only, never a child's record; ids are digests of the series, so importing the same file
twice changes nothing, and a revised figure for a period replaces the one before.

Figures: ``measure,cohort,area,period,value[,pupils][,published]``, e.g.
``attendance,ehcp,local,2025/26-T1,84.8,2100,2026-03-19``.
Surveys: ``survey,wave,score,responses[,localities][,published]``, e.g.
``big-listen,2026/27,71.5,214,11``.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from pydantic import ValidationError

from contracts.events import load_events
from services.ingest.sources import posting

SOURCE = "outcomes"
FIGURE_COLUMNS = ("measure", "cohort", "area", "period", "value")
SURVEY_COLUMNS = ("survey", "wave", "score", "responses")


class CsvFormatError(ValueError):
    """The file cannot be read at all (no header, missing columns)."""


@dataclass(frozen=True)
class RowProblem:
    line: int
    field: str | None
    reason: str
    message: str


@dataclass(frozen=True)
class Row:
    line: int
    event: dict[str, Any]


def _digest(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:20]


def _when(text: str | None, now: datetime) -> str:
    if text:
        day = date.fromisoformat(text.strip())
        return datetime.combine(day, time(12), tzinfo=UTC).isoformat()
    return now.isoformat()


def _number(text: str | None) -> float | None:
    if text is None or not text.strip():
        return None
    return float(text.strip().replace(",", ""))


def _integer(text: str | None) -> int | None:
    value = _number(text)
    if value is None:
        return None
    if value != int(value):
        raise ValueError(f"{text!r} is not a whole number")
    return int(value)


def _reader(text: str, required: tuple[str, ...]) -> csv.DictReader[str]:
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    missing = [c for c in required if c not in header]
    if not header or missing:
        raise CsvFormatError(f"line 1: the header lacks the column(s) {', '.join(missing)}")
    reader.fieldnames = header
    return reader


def _figure_event(row: dict[str, str], now: datetime) -> dict[str, Any]:
    measure, cohort, area, period = (row[c].strip() for c in FIGURE_COLUMNS[:4])
    data: dict[str, Any] = {
        "measure": measure,
        "cohort": cohort,
        "area": area,
        "period": period,
        "value": _number(row["value"]),
    }
    pupils = _integer(row.get("pupils"))
    if pupils is not None:
        data["pupils"] = pupils
    series = _digest(measure, cohort, area)
    return {
        "id": f"figure-{_digest(series, period, str(data['value']), str(pupils))}",
        "source": SOURCE,
        "type": "figure.reported",
        "subject": f"figure-{series}",
        "time": _when(row.get("published"), now),
        "data": data,
    }


def _survey_event(row: dict[str, str], now: datetime) -> dict[str, Any]:
    survey, wave = row["survey"].strip(), row["wave"].strip()
    data: dict[str, Any] = {
        "survey": survey,
        "period": wave,
        "value": _number(row["score"]),
        "responses": _integer(row["responses"]),
    }
    localities = _integer(row.get("localities"))
    if localities is not None:
        data["localities_represented"] = localities
    series = _digest(survey)
    return {
        "id": f"survey-{_digest(series, wave, str(data['value']), str(data['responses']))}",
        "source": SOURCE,
        "type": "survey.result.reported",
        "subject": f"survey-{series}",
        "time": _when(row.get("published"), now),
        "data": data,
    }


def _rows(text: str, kind: str, now: datetime | None = None) -> Iterator[Row | RowProblem]:
    now = now or datetime.now(UTC)
    required = FIGURE_COLUMNS if kind == "figures" else SURVEY_COLUMNS
    build = _figure_event if kind == "figures" else _survey_event
    registry = load_events()
    reader = _reader(text, required)
    for row in reader:
        line = reader.line_num
        if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
            continue
        try:
            event = build(row, now)
        except ValueError as exc:  # a number or a date that does not parse
            yield RowProblem(line, None, "bad_value", str(exc))
            continue
        try:
            registry.parse_event(event)
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = [str(p) for p in first["loc"] if not str(p).startswith("function-")]
            field = next((p for p in reversed(loc) if p not in {"data"}), None)
            columns = {"period": "wave", "value": "score"} if kind == "surveys" else {}
            name = columns.get(field or "", field)
            yield RowProblem(line, name, first["type"], first["msg"])
            continue
        yield Row(line, event)


def figure_rows(text: str, now: datetime | None = None) -> Iterator[Row | RowProblem]:
    """The events of a figures CSV, or the problem of each bad row."""
    return _rows(text, "figures", now)


def survey_rows(text: str, now: datetime | None = None) -> Iterator[Row | RowProblem]:
    """The events of a surveys CSV, or the problem of each bad row."""
    return _rows(text, "surveys", now)


@dataclass
class _Posted(posting.PostTally):
    problems: list[RowProblem] = field(default_factory=list)

    def reject(self, item: Row, result: dict[str, Any]) -> None:
        self.problems.append(
            RowProblem(
                item.line,
                result.get("field"),
                result.get("reason") or "rejected",
                result.get("message") or "",
            )
        )


def post_rows(rows: Sequence[Row], url: str, api_key: str) -> list[RowProblem]:
    """Post the valid rows' events (500 a request, through the shared ingest client:
    retried when ingest is busy); the rows ingest rejected, by line."""
    posted = _Posted()
    with posting.ingest_client(None) as http:
        poster = posting.EventPoster(http, url, api_key, posted, posting.carried)
        poster.post_all(posting.chunked(rows, 500))
    return posted.problems
