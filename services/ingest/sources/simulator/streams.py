"""Further simulated sources beside the case events: each stream posts with its own
source's key.  ``domain_streams()`` lists the ones ``sendwatch simulate`` runs."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from services.ingest.sources.simulator.model import TimedEvent

# (seed, first day of history, end day exclusive) -> events in time order
StreamEvents = Callable[[int, date, date], Iterator[TimedEvent]]


@dataclass(frozen=True)
class Stream:
    name: str
    api_key: str
    events: StreamEvents


def at(day: date, hour: int, rng: random.Random) -> datetime:
    """A time on ``day`` in office hours (UTC), minutes drawn from ``rng``."""
    return datetime.combine(day, time(hour, rng.randrange(60)), tzinfo=UTC)


def days(first: date, end: date) -> Iterator[date]:
    d = first
    while d < end:
        yield d
        d += timedelta(days=1)


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth; fine for the small daily means used here)."""
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rng.gauss(mean, mean**0.5)))
    limit, k, p = pow(2.718281828459045, -mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def sorted_until(items: list[TimedEvent], end: date) -> Iterator[TimedEvent]:
    stop = datetime.combine(end, time(0), tzinfo=UTC)
    yield from sorted((i for i in items if i.time < stop), key=lambda i: (i.time, i.event["id"]))


def domain_streams() -> list[Stream]:
    from services.ingest.sources.simulator import eah, outcomes

    return [eah.STREAM, outcomes.STREAM]
