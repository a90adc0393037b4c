"""Where an acknowledged escalation goes when its measure keeps missing: the next level
with someone not yet told in this episode.  A level told together with the one before
it (``notify_with_previous``, e.g. ICB Place leadership beside the SRO under R5) has
already heard: moving to it would mail nobody, so the chain moves past it, to the body
the problem has not yet reached."""

from __future__ import annotations

from services.alerts.domain.model import Alert


def next_level(a: Alert, start: int) -> int:
    """The first level from ``start`` (1-based) with a recipient not yet sent an alert
    in this episode; the last level if every one has been told."""
    assert a.policy is not None
    levels = a.policy.levels
    told = {(s.channel, s.address) for s in a.notified if s.notice == "alert"}
    # the levels told together with the current one count as told (even while the
    # current level's notice is still being written)
    n = a.level + 1
    while a.level >= 1 and n <= len(levels) and levels[n - 1].notify_with_previous:
        told |= {(r.channel, r.address) for r in levels[n - 1].recipients}
        n += 1
    n = start
    while n < len(levels) and all((r.channel, r.address) in told for r in levels[n - 1].recipients):
        n += 1
    return min(n, len(levels))
