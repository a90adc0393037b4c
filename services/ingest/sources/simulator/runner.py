"""Post the simulated county's events to ingest on an accelerated clock.

The simulated clock starts at ``start`` (midnight UTC) and runs ``speed`` simulated
seconds per real second (default two simulated days a second, so a month takes ~15 s).
Events are posted once the clock has reached their time, in batches, to
``POST {ingest_url}/v1/events``.  History (cases open at the start, plus ``backfill_days``)
is posted at once before the clock starts.

Delivery is at-least-once: a batch that fails with a connection error or a 429/502/503/504
is re-sent unchanged (same event ids; ingest and its consumers count an id once) with
exponential back-off until it is accepted or the run is stopped, so nothing is lost when
ingest starts late or the broker blips.  The clock keeps running meanwhile; the events
that fell due are posted together once ingest answers.

The simulation stays inside the plausibility window (``contracts/plausibility.yaml``):
its history may not start before the window, and the accelerated clock stops at the
window's end (the wall clock plus ``future_days``) instead of posting events ingest
would reject.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from contracts.plausibility import load_window
from sendwatch.observability import get_logger
from services.ingest.sources.simulator.model import EventDict, SimConfig, TimedEvent, timed_events
from services.ingest.sources.simulator.streams import Stream

log = get_logger(__name__)

RETRY_STATUSES = frozenset({429, 502, 503, 504})


class SimulatorError(RuntimeError):
    """A failure retrying cannot fix (e.g. ingest does not accept the API key)."""


@dataclass
class SimStats:
    """What a run did.  ``sim_time`` is the simulated clock when the run ended."""

    seed: int
    start: datetime
    posted: int = 0
    accepted: int = 0
    rejected: int = 0
    unsent: int = 0
    batches: int = 0
    retries: int = 0
    backfilled: int = 0
    ticks: int = 0
    sim_time: datetime | None = None
    last_event_time: datetime | None = None
    errors: list[str] = field(default_factory=list)


class SimClock:
    """Accelerated clock: ``start + (real seconds since begin) * speed``, capped at ``end``.

    Before :meth:`begin` it reads ``start``; after :meth:`freeze` it keeps the last value.
    """

    def __init__(
        self,
        start: datetime,
        speed: float,
        end: datetime | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be > 0 simulated seconds per real second")
        self.start = start
        self.speed = speed
        self.end = end
        self._monotonic = monotonic
        self._began: float | None = None
        self._frozen: datetime | None = None

    def begin(self) -> None:
        self._began = self._monotonic()

    def freeze(self) -> None:
        self._frozen = self.now()

    def now(self) -> datetime:
        if self._frozen is not None:
            return self._frozen
        if self._began is None:
            return self.start
        elapsed = (self._monotonic() - self._began) * self.speed
        now = self.start + timedelta(seconds=elapsed)
        return min(now, self.end) if self.end is not None else now


_clock: SimClock | None = None


def sim_now() -> datetime | None:
    """The simulated "now" of the simulation running in this process (None if none ran)."""
    return _clock.now() if _clock is not None else None


def current_clock() -> SimClock | None:
    return _clock


class _Feed:
    """The event stream with one event of look-ahead."""

    def __init__(self, events: Iterator[TimedEvent]) -> None:
        self._events = events
        self._next: TimedEvent | None = next(events, None)

    def take(self, until: datetime, limit: int, inclusive: bool) -> list[TimedEvent]:
        """Up to ``limit`` events dated before (or at, if ``inclusive``) ``until``."""
        out: list[TimedEvent] = []
        while self._next is not None and len(out) < limit:
            t = self._next.time
            if t > until or (t == until and not inclusive):
                break
            out.append(self._next)
            self._next = next(self._events, None)
        return out


async def _stopped_within(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep up to ``seconds``; True as soon as ``stop`` is set."""
    if stop.is_set():
        return True
    try:
        await asyncio.wait_for(stop.wait(), timeout=max(seconds, 0.0))
    except TimeoutError:
        return False
    return True


class _Poster:
    def __init__(
        self,
        client: httpx.AsyncClient,
        url: str,
        stats: SimStats,
        stop: asyncio.Event,
        retry_delay: float,
        max_retry_delay: float,
        on_progress: Callable[[SimStats], Any] | None,
    ) -> None:
        self.client = client
        self.url = url
        self.stats = stats
        self.stop = stop
        self.retry_delay = retry_delay
        self.max_retry_delay = max_retry_delay
        self.on_progress = on_progress

    async def post(self, batch: list[TimedEvent]) -> bool:
        """Deliver one batch; False if the run was stopped before it was delivered."""
        if not batch:
            return True
        events = [item.event for item in batch]
        delay = self.retry_delay
        while True:
            problem = await self._attempt(events)
            if problem is None:
                break
            if problem == "too_large":
                if len(batch) > 1:
                    half = len(batch) // 2
                    return await self.post(batch[:half]) and await self.post(batch[half:])
                self._count(1, 0, 1, "HTTP 413: one event is over the body limit")
                break
            self.stats.retries += 1
            log.warning(
                "simulator_post_retry",
                problem=problem,
                events=len(events),
                retry_in_s=round(delay, 3),
            )
            if await _stopped_within(self.stop, delay):
                self.stats.unsent += len(events)
                return False
            delay = min(delay * 2, self.max_retry_delay)
        self.stats.last_event_time = batch[-1].time
        if self.on_progress is not None:
            result = self.on_progress(self.stats)
            if inspect.isawaitable(result):
                await result
        return True

    async def _attempt(self, events: list[EventDict]) -> str | None:
        """Post once: None when ingest answered for every event, else why to retry."""
        try:
            response = await self.client.post(self.url, json={"events": events})
        except httpx.TransportError as exc:
            return f"{type(exc).__name__}: {exc}"
        status = response.status_code
        if status in RETRY_STATUSES:
            return f"HTTP {status}"
        if status == 413:
            return "too_large"
        if status == 401:
            raise SimulatorError(f"ingest refused the API key (HTTP 401): {response.text}")
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        accepted = int(body.get("accepted", len(events) if status < 300 else 0))
        rejected = int(body.get("rejected", len(events) - accepted))
        message = f"HTTP {status}: {rejected} of {len(events)} events rejected"
        if rejected:
            log.warning(
                "simulator_events_rejected",
                status=status,
                rejected=rejected,
                results=_rejections(body)[:5],
            )
        self._count(len(events), accepted, rejected, message)
        return None

    def _count(self, posted: int, accepted: int, rejected: int, message: str) -> None:
        self.stats.posted += posted
        self.stats.batches += 1
        self.stats.accepted += accepted
        self.stats.rejected += rejected
        if rejected and len(self.stats.errors) < 20:
            self.stats.errors.append(message)


@dataclass
class _ProgrammeFeed:
    client: httpx.AsyncClient
    feed: _Feed
    poster: _Poster

    async def post_until(self, now: datetime, batch_size: int) -> bool:
        while batch := self.feed.take(now, batch_size, inclusive=True):
            if not await self.poster.post(batch):
                return False
        return True


def _programme_poster(
    key: str | None,
    seed: int,
    start: date,
    end: date | None,
    url: str,
    transport: httpx.AsyncBaseTransport | None,
    timeout: float,
    stop: asyncio.Event,
    retry_delay: float,
    max_retry_delay: float,
) -> _ProgrammeFeed | None:
    if key is None:
        return None
    from services.ingest.sources.simulator.programme import programme_events

    client = httpx.AsyncClient(
        transport=transport, headers={"Authorization": f"Bearer {key}"}, timeout=timeout
    )
    stats = SimStats(seed=seed, start=_midnight(start))
    poster = _Poster(client, url, stats, stop, retry_delay, max_retry_delay, None)
    return _ProgrammeFeed(client, _Feed(programme_events(seed, start, end)), poster)


def _rejections(body: dict[str, Any]) -> list[dict[str, Any]]:
    results = body.get("results")
    if not isinstance(results, list):
        return []
    return [r for r in results if isinstance(r, dict) and r.get("status") == "rejected"]


def _midnight(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


_LONDON = ZoneInfo("Europe/London")


def _end_of_day(d: date) -> datetime:
    """The last second of an English calendar day, in UTC."""
    return datetime(d.year, d.month, d.day, 23, 59, 59, tzinfo=_LONDON).astimezone(UTC)


async def run_simulation(
    ingest_url: str,
    api_key: str,
    seed: int = 42,
    start: date = date(2026, 4, 1),
    speed: float = 86400.0 * 2,
    days: int | None = None,
    batch_size: int = 500,
    backfill_days: int = 0,
    stop_event: asyncio.Event | None = None,
    on_progress: Callable[[SimStats], Any] | None = None,
    *,
    config: SimConfig | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    tick: float = 0.25,
    retry_delay: float = 0.5,
    max_retry_delay: float = 10.0,
    timeout: float = 30.0,
    clock_key: str | None = "dev-clock-key",
    programme_key: str | None = None,
    nhs_key: str | None = None,
    placements_key: str | None = None,
    streams: Sequence[Stream] = (),
) -> SimStats:
    """Run the simulated county against ingest until ``days`` pass or ``stop_event`` is set.

    ``speed`` is simulated seconds per real second.  Events before ``start`` (the history
    of cases open at the start, and ``backfill_days`` of full history) are posted first, as
    fast as ingest takes them; then the clock starts and every ``tick`` real seconds the
    events it has reached are posted, at most ``batch_size`` a request.  ``on_progress``
    (sync or async) is called with the stats after each delivered batch.  ``transport``
    is for tests (``httpx.MockTransport``).

    At the end of each simulated day (23:59:59 London) the simulator also posts a
    ``clock.tick`` with ``clock_key`` (the clock source), after that day's events: the
    statutory clocks advance on these ticks.  ``clock_key=None`` posts no ticks.

    With ``programme_key`` (the ``pmo`` source), the programme office's events
    (``simulator/programme.py``) are posted too, as the clock reaches them.
    With ``nhs_key``, the simulated NHS community provider (``simulator/nhs.py``) posts
    its referrals and weekly capacity alongside, with that key.
    With ``placements_key`` (the placements source), the simulated placements
    (``placements.py``) are posted alongside, on the same clock.
    ``streams`` are further sources (Experts at Hand, outcomes ...), each posted with its
    own key on the same clock, after the case events that fell due.
    """
    global _clock
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    if days is not None and days < 0:
        raise ValueError("days must be >= 0")
    stop = stop_event if stop_event is not None else asyncio.Event()
    start_dt = _midnight(start)
    end = start + timedelta(days=days) if days is not None else None
    history_from = start - timedelta(days=max(backfill_days, 0))
    window = load_window()
    cfg = config or SimConfig()
    first_day = window.earliest + timedelta(days=cfg.lookback_days)
    if history_from < first_day:
        raise ValueError(
            f"the simulated history would start before the plausibility window "
            f"({window.earliest.isoformat()}): start on or after {first_day.isoformat()} "
            "(including --backfill-days)"
        )
    last_day = window.latest(datetime.now(UTC))
    if start >= last_day:
        raise ValueError(
            f"start {start.isoformat()} is after the plausibility window, which ends "
            f"{last_day.isoformat()}"
        )
    if end is None or end > last_day:
        end = last_day  # the clock stops where ingest would start rejecting events
    end_dt = _midnight(end)
    feed = _Feed(timed_events(seed, start, end, cfg, history_from=history_from))
    sources: list[tuple[str, _Feed]] = [(api_key, feed)]  # (source key, its events)
    for st in streams:  # Experts at Hand, outcomes ...
        sources.append((st.api_key, _Feed(st.events(seed, history_from, end))))
    if nhs_key:  # NHS community referrals and capacity
        from services.ingest.sources.simulator import nhs

        sources.append(
            (nhs_key, _Feed(nhs.timed_events(seed, start, end, history_from=history_from)))
        )
    if placements_key:  # placements and sufficiency
        from services.ingest.sources.simulator.placements import placement_events

        sources.append((placements_key, _Feed(placement_events(seed, start, end))))
    clock = SimClock(start_dt, speed, end=end_dt)
    _clock = clock
    stats = SimStats(seed=seed, start=start_dt)
    headers = {"Authorization": f"Bearer {api_key}"}
    url = ingest_url.rstrip("/") + "/v1/events"
    log.info(
        "simulator_start",
        seed=seed,
        start=start.isoformat(),
        speed=speed,
        days=days,
        backfill_days=backfill_days,
        until=end.isoformat(),
        url=url,
    )
    clients: list[httpx.AsyncClient] = []
    async with (
        httpx.AsyncClient(transport=transport, headers=headers, timeout=timeout) as client,
        httpx.AsyncClient(
            transport=transport,
            headers={"Authorization": f"Bearer {clock_key}"},
            timeout=timeout,
        ) as clock_client,
    ):
        poster = _Poster(client, url, stats, stop, retry_delay, max_retry_delay, on_progress)
        posters = [(poster, feed)]
        for key, extra_feed in sources[1:]:
            extra_client = httpx.AsyncClient(
                transport=transport, headers={"Authorization": f"Bearer {key}"}, timeout=timeout
            )
            clients.append(extra_client)
            extra_poster = _Poster(
                extra_client, url, stats, stop, retry_delay, max_retry_delay, on_progress
            )
            posters.append((extra_poster, extra_feed))
        ticker = _Poster(
            clock_client,
            url,
            SimStats(seed=seed, start=start_dt),
            stop,
            retry_delay,
            max_retry_delay,
            None,
        )
        next_tick_day = start
        # --- programme delivery: the PMO, workstream leads and QAG ---
        pmo = _programme_poster(
            programme_key,
            seed,
            start,
            end,
            url,
            transport,
            timeout,
            stop,
            retry_delay,
            max_retry_delay,
        )

        async def post_ticks(until: datetime) -> bool:
            nonlocal next_tick_day
            while clock_key is not None and _end_of_day(next_tick_day) <= until:
                day = next_tick_day
                tick = {
                    "id": f"sim-tick-{seed}-{day.isoformat()}",
                    "source": "clock",
                    "type": "clock.tick",
                    "subject": "clock:simulated",
                    "time": _end_of_day(day).isoformat(),
                    "data": {},
                }
                if not await ticker.post([TimedEvent(_end_of_day(day), tick)]):
                    return False
                stats.ticks += 1
                next_tick_day = day + timedelta(days=1)
            return True

        try:
            # History: everything dated before the start, at once.
            for source_poster, source_feed in posters:
                while not stop.is_set():
                    batch = source_feed.take(start_dt, batch_size, inclusive=False)
                    if not batch or not await source_poster.post(batch):
                        break
                    stats.backfilled += len(batch)
            clock.begin()
            # Live: post what the accelerated clock has reached.
            while not stop.is_set():
                now = clock.now()
                stats.sim_time = now
                delivered = True
                for source_poster, source_feed in posters:
                    while delivered and not stop.is_set():
                        batch = source_feed.take(now, batch_size, inclusive=True)
                        if not batch:
                            break
                        if not await source_poster.post(batch):
                            delivered = False
                if delivered and pmo is not None:
                    delivered = await pmo.post_until(now, batch_size)
                if not delivered or not await post_ticks(now):
                    break
                if end_dt is not None and now >= end_dt:
                    break
                await _stopped_within(stop, tick)
        finally:
            clock.freeze()
            stats.sim_time = clock.now()
            if pmo is not None:
                await pmo.client.aclose()
            for extra_client in clients:
                await extra_client.aclose()
    log.info(
        "simulator_stop",
        posted=stats.posted,
        accepted=stats.accepted,
        rejected=stats.rejected,
        unsent=stats.unsent,
        sim_time=stats.sim_time.isoformat(),
    )
    return stats
