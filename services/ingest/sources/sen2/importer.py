"""Import a SEN2 return through the ingest API (``sendwatch import sen2 FILE.xml``).

1. Refuse to start without a pseudonymisation key (``SENDWATCH_PSEUDONYM_KEY``).
2. Check the whole file is well-formed XML rooted at ``Message`` before posting anything.
3. Stream it: parse, pseudonymise, convert, and post the events in batches.  A batch
   holds whole persons (a case's events are never split between two requests), so up
   to ``in_flight`` batches are posted at once while the next is read, and a case's
   events still reach the broker in order.  A 503, a 502/504 or a connection error is
   retried with the same batch (same ids: ingest and every consumer count an id once,
   so a retry or a re-import changes nothing).
4. Optionally wait until the events are applied by timeliness, then reporting and
   alerts (:func:`services.ingest.sources.posting.wait_until_applied`).

Posting, retries and waiting are the shared client's (``services.ingest.sources.posting``).

Every date of a request must lie inside the plausibility window
(``contracts/plausibility.yaml``); a request with a date outside it is not imported and
is reported as a problem naming the SEN2 field.

Nothing identifying is ever logged, raised or reported: problems name positions in the
file (person, request), never values.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path
from typing import Any, Literal, Unpack

import httpx

from sendwatch.observability import get_logger
from services.ingest.sources import posting
from services.ingest.sources.posting import MAX_BATCH, ImportProgress, WaitResult
from services.ingest.sources.sen2.events import Sen2Conversion, Sen2Event, Sen2Summary
from services.ingest.sources.sen2.parse import Problem, ProblemReason, check_well_formed
from services.ingest.sources.sen2.pseudonymise import Pseudonymiser, resolve_key

__all__ = ["MAX_BATCH", "ImportProgress", "ImportSummary", "Sen2ImportError", "WaitResult"]

log = get_logger(__name__)


class Sen2ImportError(posting.IngestPostError):
    """Ingest refused the import (bad key, wrong source, too large) or stayed down."""


@dataclass
class ImportSummary(posting.PostTally):
    error = Sen2ImportError
    file_name: str
    conversion: Sen2Summary
    rejections: list[Problem] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def persons(self) -> int:
        return self.conversion.persons

    @property
    def requests(self) -> int:
        return self.conversion.requests

    @property
    def requests_imported(self) -> int:
        return self.conversion.requests_imported

    @property
    def events(self) -> int:
        return self.conversion.events

    @property
    def problems(self) -> list[Problem]:
        """File problems and ingest rejections, by person and request position."""
        return sorted(
            [*self.conversion.problems, *self.rejections],
            key=lambda p: (p.person, p.request or 0),
        )

    @property
    def ok(self) -> bool:
        """Every request imported, every event accepted and (if waited) applied."""
        return (
            self.conversion.errors == 0
            and self.rejected == 0
            and (self.wait is None or self.wait.complete)
        )

    def reject(self, item: Sen2Event, result: dict[str, Any]) -> None:
        self.rejections.append(
            Problem(
                item.person,
                item.request,
                ProblemReason.REJECTED_BY_INGEST,
                result.get("field"),
                f"{item.event['type']} rejected: {result.get('reason')}: "
                f"{result.get('message') or ''}".rstrip(": "),
            )
        )

    def lines(self) -> list[str]:
        """A human summary (counts only) for the command line."""
        c = self.conversion
        h = c.header
        out = [
            f"{self.file_name}: SEN2 {h.year or '?'} (LA {h.la_code or '?'}, reference date "
            f"{h.reference_date.isoformat() if h.reference_date else '?'})",
            f"{c.persons} persons, {c.requests} requests: {c.requests_imported} imported, "
            f"{c.requests_skipped} not imported",
            f"{c.events} events: {self.accepted} accepted, {self.rejected} rejected "
            f"({self.batches} batches, {self.retries} retries, {self.seconds:.1f} s)",
            "by type: " + ", ".join(f"{k} {v}" for k, v in sorted(c.events_by_type.items())),
            f"problems: {c.errors} errors, {c.warnings} warnings"
            + (f", {len(self.rejections)} rejected by ingest" if self.rejections else ""),
        ]
        w = self.wait
        if w is not None:
            if w.complete:
                out.append(
                    f"applied: all {w.applied} events (timeliness sequence {w.sequence}; "
                    f"reporting {w.reporting_sequence if w.reporting_sequence is not None else '-'}"
                    f", alerts {w.alerts_sequence if w.alerts_sequence is not None else '-'}) "
                    f"after {w.seconds:.1f} s"
                )
            else:
                out.append(
                    f"not applied in time: waiting on {w.timed_out_on} after {w.seconds:.1f} s "
                    f"({w.applied} applied, {w.pending} pending)"
                )
        return out


def _batches(items: Iterator[Sen2Event], size: int) -> Iterator[list[Sen2Event]]:
    """Batches of at most ``size`` events that hold whole persons (so whole cases): a
    person's events go in the next batch rather than being split, unless one person
    alone has more than ``size`` events."""
    batch: list[Sen2Event] = []
    for _, events in groupby(items, key=lambda item: item.person):
        person = list(events)
        if len(batch) + len(person) > size:
            if batch:
                yield batch
            batch = []
            while len(person) > size:  # one person larger than a batch: split it
                yield person[:size]
                person = person[size:]
        batch.extend(person)
    if batch:
        yield batch


def import_sen2(
    path: Path,
    ingest_url: str,
    api_key: str,
    *,
    key: str | None = None,
    batch_size: int = 5000,
    on_progress: Callable[[ImportProgress], None] | None = None,
    client: httpx.Client | None = None,
    retries: int = 5,
    placements: bool = False,
    settings: dict[str, str] | None = None,
    in_flight: int = 3,
    **wait: Unpack[posting.WaitOptions],
) -> ImportSummary:
    """Import one SEN2 XML return through ingest; see the module docstring.

    ``key`` is the pseudonymisation key (``sendwatch import sen2`` reads it from
    ``$SENDWATCH_PSEUDONYM_KEY``; raises
    :class:`~services.ingest.sources.sen2.pseudonymise.PseudonymKeyError` without one).  A file that
    is not well-formed raises :class:`~services.ingest.sources.sen2.parse.Sen2FormatError` before
    anything is posted; ingest refusing the key or the batch raises
    :class:`Sen2ImportError`.  Malformed records are reported in the summary's
    ``problems`` and the rest is imported.  With ``wait``, ``timeliness_url`` is
    required; ``reporting_url`` / ``alerts_url`` are waited for only when given.  A wait
    that runs out of ``wait_timeout`` seconds is reported in ``summary.wait`` (not raised).
    ``in_flight`` batches are posted at once (1: one after the other); results are
    recorded in file order whatever order the answers come in.
    """
    pseudonymiser = Pseudonymiser(resolve_key(key))
    waiting = posting.WaitFor.option(wait)
    posting.check_batch_size(batch_size)
    path = Path(path)
    total_bytes = path.stat().st_size
    check_well_formed(path)

    started = time.monotonic()
    conversion = Sen2Conversion(
        path, pseudonymiser, file_name=path.name, settings=settings, placements=placements
    )
    summary = ImportSummary(path.name, conversion.summary)

    def progress(stage: Literal["posting", "waiting"], done: int, total: int) -> None:
        if on_progress:
            on_progress(ImportProgress(stage, done, total, summary.accepted + summary.rejected))

    log.info(
        "sen2_import_started", file_bytes=total_bytes, batch_size=batch_size, in_flight=in_flight
    )
    with posting.ingest_client(client) as http:
        poster = posting.EventPoster(
            http,
            ingest_url,
            api_key,
            summary,
            posting.carried,
            retries=retries,
            in_flight=in_flight,
        )
        poster.post_all(
            _batches(iter(conversion), batch_size),
            lambda _: progress("posting", conversion.reader.bytes_read or total_bytes, total_bytes),
        )
        progress("posting", total_bytes, total_bytes)
        c = summary.conversion
        log.info(
            "sen2_import_posted",
            persons=c.persons,
            requests=c.requests,
            requests_imported=c.requests_imported,
            events=c.events,
            accepted=summary.accepted,
            rejected=summary.rejected,
            errors=c.errors,
            warnings=c.warnings,
        )
        if (waited := poster.wait(waiting, on_progress)) is not None:
            log.info(
                "sen2_import_wait",
                complete=waited.complete,
                applied=waited.applied,
                pending=waited.pending,
                sequence=waited.sequence,
            )
    summary.seconds = time.monotonic() - started
    return summary
