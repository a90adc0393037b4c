"""What every measure kind shares: cells, readings, the context the engine gives a kind,
and the census helpers.

A **cell** is (kpi, cycle label, breakdown); its **vector** is a list of integers whose
layout belongs to the KPI's kind.  A flow kind maps one subject state to the vectors it
adds to cells (summed over subjects; kept exact by adding new minus old when a subject
changes).  A census kind maps the spans in force at a census date to cells.  ``value``
turns a vector into the published reading.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol, TypeVar

from contracts.kpi_dictionary import KpiDictionary
from services.timeliness.domain.clocks import Clock, Matcher, paused_days
from services.timeliness.domain.subjects import Fact, SubjectState

Key = tuple[str, str, str]  # (kpi, cycle label, breakdown)
# What a flow contribution is dated by, before it is spread over cycles and breakdowns:
# (kpi, a day or a cycle label, the subject's values of the KPI's breakdown attributes).
Base = tuple[str, "date | str", tuple[str | None, ...]]
Vector = list[int]
K = TypeVar("K")
Extra = dict[str, float | int | str | bool | None]


@dataclass(frozen=True)
class Reading:
    value: float | None
    numerator: int | None = None
    denominator: int | None = None
    extra: Extra = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Span:
    """A subject's time in a state, for census measures: a clock from its start to its
    stop or end (``close``), or a capacity figure in force from one report to the next."""

    key: str  # the clock policy, or "capacity:<kpi>"
    subject: str
    seq: int
    start: date
    close: date | None
    nullified: bool = False
    pauses: tuple[tuple[date, date | None], ...] = ()
    value: int | None = None
    excluded: frozenset[str] = frozenset()  # KPIs whose exclude_if holds for the subject
    attrs: Mapping[str, str] = field(default_factory=dict)

    def member(self, day: date, current: bool) -> bool:
        """In force at the end of ``day``; for the current position, by what is known
        (started and not closed)."""
        if current:
            return self.close is None
        return self.start <= day and (self.close is None or self.close > day)

    def wait(self, day: date) -> int:
        """Days waited by the end of ``day``, less paused days (a clock that starts
        after ``day``, known ahead of the clock, has waited 0 days)."""
        waited = (day - self.start).days - (paused_days(self.pauses, day) if self.pauses else 0)
        return max(0, waited)

    def at(self, day: date, current: bool) -> tuple[object, ...] | None:
        """Everything a census at ``day`` reads of this span (None: not counted)."""
        if not self.member(day, current):
            return None
        return (self.wait(day), self.nullified, self.excluded, dict(self.attrs), self.value)


@dataclass(frozen=True)
class At:
    """A census: its day, whether it is the current position, and the spans to count."""

    day: date
    current: bool
    spans: Mapping[str, Iterable[Span]]

    def members(self, key: str) -> list[Span]:
        """The spans of ``key`` in force at the census."""
        return [s for s in self.spans.get(key, ()) if s.member(self.day, self.current)]


class Context(Protocol):
    """What the engine gives a measure kind."""

    dictionary: KpiDictionary

    def clock(self, s: SubjectState, policy: str) -> Clock: ...

    def may_stop(self, s: SubjectState, policy: str) -> bool:
        """Whether the subject has a fact of a type that could stop the clock."""
        ...

    def matchers(self, kpi: str, what: str) -> tuple[Matcher, ...]: ...

    def at(self, kpi: str, when: date | str, s: SubjectState) -> Base:
        """A contribution dated by a day (every cycle containing it) or a cycle label."""
        ...

    def breakdowns(self, kpi: str, attrs: Mapping[str, str]) -> list[str]: ...


def add(acc: dict[K, Vector], key: K, vec: Sequence[int]) -> None:
    cur = acc.get(key)
    if cur is None:
        acc[key] = list(vec)
    else:
        for i, x in enumerate(vec):
            cur[i] += x


def percent(num: int, den: int) -> float | None:
    return round(100.0 * num / den, 1) if den else None


def matched(s: SubjectState, matchers: Sequence[Matcher]) -> list[Fact]:
    """Facts matching any of ``matchers``, each once, in order."""
    out: list[Fact] = []
    seen: set[int] = set()
    for m in matchers:
        for f in m.facts(s):
            if id(f) not in seen:
                seen.add(id(f))
                out.append(f)
    return sorted(out, key=lambda f: f.order)


def where_holds(where: Mapping[str, str | list[str]], attrs: Mapping[str, str]) -> bool:
    for key, want in where.items():
        allowed = want if isinstance(want, list) else [want]
        if attrs.get(key) not in allowed:
            return False
    return True


def nearest_rank(sorted_values: Sequence[int], p: int) -> int:
    """The p-th percentile by the nearest-rank method (values ascending, non-empty)."""
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def by_breakdown(ctx: Context, kpi: str, spans: Iterable[Span]) -> dict[str, list[Span]]:
    out: dict[str, list[Span]] = {}
    for span in spans:
        for b in ctx.breakdowns(kpi, span.attrs):
            out.setdefault(b, []).append(span)
    return out
