"""An existing RAID log spreadsheet (CSV) as ``programme.raid.raised`` events.

Columns (headers case-insensitive; others are ignored): ``id`` (its digits make the item
id, ``R-12`` -> ``raid-000012``), ``kind`` (risk, assumption, issue, dependency),
``owner`` (a role id in programme.yaml), ``raised`` and ``due`` (YYYY-MM-DD or
DD/MM/YYYY), ``impact`` and ``likelihood`` (1-4), ``milestones`` (ids separated by ``;``
or spaces), ``dependency``, ``status`` (on track / at risk / off track / complete, or
green / amber / red) and ``reason`` (a reason code).  Free-text columns (title,
description, mitigation, comments) never leave this module: they may hold names.

A bad row is reported by its line number (the header is line 1) and skipped; the valid
rows still go in.  Event ids derive from the row, so importing the same file twice
records nothing twice.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
from pydantic import ValidationError

from contracts.events import load_events
from services.ingest.sources import posting

STATUS = {
    "on track": "on_track",
    "on_track": "on_track",
    "green": "on_track",
    "at risk": "at_risk",
    "at_risk": "at_risk",
    "amber": "at_risk",
    "off track": "off_track",
    "off_track": "off_track",
    "red": "off_track",
    "complete": "complete",
    "completed": "complete",
    "closed": "complete",
    "blue": "complete",
}
REQUIRED = ("id", "kind", "owner", "raised", "due", "impact", "likelihood")


@dataclass
class RowProblem:
    line: int
    field: str | None
    message: str


@dataclass
class RaidImport:
    rows: int = 0
    accepted: int = 0
    events: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return len({p.line for p in self.problems})


def _date(text: str) -> str:
    text = text.strip()
    m = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", text)
    if m:
        return date(int(m[3]), int(m[2]), int(m[1])).isoformat()
    return date.fromisoformat(text).isoformat()


def row_event(row: dict[str, str]) -> dict[str, Any]:
    """The event for one row; ValueError (naming the column) when it cannot be one."""
    missing = [c for c in REQUIRED if not row.get(c, "").strip()]
    if missing:
        raise ValueError(f"{missing[0]}: required")
    digits = re.sub(r"\D", "", row["id"])
    if not digits or len(digits) > 12:
        raise ValueError("id: needs digits (e.g. R-12)")
    dates: dict[str, str] = {}
    for col in ("raised", "due"):
        try:
            dates[col] = _date(row[col])
        except ValueError:
            raise ValueError(f"{col}: not a date (YYYY-MM-DD or DD/MM/YYYY)") from None
    status = STATUS.get(row.get("status", "").strip().lower() or "on track")
    if status is None:
        raise ValueError("status: on track, at risk, off track, complete (or a RAG colour)")
    data: dict[str, Any] = {
        "kind": row["kind"].strip().lower(),
        "owner": row["owner"].strip(),
        "due": dates["due"],
        "impact": row["impact"].strip(),
        "likelihood": row["likelihood"].strip(),
        "milestones": [m for m in re.split(r"[;,\s]+", row.get("milestones", "")) if m],
        "status": status,
    }
    if row.get("dependency", "").strip():
        data["dependency"] = row["dependency"].strip()
    if row.get("reason", "").strip():
        data["reason"] = row["reason"].strip().lower()
    elif status != "on_track":
        data["reason"] = "other"
    subject = f"raid-{int(digits):06d}"
    canonical = json.dumps({"s": subject, "r": dates["raised"], **data}, sort_keys=True)
    raised = date.fromisoformat(dates["raised"])
    return {
        "id": f"raid-import-{hashlib.sha256(canonical.encode()).hexdigest()[:20]}",
        "source": "pmo",
        "type": "programme.raid.raised",
        "subject": subject,
        "time": datetime(raised.year, raised.month, raised.day, 9, tzinfo=UTC).isoformat(),
        "data": data,
    }


def read_raid_csv(path: Path) -> RaidImport:
    """Every row checked against the event contract; problems by line."""
    out = RaidImport()
    registry = load_events()
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None:
            out.problems.append(RowProblem(1, None, "empty file"))
            return out
        reader.fieldnames = [h.strip().lower() for h in reader.fieldnames]
        lacking = [c for c in REQUIRED if c not in reader.fieldnames]
        if lacking:
            out.problems.append(RowProblem(1, lacking[0], "column missing from the header"))
            return out
        for row in reader:
            line = reader.line_num
            out.rows += 1
            try:
                raw = row_event({k: v or "" for k, v in row.items() if k})
                registry.parse_event(raw)
            except ValidationError as exc:
                e = exc.errors()[0]
                where = ".".join(str(p) for p in e["loc"] if not str(p).startswith("programme"))
                if not where and e.get("ctx", {}).get("field"):
                    where = str(e["ctx"]["field"])  # the privacy guard names the field
                out.problems.append(RowProblem(line, where.removeprefix("data.") or None, e["msg"]))
                continue
            except ValueError as exc:
                column, _, message = str(exc).partition(": ")
                out.problems.append(RowProblem(line, column, message))
                continue
            out.events.append((line, raw))
    return out


@dataclass
class _Posted(posting.PostTally):
    problems: list[RowProblem] = field(default_factory=list)

    def reject(self, item: tuple[int, dict[str, Any]], result: dict[str, Any]) -> None:
        self.problems.append(
            RowProblem(item[0], result.get("field"), result.get("message") or result["reason"])
        )


def _event(item: tuple[int, dict[str, Any]]) -> dict[str, Any]:
    return item[1]


def import_raid(
    path: Path, url: str, api_key: str, client: httpx.Client | None = None
) -> RaidImport:
    """Read the file and post the valid rows to ingest (through the shared ingest
    client); ingest's refusals are reported against the same line numbers."""
    result = read_raid_csv(path)
    posted = _Posted()
    with posting.ingest_client(client) as http:
        poster = posting.EventPoster(http, url, api_key, posted, _event)
        poster.post_all(posting.chunked(result.events, posting.MAX_BATCH))
    result.accepted = posted.accepted
    result.problems = sorted([*result.problems, *posted.problems], key=lambda p: p.line)
    return result
