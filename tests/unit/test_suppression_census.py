"""Suppression of census KPIs (cohort shares, waiting lists, occupancy): a census is one
count on its census day whatever cycle closes there, so a quarter's cell is its last
month's cell (and a week's ending the same day).  Months do not add up to quarters;
instead the cells of one census day are one number in public: protected together, and
the audit works a hidden cell out from a shown cell of the same day."""

from __future__ import annotations

import random

from contracts.snapshots import KpiValue
from services.reporting.domain.suppression import (
    SuppressionPolicy,
    add_remainders,
    determined,
    kpi_grid,
    protect_kpi,
    publishable,
    recoverable,
    unsuppressed,
)

POLICY = SuppressionPolicy()


def census(cycle: str, breakdown: str, num: int, den: int) -> KpiValue:
    kind = "quarter" if "-Q" in cycle else "current" if cycle == "current" else "month"
    return KpiValue(
        kpi="inmss_share",
        cycle=cycle,
        cycle_kind=kind,
        breakdown=breakdown,
        value=round(100 * num / den, 1) if den else None,
        numerator=num,
        denominator=den,
        closed=cycle != "current",
        revision=1 if cycle != "current" else 0,
        kind="cohort_share",
        unit="percent",
    )


def table(cycle: str, dens: dict[str, int], nums: dict[str, int]) -> list[KpiValue]:
    out = [census(cycle, "all", sum(nums.values()), sum(dens.values()))]
    out += [census(cycle, f"locality={p}", nums[p], d) for p, d in dens.items()]
    return out


def test_a_quarters_census_is_its_last_months_not_the_sum_of_its_months() -> None:
    values = [
        *table("2026-04", {"a": 40, "b": 60}, {"a": 4, "b": 6}),
        *table("2026-05", {"a": 41, "b": 60}, {"a": 4, "b": 6}),
        *table("2026-06", {"a": 3, "b": 97}, {"a": 0, "b": 9}),
        *table("2026/27-Q1", {"a": 3, "b": 97}, {"a": 0, "b": 9}),
    ]
    cells, constraints = kpi_grid(add_remainders(publishable(values)))
    pairs = {(c.total, c.parts) for c in constraints if len(c.parts) == 1}
    for breakdown in ("all", "locality=a", "locality=b"):
        for m in ("num", "den"):
            q, june = ("2026/27-Q1", breakdown, m), ("2026-06", breakdown, m)
            assert (q, (june,)) in pairs
    # no "quarter = April + May + June" table
    assert not any(
        c.total[0] == "2026/27-Q1" and {p[0] for p in c.parts} == {"2026-04", "2026-05", "2026-06"}
        for c in constraints
    )


def test_the_audit_recovers_a_hidden_month_from_the_shown_quarter_of_its_day() -> None:
    """The defect: a published quarter cell gave back the suppressed denominator of its
    last month (the same census).  The audit must see it, and protection must hide both."""
    values = [
        *table("2026-06", {"a": 3, "b": 97, "c": 50}, {"a": 0, "b": 9, "c": 5}),
        *table("2026/27-Q1", {"a": 3, "b": 97, "c": 50}, {"a": 0, "b": 9, "c": 5}),
    ]
    protected = protect_kpi(values, POLICY)
    assert recoverable(protected, values, POLICY) == []
    by = {(p.cycle, p.breakdown): p for p in protected}
    for b in ("all", "locality=a", "locality=b", "locality=c"):
        june, q = by[("2026-06", b)], by[("2026/27-Q1", b)]
        assert ("denominator" in june.suppressed) == ("denominator" in q.suppressed), b
    assert "denominator" in by[("2026-06", "locality=a")].suppressed  # 3: primary
    # a page showing the quarter's cells in full beside the protected month gives the
    # month's hidden cells back; the audit says so
    leaky = [p for p in protected if p.cycle == "2026-06"] + [
        unsuppressed(v) for v in values if v.cycle == "2026/27-Q1"
    ]
    problems = recoverable(leaky, values, POLICY)
    assert any("2026-06" in p and "locality=a" in p for p in problems), problems


def test_random_census_tables_leave_no_hidden_small_count_determined() -> None:
    rng = random.Random(20)
    for _ in range(60):
        months = ["2026-04", "2026-05", "2026-06"]
        values: list[KpiValue] = []
        last: tuple[dict[str, int], dict[str, int]] | None = None
        for m in months:
            dens = {p: rng.choice([0, 1, 2, 3, 4, 6, 9, 15, 40]) for p in "abcd"}
            nums = {p: rng.randint(0, d) for p, d in dens.items()}
            values += table(m, dens, nums)
            last = (dens, nums)
        assert last is not None
        values += table("2026/27-Q1", *last)
        protected = protect_kpi(values, POLICY)
        assert recoverable(protected, values, POLICY) == []
        cells, constraints = kpi_grid(add_remainders(publishable(values)))
        shown = {(p.cycle, p.breakdown): p for p in protected}
        field = {"num": "numerator", "den": "denominator"}
        hidden = {
            c for c in cells if (p := shown.get(c[:2])) is None or field[c[2]] in p.suppressed
        }
        # the attacker's equations: the tables, and one census day = one number
        tables = [(c.total, c.parts) for c in constraints]
        for b in {k[1] for k in cells}:
            for m in ("num", "den"):
                june, q = ("2026-06", b, m), ("2026/27-Q1", b, m)
                if june in cells and q in cells:
                    tables.append((q, (june,)))
        fixed = determined(tables, hidden)
        assert not {c for c in fixed if 0 < cells[c] < POLICY.min_count}
