"""The ingest client every import shares: post events in batches, retry, report each
rejected event, and optionally wait until every service has applied them.

Posting.  Each batch is one ``POST {ingest}/v1/events`` under the source's API key.  A
502/503/504 or a connection error is retried with the same batch after an exponential
back-off (0.5 s doubling, at most 10 s): the event ids are keyed, so ingest and every
consumer count an id once and a retry or a re-import changes nothing.  Up to
``in_flight`` batches are posted at once while the caller reads the next one; their
answers are recorded in the order the batches were made, whatever order they come in,
so a caller that keeps a case's events in one batch keeps them in order.  Every
rejected event is handed back with the item it came from, for the caller to report
against its own line or position (never its values).

Waiting.  ``POST {timeliness}/v1/applied`` with ``{"ids": [...]}`` (1,000 at a time)
answers ``{"applied": [...], "sequence": N}``: each poll asks about the newest 1,000
pending ids; once those are applied, every pending id is checked once.  Once every
accepted id is applied, the highest sequence S is the point reporting and alerts must
reach: ``GET {reporting|alerts}/v1/status`` answers ``{"timeliness_sequence": N}``,
polled until N >= S.  These calls send ``token`` (``Authorization: Bearer``; roles
``operational`` for timeliness, ``read`` for the others).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Literal, Protocol, TypedDict, TypeVar

import httpx

APPLIED_CHUNK = 1000
MAX_BATCH = 10_000  # ingest's default SENDWATCH_INGEST_MAX_BATCH
RETRY_STATUS = frozenset({502, 503, 504})
ANSWERED = frozenset({200, 207, 422})  # ingest answered for every event of the batch

T = TypeVar("T")


class IngestPostError(RuntimeError):
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


@dataclass(kw_only=True)
class PostTally:
    """What posting did; an import's summary extends it with what it read, with
    :meth:`reject`, which reports a rejected event against the item it came from, and
    with ``error``, the exception its import raises when ingest refuses or stays down."""

    error: ClassVar[type[IngestPostError]] = IngestPostError
    accepted: int = 0
    rejected: int = 0
    accepted_ids: list[str] = field(default_factory=list, repr=False)
    batches: int = 0
    retries: int = 0
    wait: WaitResult | None = None

    def reject(self, item: Any, result: dict[str, Any]) -> None:
        """Ingest rejected the event made from ``item``; ``result`` is its answer
        (``reason``, ``field``, ``message``).  Counted already; a summary reports it."""


class WaitOptions(TypedDict, total=False):
    """The keyword arguments of every import that say what ``wait`` waits for (see
    :class:`WaitFor`; ``wait_timeout`` is its ``timeout``, 600 s by default)."""

    wait: bool
    timeliness_url: str | None
    reporting_url: str | None
    alerts_url: str | None
    wait_timeout: float
    poll_interval: float
    token: str | None


@dataclass(frozen=True)
class WaitFor:
    """What ``--wait`` waits for: timeliness always; reporting and alerts when given."""

    timeliness_url: str
    reporting_url: str | None = None
    alerts_url: str | None = None
    timeout: float = 600.0
    poll_interval: float = 1.0
    token: str | None = None

    @classmethod
    def option(cls, options: WaitOptions) -> WaitFor | None:
        """None without ``wait``; a wait needs the timeliness URL (ValueError)."""
        if not options.get("wait"):
            return None
        url = options.get("timeliness_url")
        if not url:
            raise ValueError("waiting for the import to be applied needs the timeliness URL")
        return cls(
            url,
            options.get("reporting_url"),
            options.get("alerts_url"),
            options.get("wait_timeout", 600.0),
            options.get("poll_interval", 1.0),
            options.get("token"),
        )


class Carries(Protocol):
    @property
    def event(self) -> dict[str, Any]: ...


def carried(item: Carries) -> dict[str, Any]:
    """The event an item of an import carries (its line or position beside it)."""
    return item.event


def check_batch_size(batch_size: int) -> None:
    if not 1 <= batch_size <= MAX_BATCH:
        raise ValueError(f"batch_size must be between 1 and {MAX_BATCH}")


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of at most ``size`` items."""
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


@contextmanager
def ingest_client(client: httpx.Client | None) -> Iterator[httpx.Client]:
    """The caller's client (left open), or one of our own (closed afterwards)."""
    if client is not None:
        yield client
        return
    with httpx.Client(timeout=120) as own:
        yield own


def error_text(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return f"HTTP {resp.status_code}"
    if isinstance(body, dict):
        return f"HTTP {resp.status_code} {body.get('error', '')}: {body.get('message', '')}"
    return f"HTTP {resp.status_code}"


class EventPoster(Generic[T]):
    """Posts batches of items (``event(item)`` is the event sent) and records the
    answers in ``tally``, whose ``reject(item, result)`` is called for each event
    ingest rejected, in batch order.  Errors are raised as the tally's ``error`` (a
    subclass of :class:`IngestPostError`, so that each import names its own)."""

    answered: frozenset[int] = ANSWERED

    def __init__(
        self,
        http: httpx.Client,
        ingest_url: str,
        api_key: str,
        tally: PostTally,
        event: Callable[[T], Any],
        *,
        retries: int = 5,
        in_flight: int = 1,
    ) -> None:
        if in_flight < 1:
            raise ValueError("in_flight must be at least 1")
        self.http, self.tally, self.event = http, tally, event
        self.url = f"{ingest_url.rstrip('/')}/v1/events"
        self.headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
        self.retries, self.in_flight, self.error = retries, in_flight, tally.error
        self._lock = threading.Lock()

    def post_all(
        self, batches: Iterable[Sequence[T]], posted: Callable[[int], None] | None = None
    ) -> None:
        """Post every batch, up to ``in_flight`` at once while the next batch is made in
        this thread; record each batch's answer in order (then call ``posted`` with the
        batch's size)."""
        window: deque[tuple[Sequence[T], Future[httpx.Response]]] = deque()

        def settle() -> None:
            batch, future = window.popleft()
            self._record(future.result(), batch)
            if posted is not None:
                posted(len(batch))

        with ThreadPoolExecutor(max_workers=self.in_flight, thread_name_prefix="post") as pool:
            try:
                for batch in batches:
                    window.append((batch, pool.submit(self._post, self._body(batch))))
                    while len(window) >= self.in_flight or (window and window[0][1].done()):
                        settle()
                while window:
                    settle()
            finally:
                for _batch, future in window:
                    future.cancel()

    def wait(
        self,
        waiting: WaitFor | None,
        on_progress: Callable[[ImportProgress], None] | None = None,
    ) -> WaitResult | None:
        """Wait (when asked) until the accepted events are applied; also kept in the tally."""
        if waiting is not None:
            ids = self.tally.accepted_ids
            self.tally.wait = wait_until_applied(self.http, ids, waiting, on_progress, self.error)
        return self.tally.wait

    def _body(self, batch: Sequence[T]) -> list[dict[str, Any]] | bytes:
        return [self.event(item) for item in batch]

    def _post(self, body: list[dict[str, Any]] | bytes) -> httpx.Response:
        sent: dict[str, Any] = {"content": body} if isinstance(body, bytes) else {"json": body}
        for attempt in range(self.retries + 1):
            try:
                resp = self.http.post(self.url, headers=self.headers, **sent)
            except httpx.TransportError as exc:
                problem = f"was unreachable after {self.retries + 1} attempts"
                problem += f" ({type(exc).__name__})"
            else:
                if resp.status_code not in RETRY_STATUS:
                    return resp
                problem = f"kept answering {error_text(resp)}"
            if attempt == self.retries:
                raise self.error(
                    f"ingest {problem}; {self.tally.accepted} events were accepted before "
                    "that.  Re-run the import: the event ids are the same, so nothing is "
                    "counted twice"
                ) from None
            with self._lock:
                self.tally.retries += 1
            time.sleep(min(0.5 * 2**attempt, 10.0))
        raise AssertionError("unreachable")

    def _record(self, resp: httpx.Response, batch: Sequence[T]) -> None:
        if resp.status_code not in self.answered:
            raise self.error(f"ingest refused the import: {error_text(resp)}")
        try:
            results = resp.json()["results"]
        except (ValueError, KeyError, TypeError):
            results = None
        if not isinstance(results, list):
            raise self.error(
                f"ingest answered HTTP {resp.status_code} without per-event results: "
                f"{self.tally.accepted} events were accepted before that batch, which is "
                "not confirmed"
            )
        tally = self.tally
        for result in results:
            if result.get("status") == "accepted":
                tally.accepted += 1
                tally.accepted_ids.append(str(result.get("id")))
                continue
            tally.rejected += 1
            index = result.get("index")
            if isinstance(index, int) and 0 <= index < len(batch):
                tally.reject(batch[index], result)
        tally.batches += 1


class TextPoster(EventPoster[T]):
    """An :class:`EventPoster` whose ``event(item)`` is an event's JSON text (a str),
    sent as it is (never decoded and encoded again), so that ingest judges, and reports,
    what the file holds (a batch of conflicts, 409, is reported line by line too)."""

    answered = ANSWERED | {409}

    def _body(self, batch: Sequence[T]) -> list[dict[str, Any]] | bytes:
        return ("[" + ",".join(self.event(item) for item in batch) + "]").encode()


# --------------------------------------------------------------------------- waiting


def wait_until_applied(
    http: httpx.Client,
    ids: list[str],
    waiting: WaitFor,
    on_progress: Callable[[ImportProgress], None] | None = None,
    error: type[IngestPostError] = IngestPostError,
) -> WaitResult:
    """Poll until timeliness has applied every id, then until reporting and alerts
    have caught up with timeliness' sequence at that point."""
    started = time.monotonic()
    deadline = started + waiting.timeout
    pending = list(dict.fromkeys(ids))
    total = len(pending)
    sequence: int | None = None
    applied_url = f"{waiting.timeliness_url.rstrip('/')}/v1/applied"
    headers = {"Authorization": f"Bearer {waiting.token}"} if waiting.token else None

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
        for chunk in chunked(ids, APPLIED_CHUNK):
            body = _poll_json(http, "POST", applied_url, {"ids": chunk}, headers, error)
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
        time.sleep(waiting.poll_interval)

    target = sequence or 0
    seen: dict[str, int | None] = {"reporting": None, "alerts": None}
    for name, base in (("reporting", waiting.reporting_url), ("alerts", waiting.alerts_url)):
        if not base:
            continue
        status_url = f"{base.rstrip('/')}/v1/status"
        while True:
            body = _poll_json(http, "GET", status_url, None, headers, error)
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
            time.sleep(waiting.poll_interval)
    return result(True, reporting_sequence=seen["reporting"], alerts_sequence=seen["alerts"])


def _poll_json(
    http: httpx.Client,
    method: str,
    url: str,
    body: dict[str, Any] | None,
    headers: dict[str, str] | None,
    error: type[IngestPostError],
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
        raise error(f"{method} {url} answered {error_text(resp)}")
    try:
        payload = resp.json()
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None
