"""Is a consumer making progress?  (Pure bookkeeping; ``/healthz`` reports it.)

A consumer is unhealthy when it has failed ``max_failures`` batches in a row (each
failed batch is rewound and redelivered), or when its group has lag but its committed
offsets have not moved for ``stall_s`` seconds (a batch that hangs, a consumer that left
its group).  The reasons are short machine-readable words, never exception text.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

FAILING = "consumer_failing"
STALLED = "consumer_stalled"


@dataclass
class ConsumerHealth:
    group: str
    stall_s: float = 120.0
    max_failures: int = 3
    clock: Callable[[], float] = time.monotonic
    failures: int = 0  # batches failed in a row
    last_error: str | None = None  # the exception class of the last failure
    lag: int = 0
    _committed: dict[Any, int] = field(default_factory=dict)
    _moved_at: float | None = None  # when the committed offsets last moved (or lag began)

    def batch_succeeded(self) -> None:
        self.failures = 0
        self.last_error = None

    def batch_failed(self, exc: BaseException) -> None:
        self.failures += 1
        self.last_error = type(exc).__name__

    def offsets_sampled(self, committed: Mapping[Any, int], lag: int) -> None:
        """From the lag monitor: the group's committed offsets and its total lag."""
        now = self.clock()
        if dict(committed) != self._committed or self._moved_at is None or self.lag == 0:
            self._moved_at = now
        self._committed = dict(committed)
        self.lag = lag

    def problem(self) -> str | None:
        if self.failures >= self.max_failures:
            return FAILING
        if (
            self.lag > 0
            and self._moved_at is not None
            and self.clock() - self._moved_at >= self.stall_s
        ):
            return STALLED
        return None
