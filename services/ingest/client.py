"""Client side of ingest: post a JSONL file of events in batches (``sendwatch ingest``)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx


class IngestRefused(RuntimeError):
    """Ingest refused a request or gave no per-event answer."""


@dataclass
class LineProblem:
    line: int
    reason: str
    field: str | None
    message: str


@dataclass
class ImportReport:
    lines: int = 0
    accepted: int = 0
    rejected: int = 0
    problems: list[LineProblem] = field(default_factory=list)


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
    own = client is None
    http = client or httpx.Client(timeout=120)
    try:
        for batch in _batches(path, batch_size, report):
            lines = [n for n, _ in batch]
            body = ("[" + ",".join(text for _, text in batch) + "]").encode()
            for attempt in range(retries):
                try:
                    resp = http.post(
                        f"{url.rstrip('/')}/v1/events",
                        content=body,
                        headers={
                            "Authorization": f"Bearer {api_key}",
                            "Content-Type": "application/json",
                        },
                    )
                except httpx.TransportError:
                    if attempt == retries - 1:
                        raise
                    continue
                if resp.status_code not in (502, 503, 504):
                    break
            if resp.status_code in (401, 413):
                raise IngestRefused(f"ingest refused the request: {resp.status_code} {resp.text}")
            try:
                payload = resp.json()
            except ValueError:
                payload = None
            if not isinstance(payload, dict) or not isinstance(payload.get("results"), list):
                raise IngestRefused(
                    f"ingest answered {resp.status_code} without per-event results "
                    f"(lines {lines[0]}-{lines[-1]} not confirmed)"
                )
            for result in payload.get("results", []):
                if result["status"] == "accepted":
                    report.accepted += 1
                else:
                    report.rejected += 1
                    report.problems.append(
                        LineProblem(
                            lines[result["index"]],
                            result["reason"],
                            result.get("field"),
                            result.get("message") or "",
                        )
                    )
            if on_progress:
                on_progress(len(batch))
    finally:
        if own:
            http.close()
    report.problems.sort(key=lambda p: p.line)
    return report
