"""``cohort_share``: at a census date, the share (or count) of a population (subjects
with a running clock, e.g. an active EHC plan) that is in a cohort (another running
clock, e.g. an INMSS placement, and/or attribute values, e.g. ``setting_type``).

* ``population.also``: more clocks whose members are in the population (plans issued on
  case events, and plans recorded on placement events).
* ``identity``: the attribute naming whom a span is about (``person_id`` on a case);
  a span without it is about its subject.  Each identity is counted once, and the
  cohort's spans are matched to the population by it.
* With a numerator clock, ``where`` and ``above`` test the cohort span in force for
  that identity (the latest started: with episodes, the counted placement).
* ``percentiles_of``/``percentiles``: percentiles of a numeric attribute of the cohort
  spans in force (to 0.1), e.g. the median distance to the counted placement.

Vector: [population, in the cohort, then for each percentile its value x 10 (-1: none)].
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from contracts.kpi_dictionary import Cohort, CohortShare
from services.timeliness.domain.measures.base import (
    At,
    Context,
    Reading,
    Span,
    Vector,
    nearest_rank,
    percent,
    where_holds,
)


def identity_of(span: Span, attribute: str | None) -> str:
    if attribute is None:
        return span.subject
    return span.attrs.get(attribute) or span.subject


def in_force(spans: Iterable[Span], attribute: str | None) -> dict[str, Span]:
    """For each identity, the span in force that counts: the latest started (then the
    later episode)."""
    out: dict[str, Span] = {}
    for s in spans:
        if s.nullified:
            continue
        who = identity_of(s, attribute)
        best = out.get(who)
        if best is None or (s.start, s.seq, s.subject) > (best.start, best.seq, best.subject):
            out[who] = s
    return out


def members_once(
    at: At,
    clocks: Sequence[str],
    where: Mapping[str, str | list[str]],
    attribute: str | None,
) -> dict[str, Span]:
    """Each identity with a span of these clocks in force once, with the span whose
    attributes it is broken down by (the first clock's, then the earliest started)."""
    out: dict[str, Span] = {}
    for clock in clocks:
        for s in sorted(at.members(clock), key=lambda x: (x.start, x.subject, x.seq)):
            if s.nullified or not where_holds(where, s.attrs):
                continue
            out.setdefault(identity_of(s, attribute), s)
    return out


def population(k: CohortShare, at: At) -> dict[str, Span]:
    clocks = (k.population.clock, *k.population.also)
    return members_once(at, clocks, k.population.where, k.identity)


def number(attrs: Mapping[str, str], key: str) -> float | None:
    raw = attrs.get(key)
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        return None


def holds(c: Cohort, attrs: Mapping[str, str]) -> bool:
    if not where_holds(c.where, attrs):
        return False
    for key, limit in c.above.items():
        found = number(attrs, key)
        if found is None or found <= limit:
            return False
    return True


def census(kpi: str, k: CohortShare, at: At, ctx: Context) -> dict[str, Vector]:
    cohort: dict[str, Span] | None = None
    if k.numerator.clock is not None:
        cohort = in_force(at.members(k.numerator.clock), k.identity)
    counts: dict[str, list[int]] = {"all": [0, 0]}  # "all" is always counted
    values: dict[str, list[int]] = {"all": []}
    for who, s in population(k, at).items():
        if cohort is None:
            attrs: Mapping[str, str] | None = s.attrs
        else:
            found = cohort.get(who)
            attrs = found.attrs if found is not None else None
        hit = attrs is not None and holds(k.numerator, attrs)
        measured = number(attrs, k.percentiles_of) if attrs and k.percentiles_of else None
        for b in ctx.breakdowns(kpi, s.attrs):
            cell = counts.setdefault(b, [0, 0])
            cell[0] += 1
            cell[1] += int(hit)
            if measured is not None:
                values.setdefault(b, []).append(round(measured * 10))
    out: dict[str, Vector] = {}
    for b, cell in counts.items():
        found_values = sorted(values.get(b, []))
        ranks = [nearest_rank(found_values, p) if found_values else -1 for p in k.percentiles]
        out[b] = [*cell, *ranks]
    return out


def value(k: CohortShare, v: Vector) -> Reading:
    extra: dict[str, float | int | str | bool | None] = {}
    for p, raw in zip(k.percentiles, v[2:], strict=False):
        extra[f"p{p}_{k.percentiles_of}"] = raw / 10 if raw >= 0 else None
    if k.value == "count":
        return Reading(float(v[1]), v[1], v[0], extra)
    return Reading(percent(v[1], v[0]), v[1], v[0], extra)
