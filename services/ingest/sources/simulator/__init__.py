"""The simulated county: a deterministic, seeded stream of EHC case events.

``model`` is the pure generator (:func:`generate_cases`, :class:`SimConfig`); ``runner``
posts it to ingest on an accelerated clock (:func:`run_simulation`, :func:`sim_now`).
The runner is imported lazily so that using the model needs no HTTP client.
"""

from __future__ import annotations

from typing import Any

from services.ingest.sources.simulator.model import (
    STATUTORY_DAYS,
    EventDict,
    SimConfig,
    TimedEvent,
    generate_cases,
    timed_events,
    timely_share,
)

__all__ = [
    "STATUTORY_DAYS",
    "EventDict",
    "SimClock",
    "SimConfig",
    "SimStats",
    "TimedEvent",
    "generate_cases",
    "run_simulation",
    "sim_now",
    "timed_events",
    "timely_share",
]

_RUNNER_NAMES = frozenset({"SimClock", "SimStats", "run_simulation", "sim_now"})


def __getattr__(name: str) -> Any:
    if name in _RUNNER_NAMES:
        from services.ingest.sources.simulator import runner

        return getattr(runner, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
