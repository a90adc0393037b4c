"""Client side of ingest: post a JSONL file of events in batches (``sendwatch ingest``),
through the ingest client every import shares (``services.ingest.sources.posting``)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from services.ingest.sources import posting


class IngestRefused(posting.IngestPostError):
    """Ingest refused a request, gave no per-event answer, or stayed down."""


@dataclass
class LineProblem:
    line: int
    reason: str
    field: str | None
    message: str


@dataclass
class ImportReport(posting.PostTally):
    error = IngestRefused
    lines: int = 0
    problems: list[LineProblem] = field(default_factory=list)

    def reject(self, item: tuple[int, str], result: dict[str, Any]) -> None:
        self.problems.append(
            LineProblem(item[0], result["reason"], result.get("field"), result.get("message") or "")
        )


def _batches(path: Path, size: int, report: ImportReport) -> Iterator[list[tuple[int, str]]]:
    """Batches of (line number, line text).  A line that is not JSON is reported here;
    the others are sent as they are (never re-encoded), so a line nested too deep for
    this process's decoder is still judged, and reported, by ingest."""
    batch: list[tuple[int, str]] = []
    with path.open(encoding="utf-8", errors="surrogateescape") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            report.lines += 1
            try:
                line.encode("utf-8")
                json.loads(line)
            except RecursionError:
                pass  # valid as far as we can tell: ingest decides
            except (ValueError, UnicodeError) as exc:
                where = (
                    f"line {exc.lineno}, column {exc.colno}"
                    if isinstance(exc, json.JSONDecodeError)
                    else "not UTF-8"
                )
                report.rejected += 1
                report.problems.append(
                    LineProblem(number, "malformed_json", None, f"not JSON ({where})")
                )
                continue
            batch.append((number, line.strip()))
            if len(batch) >= size:
                yield batch
                batch = []
    if batch:
        yield batch


def post_jsonl(
    path: Path,
    url: str,
    api_key: str,
    batch_size: int = 1000,
    on_progress: Callable[[int], None] | None = None,
    client: httpx.Client | None = None,
    retries: int = 5,
) -> ImportReport:
    """Post every valid line; report each rejected one by line number."""
    report = ImportReport()
    with posting.ingest_client(client) as http:
        poster = posting.TextPoster(http, url, api_key, report, _text, retries=retries)
        poster.post_all(_batches(path, batch_size, report), on_progress)
    report.problems.sort(key=lambda p: p.line)
    return report


def _text(item: tuple[int, str]) -> str:
    return item[1]
