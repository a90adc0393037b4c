"""Statistical disclosure control (small-number suppression) for published outputs.

The policy lives in ``contracts/suppression.yaml`` (or ``SENDWATCH_SUPPRESSION_FILE``).

* **Primary**: a count of 1 to ``min_count - 1`` is shown as ``"<5"``; a percentage or
  average whose denominator is under ``min_denominator`` is suppressed (``"c"``).
* **Percentages follow their counts**: a percentage is shown only when its numerator and
  denominator are shown, since percentage x denominator gives the numerator back.
* **Secondary**: counts are cells of additive tables (:class:`Constraint`: total = sum of
  parts).  A table may not have exactly one suppressed cell (it could be recovered by
  subtraction); when its total is shown, its suppressed cells may not add up to zero
  (each would be zero) or to a small number.  The cheapest other cells are suppressed
  until every table is safe; this repeats across tables, because a cell belongs to
  several (its breakdown, its month's quarter, its 20-week bands).
* **Exact audit and repair**: tables combine, so afterwards the linear system of all
  tables is solved over the hidden cells (:func:`determined`); while any hidden small
  count is fixed by it, a partner is hidden and the tables are settled again.

For a KPI (:func:`protect_kpi`) the tables are: each breakdown dimension adds up to
``all`` (the rest is an explicit ``<dimension>=not recorded`` value); months add up to
quarters and quarters to plan years; the 20-week bands add up to the plans issued.
Rolling 12-month and calendar-year values are not published to suppressed audiences
(:func:`publishable`).  Every output (pages, API, exports, insight) uses the same
result, so a cell hidden in one is hidden in all.

Not protected (documented limits): differences between revisions of one value, and
differences between two KPIs (e.g. ``ehcp_20wk`` minus ``ehcp_20wk_ex`` = plans with an
exception).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any, Generic, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field

from contracts.snapshots import KpiValue
from services.reporting.domain import periods

_DEFAULT = Path(__file__).resolve().parents[3] / "contracts" / "suppression.yaml"

NOT_RECORDED = "not recorded"
BAND_FIELDS = ("within_20_weeks", "weeks_20_to_52", "over_52_weeks")
AVERAGE_FIELDS = ("average_days", "average_weeks")


class RoundingProfile(BaseModel):
    """A rounding rule for a table instead of suppression, e.g. NHS England's for health
    data: counts from 1 to ``hide_below - 1`` shown as ``symbol``, every other count
    rounded to the nearest ``round_to`` (services/reporting/domain/rounding.py)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hide_below: int = Field(default=8, ge=1)
    symbol: str = "*"
    round_to: int = Field(default=5, ge=1)


class SuppressionPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = 1
    min_count: int = Field(default=5, ge=1)
    suppress_zero: bool = False
    min_denominator: int = Field(default=5, ge=1)
    protect_pooled_totals: bool = True
    temporal_totals: bool = True
    confidential_symbol: str = "c"
    unsuppressed_roles: list[str] = Field(default_factory=lambda: ["operational", "admin"])
    rounding_profiles: dict[str, RoundingProfile] = Field(default_factory=dict)
    profile_by_kpi: dict[str, str] = Field(default_factory=dict)  # kpi -> rounding profile

    def rounding_for(self, kpi: str) -> RoundingProfile | None:
        """The rounding profile a KPI's tables use instead of suppression, if any."""
        name = self.profile_by_kpi.get(kpi)
        return self.rounding_profiles[name] if name is not None else None

    @property
    def small_symbol(self) -> str:
        return f"<{self.min_count}"

    def is_small(self, count: int) -> bool:
        return 0 < count < self.min_count or (count == 0 and self.suppress_zero)

    def describe(self) -> str:
        return (
            f"Counts from 1 to {self.min_count - 1} are shown as {self.small_symbol}. "
            f"Percentages and averages based on fewer than {self.min_denominator} are "
            f"not shown. Other figures that would let a hidden number be worked out from "
            f"totals are also hidden and shown as {self.confidential_symbol}."
        )


@lru_cache(maxsize=4)
def load_policy(path: str | Path | None = None) -> SuppressionPolicy:
    file = Path(path or _DEFAULT)
    return SuppressionPolicy.model_validate(yaml.safe_load(file.read_text()))


# --- the generic engine ----------------------------------------------------------------

CellKey = TypeVar("CellKey", bound=Hashable)


@dataclass(frozen=True)
class Constraint(Generic[CellKey]):
    """``total`` = sum of ``parts`` (every cell of the table, including any remainder)."""

    total: CellKey
    parts: tuple[CellKey, ...]


@dataclass(frozen=True)
class Protection(Generic[CellKey]):
    primary: frozenset[CellKey]
    secondary: frozenset[CellKey]

    def hidden(self, key: CellKey) -> bool:
        return key in self.primary or key in self.secondary

    def symbol(self, key: CellKey, policy: SuppressionPolicy) -> str | None:
        if key in self.primary:
            return policy.small_symbol
        if key in self.secondary:
            return policy.confidential_symbol
        return None


def protect(
    cells: Mapping[CellKey, int],
    constraints: Sequence[Constraint[CellKey]],
    policy: SuppressionPolicy,
    *,
    hidden: Iterable[CellKey] = (),
    cost: Callable[[CellKey], int] = lambda _key: 0,
) -> Protection[CellKey]:
    """Primary and secondary suppression of ``cells`` under ``constraints``.

    Cells a constraint names but ``cells`` lacks are known zeros.  ``hidden`` are cells
    that must be treated as suppressed from the start (e.g. hidden elsewhere).  Secondary
    cells are chosen by lowest ``cost`` (how much hiding the cell costs the reader), then
    smallest value.

    A table whose total has a single non-zero part makes that part and the total the same
    number in public; such cells are merged first and hidden together (their cost is the
    highest of theirs), so hiding one never needlessly forces out the other later.
    """
    parent: dict[CellKey, CellKey] = {k: k for k in cells}

    def find(k: CellKey) -> CellKey:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    tables: list[tuple[CellKey, tuple[CellKey, ...]]] = []
    for c in constraints:
        parts = tuple(p for p in dict.fromkeys(c.parts) if p in cells and p != c.total)
        if c.total not in cells or not parts:
            continue
        tables.append((c.total, parts))
        nonzero = [p for p in parts if cells[p] > 0]
        if len(nonzero) == 1 and cells[nonzero[0]] == cells[c.total]:
            a, b = find(c.total), find(nonzero[0])
            if a != b:
                parent[b] = a
    groups: dict[CellKey, list[CellKey]] = defaultdict(list)
    for k in cells:
        groups[find(k)].append(k)
    merged = {rep: cells[rep] for rep in groups}
    merged_cost = {rep: max(cost(m) for m in members) for rep, members in groups.items()}
    merged_tables: list[tuple[CellKey, ...]] = []
    seen: set[tuple[CellKey, ...]] = set()
    for total, parts in tables:
        t = find(total)
        ps = tuple(sorted({find(p) for p in parts} - {t}, key=repr))
        if ps and (t, *ps) not in seen:
            seen.add((t, *ps))
            merged_tables.append((t, *ps))

    small = {k for k, v in cells.items() if policy.is_small(v)}
    suppressed = {find(k) for k in small} | {find(k) for k in hidden if k in cells}
    by_cell: dict[CellKey, list[int]] = defaultdict(list)
    for i, members in enumerate(merged_tables):
        for key in members:
            by_cell[key].append(i)

    def settle(new: Iterable[CellKey]) -> None:
        queue = sorted({i for key in new for i in by_cell.get(key, ())})
        queued = set(queue)
        while queue:
            i = queue.pop()
            queued.discard(i)
            total, *parts = merged_tables[i]
            while True:
                add = _needs_more(total, parts, merged, suppressed, policy, merged_cost.__getitem__)
                if add is None:
                    break
                suppressed.add(add)
                for j in by_cell[add]:
                    if j not in queued and j != i:
                        queue.append(j)
                        queued.add(j)

    settle(suppressed)
    # Audit and repair: tables combine (consecutive rolling years differ by two months;
    # a calendar year is also a sum of quarters), so check exactly which small counts
    # the equations fix, and hide a partner for each until none is fixed.
    containing: dict[CellKey, list[tuple[CellKey, ...]]] = defaultdict(list)
    for total, parts in tables:
        for key in (total, *parts):
            containing[key].append((total, *parts))
    for _round in range(500):
        out = {m for rep in suppressed for m in groups[rep]}
        leaks = sorted(determined(tables, out) & small, key=repr)
        if not leaks:
            break
        added = []
        for leak in leaks:
            options = [m for members in containing[leak] for m in members if m not in out]
            if not options:
                continue
            positive = [m for m in options if cells[m] > 0] or options
            pick = find(min(positive, key=lambda m: (merged_cost[find(m)], cells[m], repr(m))))
            if pick not in suppressed:
                suppressed.add(pick)
                added.append(pick)
                out.update(groups[pick])
        if not added:
            break
        settle(added)
    out = {m for rep in suppressed for m in groups[rep]}
    return Protection(frozenset(small & out), frozenset(out - small))


def determined(
    tables: Sequence[tuple[CellKey, tuple[CellKey, ...]]], hidden: set[CellKey]
) -> set[CellKey]:
    """The hidden cells whose values the tables' equations fix exactly, whatever the
    shown values: cell x is fixed when the unit vector of x lies in the row space of the
    equations restricted to the hidden cells.  Exact rank arithmetic modulo a large
    prime (the coefficients are small integers, so it agrees with the rational rank)."""
    prime = (1 << 61) - 1
    unknown = sorted(hidden, key=repr)
    index = {k: i for i, k in enumerate(unknown)}
    basis: dict[int, dict[int, int]] = {}  # pivot column -> reduced row (1 at pivot)
    for total, parts in tables:
        row: dict[int, int] = {}
        for sign, key in [(1, total), *((-1, p) for p in parts)]:
            i = index.get(key)
            if i is not None:
                row[i] = (row.get(i, 0) + sign) % prime
        row = {k: v for k, v in row.items() if v}
        for col in sorted(set(row) & set(basis)):
            if col in row:
                f = row[col]
                for k, v in basis[col].items():
                    row[k] = (row.get(k, 0) - f * v) % prime
                row = {k: v for k, v in row.items() if v}
        if not row:
            continue
        col = min(row)
        inv = pow(row[col], prime - 2, prime)
        row = {k: v * inv % prime for k, v in row.items()}
        for other in basis.values():
            if col in other:
                f = other[col]
                for k, v in row.items():
                    other[k] = (other.get(k, 0) - f * v) % prime
                for k in [k for k, v in other.items() if not v]:
                    del other[k]
        basis[col] = row
    return {unknown[col] for col, row in basis.items() if len(row) == 1}


def _needs_more(
    total: CellKey,
    parts: list[CellKey],
    cells: Mapping[CellKey, int],
    suppressed: set[CellKey],
    policy: SuppressionPolicy,
    cost: Callable[[CellKey], int],
) -> CellKey | None:
    """The next cell to suppress so this table is safe, or None when it is."""
    hidden_parts = [p for p in parts if p in suppressed]
    total_hidden = total in suppressed
    n_hidden = len(hidden_parts) + (1 if total_hidden else 0)
    if n_hidden == 0:
        return None
    unsafe = n_hidden == 1
    if not unsafe and not total_hidden:
        # the hidden parts add up to a known number: zero gives every one of them away
        # (counts are never negative), a small number discloses a small count
        pooled = sum(cells[p] for p in hidden_parts)
        unsafe = pooled == 0 or (policy.protect_pooled_totals and pooled < policy.min_count)
    if not unsafe:
        return None
    visible = [p for p in parts if p not in suppressed]
    if not total_hidden:
        visible.append(total)  # hiding the total protects the hidden parts too
    positive = [p for p in visible if cells[p] > 0]
    pool = positive or visible
    if pool:
        return min(pool, key=lambda p: (cost(p), cells[p], repr(p)))
    if not total_hidden:
        return total
    return None


# --- KPI values --------------------------------------------------------------------------

Key = tuple[str, str, str]  # (cycle, breakdown, measure)


def _dimension(breakdown: str) -> str | None:
    if "=" not in breakdown:
        return None
    return breakdown.split("=", 1)[0]


def _dimensions_by_kind(keys: Iterable[tuple[str, str]]) -> dict[str, set[str]]:
    """The breakdown dimensions published for each kind of cycle."""
    out: dict[str, set[str]] = defaultdict(set)
    for cycle, breakdown in keys:
        dim = _dimension(breakdown)
        if dim is not None:
            out[periods.kind_of(cycle)].add(dim)
    return out


def _measures(v: KpiValue) -> dict[str, int]:
    """The counts a value publishes."""
    if v.breakdown == "outlook":
        return {}
    if v.denominator is None and v.numerator is None:  # a reported figure: no counts
        return {}
    if v.denominator is None:  # a count KPI: open caseload, backlog
        count = v.numerator if v.numerator is not None else int(v.value or 0)
        return {"count": int(count)}
    out = {"num": int(v.numerator or 0), "den": int(v.denominator)}
    bands = [v.extra.get(f) for f in BAND_FIELDS]
    if all(isinstance(b, int) and not isinstance(b, bool) for b in bands):
        out["b2052"] = int(bands[1])  # type: ignore[arg-type]
        out["b52"] = int(bands[2])  # type: ignore[arg-type]
    return out


CENSUS_KINDS = frozenset({"waiting_list", "cohort_share", "occupancy"})


def kpi_grid(
    values: Sequence[KpiValue], *, temporal: bool = True
) -> tuple[dict[Key, int], list[Constraint[Key]]]:
    """The cells and additive tables of one KPI's published values.  Months add up to
    quarters only for counts of events in the period: a census (a waiting list, a cohort
    share, an occupancy) at a quarter's end is the last month's census, not the sum, so
    its cells of one census day are tied together as equal instead."""
    cells: dict[Key, int] = {}
    census = any(v.kind in CENSUS_KINDS for v in values)
    if census:
        temporal = False
    for v in values:
        for measure, count in _measures(v).items():
            cells[(v.cycle, v.breakdown, measure)] = count
    constraints: list[Constraint[Key]] = []
    # 20-week bands add up to the plans issued.
    for cycle, breakdown, measure in list(cells):
        if measure == "b2052":
            constraints.append(
                Constraint(
                    (cycle, breakdown, "den"),
                    (
                        (cycle, breakdown, "num"),
                        (cycle, breakdown, "b2052"),
                        (cycle, breakdown, "b52"),
                    ),
                )
            )
    # Each dimension adds up to "all"; what it does not cover is "not recorded".
    groups: dict[tuple[str, str, str], list[Key]] = defaultdict(list)
    dims = _dimensions_by_kind((c, b) for c, b, _m in cells)
    for cycle, breakdown, measure in list(cells):
        if breakdown == "all":
            for dim in dims.get(periods.kind_of(cycle), ()):
                groups[(cycle, dim, measure)]
    for key in list(cells):
        of = _dimension(key[1])
        if of is not None:
            groups[(key[0], of, key[2])].append(key)
    for (cycle, dim, measure), members in sorted(groups.items()):
        total = (cycle, "all", measure)
        if total not in cells:
            continue
        rest = cells[total] - sum(cells[p] for p in members)
        remainder = (cycle, f"{dim}={NOT_RECORDED}", measure)
        if rest > 0:
            cells[remainder] = rest
        if members or rest > 0:
            constraints.append(Constraint(total, (*sorted(members), remainder)))
    # A census is the same count whatever cycle it closes: a quarter's census is its last
    # month's (and a week's ending the same day), so cells with one census day are one
    # number in public and are protected together.
    if census:
        by_day: dict[tuple[date, str, str], list[Key]] = defaultdict(list)
        for cycle, breakdown, measure in cells:
            if cycle != "current" and periods.kind_of(cycle) not in UNPUBLISHED_KINDS:
                day = periods.bounds(cycle)[1]
                by_day[(day, breakdown, measure)].append((cycle, breakdown, measure))
        for same in by_day.values():
            ordered = sorted(same, key=lambda k: (periods.bounds(k[0])[0], k[0]))  # longest first
            for longer, shorter in zip(ordered, ordered[1:], strict=False):
                constraints.append(Constraint(longer, (shorter,)))
    # Months add up to quarters, calendar and rolling years; quarters to plan years.
    if temporal:
        present = {(cycle, breakdown, measure) for cycle, breakdown, measure in cells}
        by_kind: dict[str, set[str]] = defaultdict(set)
        for cycle, _b, _m in present:
            by_kind[periods.kind_of(cycle)].add(cycle)
        tails = {(b, m) for _c, b, m in present}
        for kind, children_of in (
            ("quarter", periods.months_in),
            ("calendar_year", periods.months_in),
            ("rolling_12", periods.months_in),
            ("plan_year", periods.quarters_in),
        ):
            child_kind = "quarter" if kind == "plan_year" else "month"
            if not by_kind.get(child_kind):
                continue
            for parent in sorted(by_kind.get(kind, ())):
                children = children_of(parent)
                for breakdown, measure in sorted(tails):
                    total = (parent, breakdown, measure)
                    if total in cells:
                        parts = tuple((c, breakdown, measure) for c in children)
                        constraints.append(Constraint(total, parts))
    return cells, constraints


@dataclass(frozen=True)
class Published:
    """A KPI value as one audience may see it.  ``suppressed`` maps each hidden field
    (``value``, ``numerator``, ``denominator``, ``rag``, ``extra.<name>``) to its symbol."""

    source: KpiValue
    value: float | None
    numerator: int | None
    denominator: int | None
    rag: str
    extra: dict[str, Any]
    suppressed: dict[str, str] = field(default_factory=dict)

    @property
    def kpi(self) -> str:
        return self.source.kpi

    @property
    def cycle(self) -> str:
        return self.source.cycle

    @property
    def breakdown(self) -> str:
        return self.source.breakdown

    def shown(self, name: str) -> str | None:
        """The symbol standing in for a hidden field, or None when it is shown."""
        return self.suppressed.get(name)

    def as_dict(self) -> dict[str, Any]:
        s = self.source
        return {
            "kpi": s.kpi,
            "cycle": s.cycle,
            "cycle_kind": s.cycle_kind,
            "breakdown": s.breakdown,
            "value": self.value,
            "numerator": self.numerator,
            "denominator": self.denominator,
            "closed": s.closed,
            "upstream_revision": s.revision,
            "baseline": s.baseline,
            "target": s.target,
            "standard": s.standard,
            "rag": self.rag,
            "extra": self.extra,
            "suppressed": self.suppressed,
        }


def unsuppressed(v: KpiValue) -> Published:
    return Published(v, v.value, v.numerator, v.denominator, v.rag, dict(v.extra), {})


def kpi_cost(key: Key) -> int:
    """What hiding a cell costs a board reader: the "not recorded" remainder least, then
    the 20-week bands, breakdown cells, county totals of rolling years and weeks, of plan
    and calendar years; county totals of months, quarters and "now" (the headline
    figures) most."""
    cycle, breakdown, measure = key
    if str(breakdown).endswith(f"={NOT_RECORDED}"):
        return 0
    if measure in ("b2052", "b52"):
        return 1
    if breakdown != "all":
        return 2
    kind = periods.kind_of(str(cycle))
    if kind in ("rolling_12", "week"):
        return 3
    if kind in ("plan_year", "calendar_year"):
        return 4
    return 5


def add_remainders(values: Sequence[KpiValue]) -> list[KpiValue]:
    """``values`` plus, for each breakdown dimension that does not cover everyone, a
    ``<dimension>=not recorded`` value for the rest (so tables add up on the page)."""
    out = list(values)
    totals = {(v.cycle, v.breakdown): v for v in values}
    groups: dict[tuple[str, str], list[KpiValue]] = defaultdict(list)
    dims = _dimensions_by_kind((v.cycle, v.breakdown) for v in values)
    for v in values:  # a dimension with no value in a cycle covers nobody in it
        if v.breakdown == "all":
            for dim in dims.get(periods.kind_of(v.cycle), ()):
                groups[(v.cycle, dim)]
    for v in values:
        of = _dimension(v.breakdown)
        if of is not None and not v.breakdown.endswith(f"={NOT_RECORDED}"):
            groups[(v.cycle, of)].append(v)
    for (cycle, dim), parts in sorted(groups.items()):
        total = totals.get((cycle, "all"))
        if total is None or (cycle, f"{dim}={NOT_RECORDED}") in totals:
            continue
        t, ps = _measures(total), [_measures(p) for p in parts]
        rest = {m: n - sum(p.get(m, 0) for p in ps) for m, n in t.items()}
        if any(n < 0 for n in rest.values()) or not any(rest.values()):
            continue
        extra: dict[str, float | int | str | bool | None] = {}
        if "b2052" in rest:
            extra = {
                "average_days": None,
                "within_20_weeks": rest["num"],
                "weeks_20_to_52": rest["b2052"],
                "over_52_weeks": rest["b52"],
                "average_weeks": None,
            }
        val: float | None
        den: int | None
        if "count" in rest:
            num, den, val = rest["count"], None, float(rest["count"])
        else:  # the rest's value where the KPI's is a share of its counts, else none
            num, den = rest["num"], rest["den"]
            share = (
                total.numerator is not None
                and total.denominator
                and total.value == round(100.0 * total.numerator / total.denominator, 1)
            )
            val = round(100.0 * num / den, 1) if den and share else None
        out.append(
            total.model_copy(
                update={
                    "breakdown": f"{dim}={NOT_RECORDED}",
                    "value": val,
                    "numerator": num,
                    "denominator": den,
                    "rag": "none",
                    "extra": extra,
                }
            )
        )
    return out


UNPUBLISHED_KINDS = frozenset({"rolling_12", "calendar_year"})


def publishable(values: Iterable[KpiValue]) -> list[KpiValue]:
    """The values a suppressed output may carry: weeks, and months inside quarters
    inside plan years (a strict hierarchy, which secondary suppression protects well).
    Rolling 12-month and calendar-year values are left out: they overlap the plan-year
    hierarchy (consecutive rolling windows differ by one month in and one out; a
    calendar year minus a plan year is three months minus three others), and those
    differences give hidden months back."""
    return [v for v in values if periods.kind_of(v.cycle) not in UNPUBLISHED_KINDS]


def protect_kpi(values: Sequence[KpiValue], policy: SuppressionPolicy) -> list[Published]:
    """Every publishable value of one KPI (with its "not recorded" remainders) with
    primary and secondary suppression applied."""
    values = add_remainders(publishable(values))
    cells, constraints = kpi_grid(values, temporal=policy.temporal_totals)
    protection = protect(cells, constraints, policy, cost=kpi_cost)
    out = [_publish(v, protection, policy) for v in values if v.breakdown != "outlook"]
    shown = {(p.cycle, p.breakdown): p for p in out}
    out += [_publish_outlook(v, shown, policy) for v in values if v.breakdown == "outlook"]
    return out


def _publish(
    v: KpiValue,
    protection: Protection[Key],
    policy: SuppressionPolicy,
    *,
    also_hidden: Mapping[str, str] | None = None,
) -> Published:
    hidden: dict[str, str] = {}

    def hide(name: str, key: Key, small_ok: bool = True) -> None:
        sym = protection.symbol(key, policy)
        if sym is not None:
            hidden[name] = sym if small_ok else policy.confidential_symbol

    base = (v.cycle, v.breakdown)
    measures = _measures(v)
    if "count" in measures:
        hide("numerator", (*base, "count"))
        if "numerator" in hidden:
            hidden["value"] = hidden["numerator"]
    elif measures:  # a share or a rate of counts (a reported figure without any has none)
        hide("numerator", (*base, "num"))
        hide("denominator", (*base, "den"))
        if "b2052" in measures:
            hide("extra.within_20_weeks", (*base, "num"))
            hide("extra.weeks_20_to_52", (*base, "b2052"))
            hide("extra.over_52_weeks", (*base, "b52"))
        den = measures.get("den", 0)
        if "numerator" in hidden or "denominator" in hidden or den < policy.min_denominator:
            if v.value is not None:
                hidden["value"] = policy.confidential_symbol
            for name in AVERAGE_FIELDS:
                if v.extra.get(name) is not None:
                    hidden[f"extra.{name}"] = policy.confidential_symbol
    for name, sym in (also_hidden or {}).items():
        hidden.setdefault(name, sym)
    _hide_detail(v, hidden, policy)
    return _apply(v, hidden)


# Detail fields the tables above protect, or that are not figures of the data.
_PROTECTED = {
    *BAND_FIELDS,
    *AVERAGE_FIELDS,
    "summary",
    "quarter",
    "per",
    "target_still_possible",
    "too_few_responses",
    "certain_breaches",
    "open_cases",
}


def _hide_detail(v: KpiValue, hidden: dict[str, str], policy: SuppressionPolicy) -> None:
    """The kind-specific detail of any other measure kind (waiting-list day bands and
    percentiles, events, vacant places, responses, intervals ...).  Its counts are not in
    the additive tables, so they are hidden all together when any of them is small or the
    value's own counts are hidden; the figures worked out from them (percentiles, means,
    intervals) when the value is hidden or its denominator is small."""
    detail = {
        name: x
        for name, x in v.extra.items()
        if name not in _PROTECTED and isinstance(x, int | float) and not isinstance(x, bool)
    }
    counts = {name for name, x in detail.items() if isinstance(x, int)}
    own = any(n in hidden for n in ("value", "numerator", "denominator"))
    if counts and (own or any(policy.is_small(int(detail[n])) for n in counts)):
        for name in counts:
            small = policy.is_small(int(detail[name]))
            hidden.setdefault(
                f"extra.{name}", policy.small_symbol if small else policy.confidential_symbol
            )
    few = v.denominator is not None and v.denominator < policy.min_denominator
    if own or few:
        for name in set(detail) - counts:
            hidden.setdefault(f"extra.{name}", policy.confidential_symbol)


def _apply(v: KpiValue, hidden: Mapping[str, str]) -> Published:
    extra = {
        k: (None if f"extra.{k}" in hidden else val) for k, val in v.extra.items() if k != "summary"
    }
    hidden = dict(hidden)
    if "value" in hidden and v.rag != "none":
        hidden["rag"] = hidden["value"]
    if "summary" in v.extra:
        extra["summary"] = v.extra["summary"]
    return Published(
        v,
        None if "value" in hidden else v.value,
        None if "numerator" in hidden else v.numerator,
        None if "denominator" in hidden else v.denominator,
        "none" if "rag" in hidden else v.rag,
        extra,
        hidden,
    )


def _publish_outlook(
    v: KpiValue, shown: Mapping[tuple[str, str], Published], policy: SuppressionPolicy
) -> Published:
    """The quarter's "already decided" outlook: counts of open and late cases."""
    hidden: dict[str, str] = {}
    quarter = str(v.extra.get("quarter") or "")
    so_far = shown.get((quarter, "all"))
    if so_far is not None:
        for name in ("numerator", "denominator"):
            if name in so_far.suppressed:
                hidden[name] = so_far.suppressed[name]
    elif v.denominator is not None and policy.is_small(v.denominator):
        hidden["numerator"] = hidden["denominator"] = policy.small_symbol
    elif v.numerator is not None and policy.is_small(v.numerator):
        hidden["numerator"] = policy.small_symbol
    breaches = v.extra.get("certain_breaches")
    open_cases = v.extra.get("open_cases")
    if isinstance(breaches, int) and policy.is_small(breaches):
        hidden["extra.certain_breaches"] = policy.small_symbol
        # best achievable, issued so far and open cases together give breaches back
        hidden["extra.open_cases"] = (
            policy.small_symbol
            if isinstance(open_cases, int) and policy.is_small(open_cases)
            else policy.confidential_symbol
        )
    elif isinstance(open_cases, int) and policy.is_small(open_cases):
        hidden["extra.open_cases"] = policy.small_symbol
    total = (v.denominator or 0) + (open_cases if isinstance(open_cases, int) else 0)
    if v.value is not None and total < policy.min_denominator:
        hidden["value"] = policy.confidential_symbol
    p = _apply(v, hidden)
    if hidden:
        p.extra["summary"] = outlook_sentence(v, p)
    return p


def outlook_sentence(v: KpiValue, p: Published) -> str:
    quarter = str(v.extra.get("quarter") or "this quarter")
    if p.value is None and "value" not in p.suppressed:
        return f"No plans issued or open in {quarter} yet."
    breaches = p.suppressed.get("extra.certain_breaches") or str(v.extra.get("certain_breaches", 0))
    best = p.suppressed.get("value") or f"{p.value:.1f}%"
    text = (
        f"{breaches} open case(s) are already past the time limit and will be late whenever "
        f"issued. If every other open case is issued on time, the best achievable for "
        f"{quarter} is {best}"
    )
    possible = v.extra.get("target_still_possible")
    if v.target is None or possible is None or "value" in p.suppressed:
        return text + "."
    verdict = "can still be met" if possible else "can no longer be met"
    return f"{text}; the trajectory target of {v.target:.0f}% {verdict}."


def protect_revision(v: KpiValue, latest: Published | None, policy: SuppressionPolicy) -> Published:
    """An earlier revision of a value: its own small numbers are hidden, and so is every
    field hidden in the latest revision (so the history cannot undo the protection)."""
    hidden: dict[str, str] = dict(latest.suppressed) if latest is not None else {}
    measures = _measures(v)
    names = {
        "count": ("numerator",),
        "num": ("numerator", "extra.within_20_weeks"),
        "den": ("denominator",),
        "b2052": ("extra.weeks_20_to_52",),
        "b52": ("extra.over_52_weeks",),
    }
    for measure, count in measures.items():
        if policy.is_small(count):
            for name in names[measure]:
                hidden.setdefault(name, policy.small_symbol)
    if "count" in measures and "numerator" in hidden:
        hidden.setdefault("value", hidden["numerator"])
    if "den" in measures and (
        "numerator" in hidden or "denominator" in hidden or measures["den"] < policy.min_denominator
    ):
        if v.value is not None:
            hidden.setdefault("value", policy.confidential_symbol)
        for name in AVERAGE_FIELDS:
            if v.extra.get(name) is not None:
                hidden.setdefault(f"extra.{name}", policy.confidential_symbol)
    _hide_detail(v, hidden, policy)
    return _apply(v, hidden)


def recoverable(
    published: Sequence[Published], raw: Sequence[KpiValue], policy: SuppressionPolicy
) -> list[str]:
    """Audit: what someone holding every shown figure could work out.

    Starting from the shown counts, any table with exactly one unknown cell gives that
    cell away; this repeats until nothing more follows.  Returns a problem for each
    hidden count that becomes known, and for each small count (1 to ``min_count - 1``)
    that is known, shown or derived.  Empty when the output is safe.
    """
    cells, constraints = kpi_grid(add_remainders(publishable(raw)), temporal=policy.temporal_totals)
    by_key = {(p.cycle, p.breakdown): p for p in published}
    field_of = {
        "num": "numerator",
        "den": "denominator",
        "count": "numerator",
        "b2052": "extra.weeks_20_to_52",
        "b52": "extra.over_52_weeks",
    }
    known: set[Key] = set()
    hidden: set[Key] = set()
    for key in cells:
        cycle, breakdown, measure = key
        p = by_key.get((cycle, breakdown))
        if p is None:
            continue  # not published itself (e.g. "not recorded"): unknown at first
        if field_of[measure] in p.suppressed:
            hidden.add(key)
        else:
            known.add(key)
    tables = [[m for m in dict.fromkeys((c.total, *c.parts)) if m in cells] for c in constraints]
    changed = True
    while changed:
        changed = False
        for members in tables:
            unknown = [m for m in members if m not in known]
            if len(unknown) == 1:
                known.add(unknown[0])
                changed = True
            elif unknown and members[0] in known and members[0] not in unknown:
                rest = cells[members[0]] - sum(cells[m] for m in members[1:] if m in known)
                if rest == 0:  # the unknown parts add up to zero: each is zero
                    known.update(unknown)
                    changed = True
    problems = [f"hidden count {k} can be worked out from the totals" for k in hidden & known]
    problems += [
        f"{p.cycle} {p.breakdown}: a percentage with its denominator gives a hidden numerator"
        for p in published
        if p.value is not None and "numerator" in p.suppressed and "denominator" not in p.suppressed
    ]
    problems += [
        f"small count {k} = {cells[k]} is known"
        for k in sorted(known - hidden, key=repr)
        if 0 < cells[k] < policy.min_count
    ]
    return problems
