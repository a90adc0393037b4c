"""Clocks in event time: a policy (``contracts/clocks.yaml``) evaluated on a subject's
facts (the alerts a clock owes are in ``milestones.py``).

``evaluate`` is pure: started, stopped (a completion when on or after the start), ended
without a completion, paused days, nullified (out of the measure).  Time advances by
clock ticks, so a slip is noticed even when no further event arrives; each (subject,
milestone, kind) alert fires once (the subject remembers what it raised), so a replay
raises exactly the same alerts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from contracts.clock_rules import ClockRules, Match, PolicyVersion
from services.timeliness.domain.subjects import Fact, SubjectState


@dataclass(frozen=True)
class Matcher:
    """A compiled :class:`Match`."""

    type: str
    where: tuple[tuple[str, frozenset[object]], ...]
    first_types: tuple[str, ...] | None
    tie: tuple[str, ...] = ()  # the fields tested: on one day the smallest value is first

    @classmethod
    def of(cls, m: Match) -> Matcher:
        where = tuple(
            (k, frozenset(v if isinstance(v, list) else [v])) for k, v in sorted(m.where.items())
        )
        return cls(m.type, where, m.first_types, tuple(k for k, _ in where))

    def holds(self, s: SubjectState, f: Fact) -> bool:
        return all(s.value(f, k) in allowed for k, allowed in self.where)

    def facts(self, s: SubjectState) -> list[Fact]:
        """The subject's facts this matches, in order."""
        if self.first_types is None:
            found = s.of_type(self.type)
            return [f for f in found if self.holds(s, f)] if self.where else found
        first = first_fact(s, self.first_types, self.tie)
        if first is None or first.type != self.type or not self.holds(s, first):
            return []
        return [first]

    def first_day(self, s: SubjectState) -> date | None:
        if self.first_types is None:  # facts are in day order: the first match is earliest
            for f in s.of_type(self.type):
                if not self.where or self.holds(s, f):
                    return f.day
            return None
        found = self.facts(s)
        return found[0].day if found else None


def first_fact(s: SubjectState, types: Sequence[str], tie: Sequence[str]) -> Fact | None:
    """The first fact of these types: the earliest day, then the smallest values of the
    ``tie`` fields (as SEN2: on one day the smaller code wins)."""
    best: tuple[date, tuple[str, ...]] | None = None
    out: Fact | None = None
    for t in types:
        for f in s.of_type(t):
            rank = (f.day, tuple(str(s.value(f, k)) for k in tie))
            if best is None or rank < best:
                best, out = rank, f
    return out


_INTERNED: dict[tuple[Matcher, ...], tuple[Matcher, ...]] = {}


def compile_matches(matches: Iterable[Match]) -> tuple[Matcher, ...]:
    """Compiled matchers; equal lists give the same object, so what a subject's clocks
    share (e.g. "the assessment concluded") is worked out once per subject."""
    compiled = tuple(Matcher.of(m) for m in matches)
    interned = _INTERNED.setdefault(compiled, compiled)
    _TYPES.setdefault(id(interned), frozenset(m.type for m in interned))
    return interned


# The event types each interned matcher list reads (interned lists live as long as the
# process, so their ids are stable keys).
_TYPES: dict[int, frozenset[str]] = {}


def earliest(s: SubjectState, matchers: Sequence[Matcher]) -> date | None:
    key = id(matchers)  # interned: one object per distinct list
    if key in s.memo:
        found: date | None = s.memo[key]
        return found
    wanted = _TYPES.get(key)
    if wanted is None:
        wanted = frozenset(m.type for m in matchers)
    if s.types.keys().isdisjoint(wanted):
        s.memo[key] = None
        return None
    best: date | None = None
    for m in matchers:
        d = m.first_day(s)
        if d is not None and (best is None or d < best):
            best = d
    s.memo[key] = best
    return best


def any_match(s: SubjectState, matchers: Sequence[Matcher]) -> bool:
    return earliest(s, matchers) is not None


@dataclass(frozen=True)
class Version:
    """A compiled policy version."""

    rule: PolicyVersion
    start: tuple[Matcher, ...]
    stop: tuple[Matcher, ...]
    end: tuple[Matcher, ...]
    pause: tuple[Matcher, ...]
    resume: tuple[Matcher, ...]
    nullify: tuple[Matcher, ...]
    requires: tuple[Matcher, ...]
    no_alerts_if: tuple[Matcher, ...]
    exception_if: tuple[Matcher, ...]
    # what is worked out once per version (e.g. its milestones), by whoever needs it
    memo: dict[str, Any] = field(
        default_factory=dict, compare=False, hash=False, repr=False, kw_only=True
    )

    @classmethod
    def of(cls, v: PolicyVersion) -> Version:
        return cls(
            v,
            *(
                compile_matches(getattr(v, name))
                for name in (
                    "start",
                    "stop",
                    "end",
                    "pause",
                    "resume",
                    "nullify",
                    "requires",
                    "no_alerts_if",
                    "exception_if",
                )
            ),
        )


class _lazy:
    """Like ``functools.cached_property`` without its lock (Python 3.11 takes one on
    every first read, which is most of the cost here)."""

    def __init__(self, fn: Any) -> None:
        self.fn = fn
        self.name = fn.__name__

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return self
        value = self.fn(obj)
        obj.__dict__[self.name] = value
        return value


class Clock:
    """A subject's clock under one policy version; what it reads is worked out on first
    use (most measures ask only for a few of these)."""

    def __init__(
        self,
        policy: str,
        start: date | None,
        version: Version | None = None,
        subject: SubjectState | None = None,
    ) -> None:
        self.policy = policy
        self.start = start
        self.version = version
        self._s = subject

    def _days(self, name: str) -> date | None:
        if self.version is None or self._s is None:
            return None
        return earliest(self._s, getattr(self.version, name))

    def _any(self, name: str) -> bool:
        if self.version is None or self._s is None:
            return False
        return any_match(self._s, getattr(self.version, name))

    @_lazy
    def stop(self) -> date | None:
        return self._days("stop")

    @_lazy
    def end(self) -> date | None:
        return self._days("end")

    @_lazy
    def nullified(self) -> bool:
        return self._any("nullify")

    @_lazy
    def applies(self) -> bool:
        """`requires` holds (or there is none)."""
        return self.version is not None and (not self.version.requires or self._any("requires"))

    @_lazy
    def no_alerts(self) -> bool:
        return self._any("no_alerts_if")

    @_lazy
    def has_exception(self) -> bool:
        return self._any("exception_if")

    @_lazy
    def pauses(self) -> tuple[tuple[date, date | None], ...]:
        if self.version is None or self._s is None or self.start is None:
            return ()
        return _pauses(self._s, self.version, self.start) if self.version.pause else ()

    @property
    def started(self) -> bool:
        return self.start is not None and self.applies

    def __repr__(self) -> str:
        return f"Clock({self.policy!r}, start={self.start}, stop={self.stop}, end={self.end})"

    @property
    def measured(self) -> bool:
        """Started, applicable and not nullified."""
        return self.started and not self.nullified

    @property
    def closed_on(self) -> date | None:
        """The day the clock stopped or ended, if it has."""
        days = [d for d in (self.stop, self.end) if d is not None]
        return min(days) if days else None

    @property
    def completed(self) -> bool:
        """A completion: stopped on or after its start (a stop before the start is a
        data-quality problem, never a completion)."""
        return (
            self.measured
            and self.stop is not None
            and self.start is not None
            and self.stop >= self.start
        )

    def paused_days(self, until: date) -> int:
        return paused_days(self.pauses, until)

    def elapsed(self, on: date) -> int:
        """Days since the start (the start day is day 0), less paused days."""
        assert self.start is not None
        return (on - self.start).days - (self.paused_days(on) if self.pauses else 0)

    def open_on(self, day: date) -> bool:
        """Running at the end of ``day``."""
        if not self.started or self.start is None or self.start > day:
            return False
        closed = self.closed_on
        return closed is None or closed > day


def paused_days(pauses: Iterable[tuple[date, date | None]], until: date) -> int:
    """Days paused up to ``until`` (a pause still open counts up to ``until``)."""
    total = 0
    for first, last in pauses:
        upto = until if last is None or last > until else last
        if upto > first:
            total += (upto - first).days
    return total


def _pauses(s: SubjectState, v: Version, start: date) -> tuple[tuple[date, date | None], ...]:
    marks = sorted(
        [(f.day, 0) for m in v.pause for f in m.facts(s) if f.day >= start]
        + [(f.day, 1) for m in v.resume for f in m.facts(s) if f.day >= start]
    )
    out: list[tuple[date, date | None]] = []
    paused_from: date | None = None
    for day, what in marks:
        if what == 0 and paused_from is None:
            paused_from = day
        elif what == 1 and paused_from is not None:
            out.append((paused_from, day))
            paused_from = None
    if paused_from is not None:
        out.append((paused_from, None))
    return tuple(out)


def evaluate(policy: str, versions: Sequence[Version], s: SubjectState) -> Clock:
    """The subject's clock under a policy: the version in force on its start day."""
    for v in reversed(versions):
        start = earliest(s, v.start)
        if start is None or start < v.rule.effective_from:
            continue
        return Clock(policy, start, v, s)
    return Clock(policy, None)


def compile_rules(rules: ClockRules) -> dict[str, tuple[Version, ...]]:
    return {name: tuple(Version.of(v) for v in vs) for name, vs in rules.policies.items()}
