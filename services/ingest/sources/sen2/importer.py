"""Import a SEN2 return through the ingest API (``sendwatch import sen2 FILE.xml``).

1. Refuse to start without a pseudonymisation key (``SENDWATCH_PSEUDONYM_KEY``).
2. Check the whole file is well-formed XML rooted at ``Message`` before posting anything.
3. Stream it: parse, pseudonymise, convert, and post the events in batches.  A batch
   holds whole persons (a case's events are never split between two requests), so up
   to ``in_flight`` batches are posted at once while the next is read, and a case's
   events still reach the broker in order.  A 503, a 502/504 or a connection error is
   retried with the same batch (same ids: ingest and every consumer count an id once,
   so a retry or a re-import changes nothing).
4. Optionally wait until the events are applied: ``POST {timeliness}/v1/applied`` with
   ``{"ids": [...]}`` (1,000 at a time) answers ``{"applied": [...], "sequence": N}``
   (each poll asks about the newest 1,000 pending ids; once those are applied, every
   pending id is checked once);
   once every accepted id is applied, the highest sequence S is the point reporting
   and alerts must reach: ``GET {reporting|alerts}/v1/status`` answers
   ``{"timeliness_sequence": N}``, polled until N >= S.  These calls send ``token``
   (``Authorization: Bearer``; roles ``operational`` for timeliness, ``read`` for the
   others).

Every date of a request must lie inside the plausibility window
(``contracts/plausibility.yaml``); a request with a date outside it is not imported and
is reported as a problem naming the SEN2 field.

Nothing identifying is ever logged, raised or reported: problems name positions in the
file (person, request), never values.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx

from sendwatch.observability import get_logger
from services.ingest.sources.sen2.events import Sen2Conversion, Sen2Event, Sen2Summary
from services.ingest.sources.sen2.parse import Problem, ProblemReason, check_well_formed
from services.ingest.sources.sen2.pseudonymise import Pseudonymiser, resolve_key

log = get_logger(__name__)

APPLIED_CHUNK = 1000
MAX_BATCH = 10_000  # ingest's default SENDWATCH_INGEST_MAX_BATCH
RETRY_STATUS = frozenset({502, 503, 504})


class Sen2ImportError(RuntimeError):
    """Ingest refused the import (bad key, wrong source, too large) or stayed down."""


@dataclass(frozen=True)
class ImportProgress:
    """Passed to ``on_progress``: ``posting`` counts bytes of the file read (``done`` of
    ``total``); ``waiting`` counts events applied by timeliness (of those accepted)."""

    stage: Literal["posting", "waiting"]
    done: int
    total: int
    events_posted: int


@dataclass
class WaitResult:
    complete: bool
    applied: int = 0
    pending: int = 0
    sequence: int | None = None
    reporting_sequence: int | None = None
    alerts_sequence: int | None = None
    timed_out_on: str | None = None  # "timeliness" | "reporting" | "alerts"
    seconds: float = 0.0


@dataclass
class ImportSummary:
    file_name: str
    conversion: Sen2Summary
    accepted: int = 0
    rejected: int = 0
    batches: int = 0
    retries: int = 0
    rejections: list[Problem] = field(default_factory=list)
    wait: WaitResult | None = None
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
    person: list[Sen2Event] = []
    current = -1
    for item in items:
        if item.person != current:
            if len(batch) + len(person) > size:
                if batch:
                    yield batch
                batch = []
                while len(person) > size:  # one person larger than a batch: split it
                    yield person[:size]
                    person = person[size:]
            batch.extend(person)
            person = []
            current = item.person
        person.append(item)
    if len(batch) + len(person) > size:
        if batch:
            yield batch
        batch = []
        while len(person) > size:
            yield person[:size]
            person = person[size:]
    batch.extend(person)
    if batch:
        yield batch


def _error_text(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return f"HTTP {resp.status_code}"
    if isinstance(body, dict):
        return f"HTTP {resp.status_code} {body.get('error', '')}: {body.get('message', '')}"
    return f"HTTP {resp.status_code}"


def _post(
    http: httpx.Client,
    url: str,
    api_key: str,
    body: list[dict[str, Any]],
    retries: int,
    summary: ImportSummary,
    lock: threading.Lock | None = None,
) -> httpx.Response:
    for attempt in range(retries + 1):
        try:
            resp = http.post(url, json=body, headers={"Authorization": f"Bearer {api_key}"})
        except httpx.TransportError as exc:
            if attempt == retries:
                raise Sen2ImportError(
                    f"ingest unreachable after {retries + 1} attempts ({type(exc).__name__}); "
                    f"{summary.accepted} events were accepted before that.  Re-run the "
                    "import: the event ids are the same, so nothing is counted twice"
                ) from None
        else:
            if resp.status_code not in RETRY_STATUS:
                return resp
            if attempt == retries:
                raise Sen2ImportError(
                    f"ingest kept answering {_error_text(resp)}; {summary.accepted} events "
                    "were accepted before that.  Re-run the import: the event ids are the "
                    "same, so nothing is counted twice"
                )
        if lock is None:
            summary.retries += 1
        else:
            with lock:
                summary.retries += 1
        time.sleep(min(0.5 * 2**attempt, 10.0))
    raise AssertionError("unreachable")


def import_sen2(
    path: Path,
    ingest_url: str,
    api_key: str,
    *,
    key: str | None = None,
    batch_size: int = 5000,
    wait: bool = False,
    timeliness_url: str | None = None,
    reporting_url: str | None = None,
    alerts_url: str | None = None,
    wait_timeout: float = 600.0,
    poll_interval: float = 1.0,
    on_progress: Callable[[ImportProgress], None] | None = None,
    client: httpx.Client | None = None,
    retries: int = 5,
    token: str | None = None,
    placements: bool = False,
    settings: dict[str, str] | None = None,
    in_flight: int = 3,
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
    if wait and not timeliness_url:
        raise ValueError("waiting for the import to be applied needs the timeliness URL")
    if not 1 <= batch_size <= MAX_BATCH:
        raise ValueError(f"batch_size must be between 1 and {MAX_BATCH}")
    if in_flight < 1:
        raise ValueError("in_flight must be at least 1")
    path = Path(path)
    total_bytes = path.stat().st_size
    check_well_formed(path)

    started = time.monotonic()
    conversion = Sen2Conversion(
        path, pseudonymiser, file_name=path.name, settings=settings, placements=placements
    )
    summary = ImportSummary(path.name, conversion.summary)
    own = client is None
    http = client or httpx.Client(timeout=120)
    events_url = f"{ingest_url.rstrip('/')}/v1/events"
    accepted_ids: list[str] = []

    def progress(stage: Literal["posting", "waiting"], done: int, total: int) -> None:
        if on_progress:
            on_progress(ImportProgress(stage, done, total, summary.accepted + summary.rejected))

    try:
        log.info(
            "sen2_import_started",
            file_bytes=total_bytes,
            batch_size=batch_size,
            in_flight=in_flight,
        )
        _post_all(
            http,
            events_url,
            api_key,
            _batches(iter(conversion), batch_size),
            retries,
            summary,
            accepted_ids,
            in_flight,
            lambda: progress("posting", conversion.reader.bytes_read or total_bytes, total_bytes),
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
        if wait:
            assert timeliness_url is not None
            summary.wait = wait_until_applied(
                http,
                accepted_ids,
                timeliness_url,
                reporting_url=reporting_url,
                alerts_url=alerts_url,
                timeout=wait_timeout,
                poll_interval=poll_interval,
                on_progress=on_progress,
                token=token,
            )
            log.info(
                "sen2_import_wait",
                complete=summary.wait.complete,
                applied=summary.wait.applied,
                pending=summary.wait.pending,
                sequence=summary.wait.sequence,
            )
    finally:
        if own:
            http.close()
    summary.seconds = time.monotonic() - started
    return summary


def _post_all(
    http: httpx.Client,
    url: str,
    api_key: str,
    batches: Iterator[list[Sen2Event]],
    retries: int,
    summary: ImportSummary,
    accepted_ids: list[str],
    in_flight: int,
    posted: Callable[[], None],
) -> None:
    """Post every batch, up to ``in_flight`` at once while the next batch is read and
    converted in this thread; record each batch's results in file order."""
    lock = threading.Lock()
    window: deque[tuple[list[Sen2Event], Future[httpx.Response]]] = deque()

    def settle() -> None:
        batch, future = window.popleft()
        resp = future.result()
        if resp.status_code not in (200, 207, 422):
            raise Sen2ImportError(f"ingest refused the import: {_error_text(resp)}")
        _record_results(resp.json(), batch, summary, accepted_ids)
        summary.batches += 1
        posted()

    with ThreadPoolExecutor(max_workers=in_flight, thread_name_prefix="sen2-post") as pool:
        try:
            for batch in batches:
                body = [e.event for e in batch]
                window.append(
                    (batch, pool.submit(_post, http, url, api_key, body, retries, summary, lock))
                )
                while len(window) >= in_flight or (window and window[0][1].done()):
                    settle()
            while window:
                settle()
        finally:
            for _batch, future in window:
                future.cancel()


def _record_results(
    payload: Any, batch: list[Sen2Event], summary: ImportSummary, accepted_ids: list[str]
) -> None:
    results = payload.get("results", []) if isinstance(payload, dict) else []
    for result in results:
        index = result.get("index")
        if result.get("status") == "accepted":
            summary.accepted += 1
            accepted_ids.append(str(result.get("id")))
            continue
        summary.rejected += 1
        if not isinstance(index, int) or not 0 <= index < len(batch):
            continue
        item = batch[index]
        summary.rejections.append(
            Problem(
                item.person,
                item.request,
                ProblemReason.REJECTED_BY_INGEST,
                result.get("field"),
                f"{item.event['type']} rejected: {result.get('reason')}: "
                f"{result.get('message') or ''}".rstrip(": "),
            )
        )


# --------------------------------------------------------------------------- waiting


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def wait_until_applied(
    http: httpx.Client,
    ids: list[str],
    timeliness_url: str,
    *,
    reporting_url: str | None = None,
    alerts_url: str | None = None,
    timeout: float = 600.0,
    poll_interval: float = 1.0,
    on_progress: Callable[[ImportProgress], None] | None = None,
    token: str | None = None,
) -> WaitResult:
    """Poll until timeliness has applied every id, then until reporting and alerts
    have caught up with timeliness' sequence at that point."""
    started = time.monotonic()
    deadline = started + timeout
    pending = list(dict.fromkeys(ids))
    total = len(pending)
    sequence: int | None = None
    applied_url = f"{timeliness_url.rstrip('/')}/v1/applied"
    headers = {"Authorization": f"Bearer {token}"} if token else None

    def result(complete: bool, on: str | None = None, **extra: Any) -> WaitResult:
        return WaitResult(
            complete=complete,
            applied=total - len(pending),
            pending=len(pending),
            sequence=sequence,
            timed_out_on=on,
            seconds=time.monotonic() - started,
            **extra,
        )

    def check(ids: list[str]) -> list[str] | None:
        """The ids of ``ids`` not applied yet (None: timeliness unreachable for now)."""
        nonlocal sequence
        left: list[str] = []
        for chunk in _chunks(ids, APPLIED_CHUNK):
            body = _poll_json(http, "POST", applied_url, {"ids": chunk}, headers)
            if body is None:
                return None
            applied = set(body.get("applied") or ())
            if isinstance(body.get("sequence"), int):
                sequence = max(sequence or 0, body["sequence"])
            left.extend(i for i in chunk if i not in applied)
        return left

    # Poll only the newest ids until they are applied (each partition is applied in
    # order, so by then nearly everything is), then check every pending id once; repeat
    # with what is left.  Each poll is one lookup of APPLIED_CHUNK ids, however large the
    # import: re-checking every pending id on each poll would cost timeliness more than
    # the import itself.
    while pending:
        tail = check(pending[-APPLIED_CHUNK:])
        if tail is not None and not tail:
            rest = check(pending)
            if rest is not None:
                pending = rest
        if on_progress:
            on_progress(ImportProgress("waiting", total - len(pending), total, total))
        if not pending:
            break
        if time.monotonic() >= deadline:
            return result(False, "timeliness")
        time.sleep(poll_interval)

    target = sequence or 0
    seen: dict[str, int | None] = {"reporting": None, "alerts": None}
    for name, base in (("reporting", reporting_url), ("alerts", alerts_url)):
        if not base:
            continue
        status_url = f"{base.rstrip('/')}/v1/status"
        while True:
            body = _poll_json(http, "GET", status_url, None, headers)
            value = body.get("timeliness_sequence") if body else None
            if isinstance(value, int):
                seen[name] = value
                if value >= target:
                    break
            if time.monotonic() >= deadline:
                return result(
                    False,
                    name,
                    reporting_sequence=seen["reporting"],
                    alerts_sequence=seen["alerts"],
                )
            time.sleep(poll_interval)
    return result(True, reporting_sequence=seen["reporting"], alerts_sequence=seen["alerts"])


def _poll_json(
    http: httpx.Client,
    method: str,
    url: str,
    body: dict[str, Any] | None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any] | None:
    """One poll: the JSON object answered, or None when the service is unreachable or
    busy (retried by the caller).  A 4xx means the endpoint is missing or refuses us
    (a 401/403: the token is missing or lacks the role)."""
    try:
        resp = http.request(method, url, json=body, timeout=30, headers=headers)
    except httpx.TransportError:
        return None
    if resp.status_code >= 500:
        return None
    if resp.status_code >= 400:
        raise Sen2ImportError(f"{method} {url} answered {_error_text(resp)}")
    try:
        payload = resp.json()
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None
