"""Import a case-management placement extract through the ingest API (``sendwatch
import placements FILE.csv``): convert (``extract``), post in batches under the
placements source's key (a 502/503/504 or a connection error is retried with the same
batch: the ids are keyed, so nothing is counted twice), and optionally wait until every
service has applied the events.  Problems name line numbers and fields, never values."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from sendwatch.observability import get_logger
from services.ingest.sources.placements.extract import (
    ExtractConverter,
    ExtractEvent,
    ExtractSummary,
    RowProblem,
)
from services.ingest.sources.sen2.importer import WaitResult, wait_until_applied
from services.ingest.sources.sen2.pseudonymise import Pseudonymiser, resolve_key

log = get_logger(__name__)
RETRY_STATUS = frozenset({502, 503, 504})


class PlacementImportError(RuntimeError):
    """Ingest refused the import (bad key, wrong source) or stayed down."""


@dataclass
class PlacementImportSummary:
    file_name: str
    conversion: ExtractSummary
    accepted: int = 0
    rejected: int = 0
    batches: int = 0
    rejections: list[RowProblem] = field(default_factory=list)
    wait: WaitResult | None = None

    @property
    def problems(self) -> list[RowProblem]:
        return sorted([*self.conversion.problems, *self.rejections], key=lambda p: p.line)

    @property
    def ok(self) -> bool:
        return (
            not self.conversion.problems
            and self.rejected == 0
            and (self.wait is None or self.wait.complete)
        )

    def lines(self) -> list[str]:
        c = self.conversion
        out = [
            f"{self.file_name}: {c.rows} rows, {c.rows_imported} imported, "
            f"{c.rows - c.rows_imported} not imported",
            f"{c.events} events: {self.accepted} accepted, {self.rejected} rejected "
            f"({self.batches} batches)",
        ]
        if self.wait is not None:
            w = self.wait
            out.append(
                f"applied: all {w.applied} events (timeliness sequence {w.sequence})"
                if w.complete
                else f"not applied in time: waiting on {w.timed_out_on} ({w.pending} pending)"
            )
        return out


def _batches(items: Iterator[ExtractEvent], size: int) -> Iterator[list[ExtractEvent]]:
    batch: list[ExtractEvent] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _post(http: httpx.Client, url: str, api_key: str, body: list[dict[str, Any]]) -> Any:
    for attempt in range(6):
        try:
            resp = http.post(url, json=body, headers={"Authorization": f"Bearer {api_key}"})
        except httpx.TransportError:
            resp = None
        if resp is not None and resp.status_code not in RETRY_STATUS:
            if resp.status_code not in (200, 207, 422):
                raise PlacementImportError(f"ingest refused the import: HTTP {resp.status_code}")
            return resp.json()
        time.sleep(min(0.5 * 2**attempt, 10.0))
    raise PlacementImportError(
        "ingest unreachable; re-run the import: the ids are the same, nothing counts twice"
    )


def import_placements(
    path: Path,
    ingest_url: str,
    api_key: str,
    *,
    key: str | None = None,
    batch_size: int = 2000,
    wait: bool = False,
    timeliness_url: str | None = None,
    reporting_url: str | None = None,
    alerts_url: str | None = None,
    wait_timeout: float = 600.0,
    token: str | None = None,
    client: httpx.Client | None = None,
) -> PlacementImportSummary:
    converter = ExtractConverter(Pseudonymiser(resolve_key(key)))
    if wait and not timeliness_url:
        raise ValueError("waiting for the import to be applied needs the timeliness URL")
    text = Path(path).read_text(encoding="utf-8")
    summary = PlacementImportSummary(Path(path).name, converter.summary)
    own = client is None
    http = client or httpx.Client(timeout=120)
    url = f"{ingest_url.rstrip('/')}/v1/events"
    accepted: list[str] = []
    try:
        for batch in _batches(converter.convert(text), batch_size):
            payload = _post(http, url, api_key, [e.event for e in batch])
            summary.batches += 1
            for result in payload.get("results", []) if isinstance(payload, dict) else []:
                if result.get("status") == "accepted":
                    summary.accepted += 1
                    accepted.append(str(result.get("id")))
                    continue
                summary.rejected += 1
                index = result.get("index")
                if isinstance(index, int) and 0 <= index < len(batch):
                    summary.rejections.append(
                        RowProblem(
                            batch[index].line,
                            str(result.get("field") or "event"),
                            f"{batch[index].event['type']} rejected: {result.get('reason')}",
                        )
                    )
        log.info(
            "placements_import_posted",
            rows=converter.summary.rows,
            rows_imported=converter.summary.rows_imported,
            events=converter.summary.events,
            accepted=summary.accepted,
            rejected=summary.rejected,
        )
        if wait:
            assert timeliness_url is not None
            summary.wait = wait_until_applied(
                http,
                accepted,
                timeliness_url,
                reporting_url=reporting_url,
                alerts_url=alerts_url,
                timeout=wait_timeout,
                token=token,
            )
    finally:
        if own:
            http.close()
    return summary
