"""Import a case-management placement extract through the ingest API (``sendwatch
import placements FILE.csv``): convert (``extract``), post in batches under the
placements source's key (a 502/503/504 or a connection error is retried with the same
batch: the ids are keyed, so nothing is counted twice), and optionally wait until every
service has applied the events.  Problems name line numbers and fields, never values."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Unpack

import httpx

from sendwatch.observability import get_logger
from services.ingest.sources import posting
from services.ingest.sources.placements.extract import (
    ExtractConverter,
    ExtractEvent,
    ExtractSummary,
    RowProblem,
)
from services.ingest.sources.sen2.pseudonymise import Pseudonymiser, resolve_key

log = get_logger(__name__)


class PlacementImportError(posting.IngestPostError):
    """Ingest refused the import (bad key, wrong source) or stayed down."""


@dataclass
class PlacementImportSummary(posting.PostTally):
    error = PlacementImportError
    file_name: str
    conversion: ExtractSummary
    rejections: list[RowProblem] = field(default_factory=list)

    @property
    def problems(self) -> list[RowProblem]:
        return sorted([*self.conversion.problems, *self.rejections], key=lambda p: p.line)

    def reject(self, item: ExtractEvent, result: dict[str, Any]) -> None:
        self.rejections.append(
            RowProblem(
                item.line,
                str(result.get("field") or "event"),
                f"{item.event['type']} rejected: {result.get('reason')}",
            )
        )

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


def import_placements(
    path: Path,
    ingest_url: str,
    api_key: str,
    *,
    key: str | None = None,
    batch_size: int = 2000,
    client: httpx.Client | None = None,
    **wait: Unpack[posting.WaitOptions],
) -> PlacementImportSummary:
    converter = ExtractConverter(Pseudonymiser(resolve_key(key)))
    waiting = posting.WaitFor.option(wait)
    posting.check_batch_size(batch_size)
    text = Path(path).read_text(encoding="utf-8")
    summary = PlacementImportSummary(Path(path).name, converter.summary)
    with posting.ingest_client(client) as http:
        poster = posting.EventPoster(http, ingest_url, api_key, summary, posting.carried)
        poster.post_all(posting.chunked(converter.convert(text), batch_size))
        log.info(
            "placements_import_posted",
            rows=converter.summary.rows,
            rows_imported=converter.summary.rows_imported,
            events=converter.summary.events,
            accepted=summary.accepted,
            rejected=summary.rejected,
        )
        poster.wait(waiting)
    return summary
