"""The service's "now" in event time.

"Now" is the latest event time seen: a snapshot's watermark (its latest clock tick), else
its ``as_of``, and the time of each milestone alert.  It never goes back.  Snapshots
arriving together after an outage are therefore judged against the latest of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from contracts.snapshots import KpiSnapshot
from contracts.timeline import MilestoneAlert


@dataclass(frozen=True)
class Clock:
    now: datetime | None = None
    snapshots: int = 0  # applied so far
    milestones: int = 0
    last_sequence: int = -1  # the latest timeliness snapshot applied

    def after(
        self, snapshots: Iterable[KpiSnapshot], milestones: Iterable[MilestoneAlert]
    ) -> Clock:
        """The clock after applying these snapshots and milestone alerts."""
        snaps, ms = list(snapshots), list(milestones)
        times = [s.data.watermark or s.data.as_of for s in snaps] + [m.time for m in ms]
        return replace(
            self,
            now=latest(self.now, times),
            snapshots=self.snapshots + len(snaps),
            milestones=self.milestones + len(ms),
            last_sequence=max([self.last_sequence, *(s.data.sequence for s in snaps)]),
        )


def latest(now: datetime | None, times: Iterable[datetime | None]) -> datetime | None:
    """The latest of ``now`` and ``times`` (ignoring unknown times)."""
    for t in times:
        if t is not None and (now is None or t > now):
            now = t
    return now
