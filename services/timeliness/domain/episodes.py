"""Episodes: a subject in a state more than once (a person's placements over time).

A clock policy with ``episodes: true`` gives one span per start fact instead of one
clock: it opens on the start fact's day and closes on the earliest of the next start
(the new episode replaces it) and the next end or stop fact (with ``ends_after_day``,
the day after that fact: an episode ending on a census day still counts on that day).
Each episode's attributes are the subject's, overlaid with its start fact's fields (so
the setting, funding and distance of *that* placement), as strings (``true``/``false``
for flags).  A fact that both ends and starts closes the open episode and opens the next.
The version in force on an episode's start day decides what starts and ends it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from contracts.events import Scalar
from services.timeliness.domain.clocks import Matcher, Version
from services.timeliness.domain.subjects import Fact, SubjectState


@dataclass(frozen=True)
class Episode:
    start: date
    close: date | None
    attrs: dict[str, str]


def as_attr(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _matching(s: SubjectState, matchers: Sequence[Matcher]) -> set[Fact]:
    out: set[Fact] = set()
    for m in matchers:
        out.update(m.facts(s))
    return out


def _version(versions: Sequence[Version], day: date) -> Version | None:
    for v in reversed(versions):
        if v.rule.effective_from <= day:
            return v
    return None


def episodes(versions: Sequence[Version], s: SubjectState) -> list[Episode]:
    """The subject's episodes under a policy, in start order."""
    starts: dict[Fact, Version] = {}
    for v in versions:
        for f in _matching(s, v.start):
            if _version(versions, f.day) is v:
                starts[f] = v
    if not starts:
        return []
    closers: dict[Fact, bool] = {}  # fact -> whether it is an end/stop (not only a start)
    for v in versions:
        for f in _matching(s, (*v.stop, *v.end)):
            closers[f] = True
    out: list[Episode] = []
    open_start: Fact | None = None
    for f in sorted(set(starts) | set(closers), key=lambda x: x.order):
        if open_start is not None:
            if f in closers:
                after = starts[open_start].rule.ends_after_day and f not in starts
                close = f.day + timedelta(days=1) if after else f.day
            else:
                close = f.day
            out.append(_episode(s, open_start, close))
            open_start = None
        if f in starts:
            open_start = f
    if open_start is not None:
        out.append(_episode(s, open_start, None))
    return out


def _episode(s: SubjectState, start: Fact, close: date | None) -> Episode:
    attrs = dict(s.attrs)
    attrs.update({k: as_attr(v) for k, v in start.fields.items() if v is not None})
    return Episode(start.day, close, attrs)
