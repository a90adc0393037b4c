"""A case-management placement extract -> pseudonymous placement events (pure: no I/O
beyond reading the text given).

One row per placement, UTF-8 with a header row, the columns in ``COLUMNS``.  Each row
gives (ids are keyed, so a re-import sends the same ids and nothing is counted twice):

* ``placement.plan.started`` on ``plan_start_date`` (repeated rows of one plan give the
  same event), ``placement.plan.ceased`` on ``plan_end_date`` with ``plan_end_reason``;
* ``placement.placement.started`` on ``placement_start_date`` (setting type in DfE's
  caseload vocabulary, URN, rank, LA funded, out of area, distance) and
  ``placement.placement.ended`` on ``placement_end_date``.

Only keyed pseudonyms and coarsened attributes leave this module: ``person_id`` becomes
an HMAC pseudonym (``p-<hex>``), ``date_of_birth`` the age band (age on the import day,
or on the plan's end when it has ended) and its phase, ``postcode`` the locality
(``contracts/localities.yaml``).  A bad row is reported by line number and field, never
by value, and skipped; the other rows still go in.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from contracts.codes import CeaseReason, SENType, Sex
from contracts.placement_codes import DfeSetting
from contracts.plausibility import TimeWindow, load_window
from services.ingest.sources.sen2.pseudonymise import (
    PHASE_OF_BAND,
    LocalityMap,
    Pseudonymiser,
    age_band,
    age_on,
    load_localities,
)

SOURCE_ID = "placements"
COLUMNS: tuple[str, ...] = (
    "person_id",
    "date_of_birth",
    "sex",
    "postcode",
    "primary_need",
    "plan_start_date",
    "plan_end_date",
    "plan_end_reason",
    "placement_start_date",
    "placement_end_date",
    "placement_rank",
    "setting_type",
    "setting_urn",
    "la_funded",
    "out_of_area",
    "distance_km",
)
_SETTINGS = frozenset(s.value for s in DfeSetting)
_NEEDS = frozenset(s.value for s in SENType)
_REASONS = frozenset(s.value for s in CeaseReason)
_SEXES = frozenset(s.value for s in Sex)
_YES_NO = {"Y": True, "N": False}


@dataclass(frozen=True)
class RowProblem:
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.message} (row not imported)"


@dataclass(frozen=True)
class ExtractEvent:
    line: int
    event: dict[str, Any]


@dataclass
class ExtractSummary:
    rows: int = 0
    rows_imported: int = 0
    events: int = 0
    problems: list[RowProblem] = field(default_factory=list)


class BadRow(ValueError):
    def __init__(self, column: str, message: str) -> None:
        super().__init__(message)
        self.column = column
        self.message = message


def _date(row: dict[str, str], column: str, window: TimeWindow, now: datetime) -> date | None:
    text = (row.get(column) or "").strip()
    if not text:
        return None
    try:
        value = date.fromisoformat(text)
    except ValueError:
        raise BadRow(column, "not a date YYYY-MM-DD") from None
    problem = window.problem(value, now)
    if problem is not None and column != "date_of_birth":
        raise BadRow(column, f"date {problem}")
    return value


def _required(row: dict[str, str], column: str) -> str:
    text = (row.get(column) or "").strip()
    if not text:
        raise BadRow(column, "missing")
    return text


def _code(row: dict[str, str], column: str, allowed: frozenset[str], required: bool) -> str | None:
    text = (row.get(column) or "").strip()
    if not text:
        if required:
            raise BadRow(column, "missing")
        return None
    if text not in allowed:
        raise BadRow(column, f"not one of the {len(allowed)} codes this column takes")
    return text


def _flag(row: dict[str, str], column: str) -> bool:
    text = (row.get(column) or "").strip().upper()
    if text not in _YES_NO:
        raise BadRow(column, "must be Y or N")
    return _YES_NO[text]


class ExtractConverter:
    """Rows of one extract -> events (and the problems of bad rows)."""

    def __init__(
        self,
        pseudonymiser: Pseudonymiser,
        *,
        localities: LocalityMap | None = None,
        today: date | None = None,
        window: TimeWindow | None = None,
        source: str = SOURCE_ID,
    ) -> None:
        self._p = pseudonymiser
        self._localities = localities or load_localities()
        self._now = datetime.now(UTC)
        self._today = today or self._now.date()
        self._window = window or load_window()
        self._source = source
        self.summary = ExtractSummary()

    def convert(self, text: str) -> Iterator[ExtractEvent]:
        reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"the header row lacks the columns: {', '.join(missing)}")
        for row in reader:
            line = reader.line_num
            self.summary.rows += 1
            try:
                events = self._row(row)
            except BadRow as bad:
                self.summary.problems.append(RowProblem(line, bad.column, bad.message))
                continue
            self.summary.rows_imported += 1
            self.summary.events += len(events)
            for event in events:
                yield ExtractEvent(line, event)

    def _row(self, row: dict[str, str]) -> list[dict[str, Any]]:
        w, now = self._window, self._now
        local = _required(row, "person_id")
        birth = _date(row, "date_of_birth", w, now)
        if birth is None:
            raise BadRow("date_of_birth", "missing")
        sex = _code(row, "sex", _SEXES, required=False)
        need = _code(row, "primary_need", _NEEDS, required=False)
        plan_start = _date(row, "plan_start_date", w, now)
        if plan_start is None:
            raise BadRow("plan_start_date", "missing")
        plan_end = _date(row, "plan_end_date", w, now)
        reason = _code(row, "plan_end_reason", _REASONS, required=plan_end is not None)
        if plan_end is not None and plan_end < plan_start:
            raise BadRow("plan_end_date", "before plan_start_date")
        placement_start = _date(row, "placement_start_date", w, now)
        placement_end = _date(row, "placement_end_date", w, now)
        placement: dict[str, Any] | None = None
        if placement_start is not None:
            if placement_end is not None and placement_end < placement_start:
                raise BadRow("placement_end_date", "before placement_start_date")
            rank_text = _required(row, "placement_rank")
            if not rank_text.isdigit() or not 1 <= int(rank_text) <= 9:
                raise BadRow("placement_rank", "must be a whole number 1-9")
            urn = (row.get("setting_urn") or "").strip() or None
            if urn is not None and not (urn.isdigit() and 6 <= len(urn) <= 8):
                raise BadRow("setting_urn", "must be a 6-8 digit URN or UKPRN")
            distance_text = (row.get("distance_km") or "").strip()
            distance: float | None = None
            if distance_text:
                try:
                    distance = float(distance_text)
                except ValueError:
                    raise BadRow("distance_km", "not a number") from None
                if not 0 <= distance <= 1000:
                    raise BadRow("distance_km", "must be between 0 and 1000")
            placement = {
                "setting_type": _code(row, "setting_type", _SETTINGS, required=True),
                "setting_urn": urn,
                "rank": int(rank_text),
                "la_funded": _flag(row, "la_funded"),
                "out_of_area": _flag(row, "out_of_area"),
                "distance_km": distance,
            }
        elif placement_end is not None:
            raise BadRow("placement_end_date", "given without placement_start_date")
        on = min(self._today, plan_end) if plan_end is not None else self._today
        band = age_band(age_on(birth, on))
        if band is None:
            raise BadRow("date_of_birth", "age is outside 0-25 (no EHC plan applies)")
        attrs: dict[str, Any] = {
            "locality": self._localities.locality(row.get("postcode")),
            "age_band": band.value,
            "phase": PHASE_OF_BAND[band].value,
        }
        if need:
            attrs["primary_need"] = need
        if sex:
            attrs["sex"] = sex
        person = self._p.person_id(f"local:{local}")
        out = [self._event("placement.plan.started", person, plan_start, attrs, "plan")]
        if plan_end is not None:
            out.append(
                self._event(
                    "placement.plan.ceased", person, plan_end, {"cease_reason": reason}, "plan"
                )
            )
        if placement is not None:
            assert placement_start is not None
            tag = f"{placement_start.isoformat()}|{placement['rank']}"
            out.append(
                self._event(
                    "placement.placement.started",
                    person,
                    placement_start,
                    {**attrs, **placement},
                    tag,
                )
            )
            if placement_end is not None:
                out.append(
                    self._event(
                        "placement.placement.ended",
                        person,
                        placement_end,
                        {"rank": placement["rank"], "setting_urn": placement["setting_urn"]},
                        tag,
                    )
                )
        return out

    def _event(
        self, etype: str, person: str, when: date, data: dict[str, Any], tag: str
    ) -> dict[str, Any]:
        key = f"{person}|{etype}|{when.isoformat()}|{tag}"
        return {
            "id": "plx-" + self._p.keyed(key),
            "source": self._source,
            "type": etype,
            "subject": person,
            "time": f"{when.isoformat()}T12:00:00+00:00",
            "data": {k: v for k, v in data.items() if v is not None},
        }
