"""Small-number suppression: primary rules, secondary suppression across breakdown,
time and band tables, and an attacker's audit that no hidden count can be worked out
from the shown ones (checked by elimination and, for small tables, by linear algebra)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.snapshots import KpiValue
from services.reporting.domain import periods
from services.reporting.domain.suppression import (
    Constraint,
    SuppressionPolicy,
    add_remainders,
    kpi_grid,
    load_policy,
    protect,
    protect_kpi,
    protect_revision,
    recoverable,
)

POLICY = SuppressionPolicy()
LOCALITIES = ["shrewsbury", "oswestry", "ludlow", "wem", "bridgnorth"]
NEEDS = ["ASD", "SLCN", "SEMH"]


def pct(num: int, den: int) -> float | None:
    return round(100.0 * num / den, 1) if den else None


def value(
    cycle: str,
    breakdown: str,
    num: int,
    den: int,
    *,
    over_year: int = 0,
    kpi: str = "ehcp_20wk",
    closed: bool = True,
) -> KpiValue:
    return KpiValue(
        kpi=kpi,
        cycle=cycle,
        cycle_kind=periods.kind_of(cycle),
        breakdown=breakdown,
        value=pct(num, den),
        numerator=num,
        denominator=den,
        closed=closed,
        revision=1 if closed else 0,
        target=65.0,
        rag="red",
        extra={
            "average_days": 150.0 if den else None,
            "within_20_weeks": num,
            "weeks_20_to_52": den - num - over_year,
            "over_52_weeks": over_year,
            "average_weeks": 21.4 if den else None,
        },
    )


def count_value(breakdown: str, n: int, kpi: str = "open_caseload") -> KpiValue:
    return KpiValue(
        kpi=kpi, cycle="current", breakdown=breakdown, value=float(n), numerator=n, rag="none"
    )


Case = tuple[str, str, str | None, bool, bool]  # month, locality, need, on time, over a year


def values_from_cases(cases: list[Case]) -> list[KpiValue]:
    """The values timeliness would publish for these plans: months, their quarters and
    the plan year, each for all, by locality and by primary need (need optional)."""
    agg: dict[tuple[str, str], list[int]] = {}
    for month, locality, need, on_time, over_a_year in cases:
        late_year = over_a_year and not on_time
        cycles = [month, periods.quarter_label(periods.bounds(month)[0])]
        cycles.append(periods.plan_year_label(periods.plan_year_of(periods.bounds(month)[0])))
        breakdowns = ["all", f"locality={locality}"] + ([f"primary_need={need}"] if need else [])
        for c in cycles:
            for b in breakdowns:
                a = agg.setdefault((c, b), [0, 0, 0])
                a[0] += on_time
                a[1] += 1
                a[2] += late_year
    return [value(c, b, n, d, over_year=y) for (c, b), (n, d, y) in sorted(agg.items())]


# --- policy ----------------------------------------------------------------------------


def test_shipped_policy_matches_the_issue() -> None:
    p = load_policy()
    assert p.min_count == 5 and p.small_symbol == "<5"
    assert p.min_denominator == 5 and not p.suppress_zero
    assert "board" not in p.unsuppressed_roles and "operational" in p.unsuppressed_roles
    assert "<5" in p.describe()


def test_policy_is_configurable(tmp_path: Path) -> None:
    f = tmp_path / "s.yaml"
    f.write_text("version: 1\nmin_count: 10\nmin_denominator: 20\nconfidential_symbol: '[c]'\n")
    p = load_policy(str(f))
    assert p.small_symbol == "<10" and p.is_small(9) and not p.is_small(10)
    [published] = protect_kpi([value("2026-10", "all", 12, 15)], p)
    assert published.value is None and published.suppressed["value"] == "[c]"
    with pytest.raises(ValueError):
        SuppressionPolicy.model_validate({"version": 1, "unknown": 1})


# --- primary ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "shown"), [(0, "0"), (1, "<5"), (2, "<5"), (3, "<5"), (4, "<5"), (5, "5"), (27, "27")]
)
def test_counts_one_to_four_are_shown_as_under_five(n: int, shown: str) -> None:
    [p] = protect_kpi([count_value("all", n)], POLICY)
    assert (p.suppressed.get("numerator") or str(p.numerator)) == shown
    assert (p.value is None) == (shown == "<5")


def test_percentage_over_fewer_than_five_is_suppressed() -> None:
    vals = [value("2026-10", "all", 0, 4)]  # 0 of 4: no small count, small denominator
    [p] = protect_kpi(vals, POLICY)
    assert p.numerator == 0 and p.denominator is None and p.value is None
    assert p.suppressed["denominator"] == "<5" and p.suppressed["value"] == "c"
    assert p.rag == "none" and p.extra["average_weeks"] is None


def test_percentage_with_a_hidden_numerator_is_suppressed() -> None:
    # 3 of 20 on time: 15.0% with 20 shown would give the 3 back.
    vals = [value("2026-10", "all", 3, 20)]
    [p] = protect_kpi(vals, POLICY)
    assert p.denominator == 20 and p.numerator is None and p.value is None
    assert p.suppressed["numerator"] == "<5"


def test_large_cells_are_untouched() -> None:
    vals = [value("2026-10", "all", 40, 60, over_year=6)]
    [p] = protect_kpi(vals, POLICY)
    assert p.suppressed == {} and (p.value, p.numerator, p.denominator) == (66.7, 40, 60)


# --- secondary --------------------------------------------------------------------------


def test_a_lone_hidden_cell_gets_a_partner() -> None:
    cells = {"total": 30, "a": 3, "b": 12, "c": 15}
    prot = protect(cells, [Constraint("total", ("a", "b", "c"))], POLICY)
    assert prot.primary == {"a"} and prot.secondary == {"b"}  # the smallest other cell
    assert prot.symbol("a", POLICY) == "<5" and prot.symbol("b", POLICY) == "c"


def test_hidden_cells_may_not_pool_to_a_small_number() -> None:
    # a=1 and b=2 are both hidden, but total - c = 3 would still be a small count.
    cells = {"total": 30, "a": 1, "b": 2, "c": 27}
    prot = protect(cells, [Constraint("total", ("a", "b", "c"))], POLICY)
    assert prot.secondary, "a third cell must be hidden"
    relaxed = SuppressionPolicy(protect_pooled_totals=False)
    assert not protect(cells, [Constraint("total", ("a", "b", "c"))], relaxed).secondary


def test_cost_decides_which_cell_goes() -> None:
    cells = {"total": 30, "a": 3, "b": 12, "c": 15}
    prot = protect(cells, [Constraint("total", ("a", "b", "c"))], POLICY, cost=lambda k: k == "b")
    assert prot.secondary == {"c"}


def test_a_total_with_one_non_zero_part_is_hidden_with_it() -> None:
    # ethnicity has one category covering everyone: hiding it means hiding "all".
    cells = {"all": 40, "eth=unknown": 40, "q": 40, "m1": 3, "m2": 37}
    tables = [Constraint("all", ("eth=unknown",)), Constraint("q", ("m1", "m2"))]
    prot = protect(cells, tables, POLICY, hidden=["eth=unknown"])
    assert {"all", "eth=unknown"} <= prot.secondary


def test_breakdown_cells_never_leak_through_the_total() -> None:
    cases: list[Case] = [("2026-10", "shrewsbury", "ASD", True, False)] * 20
    cases += [("2026-10", "oswestry", "ASD", False, False)] * 12
    cases += [("2026-10", "wem", "SLCN", True, False)] * 2  # 2 in Wem: small
    cases += [("2026-10", "ludlow", None, False, False)] * 9  # need not recorded
    vals = values_from_cases(cases)
    pub = protect_kpi(vals, POLICY)
    by = {(p.cycle, p.breakdown): p for p in pub}
    assert by[("2026-10", "locality=wem")].suppressed["denominator"] == "<5"
    assert "denominator" in by[("2026-10", "locality=ludlow")].suppressed  # the partner
    assert by[("2026-10", "all")].suppressed.get("denominator") is None
    assert recoverable(pub, vals, POLICY) == []
    # the unsuppressed figures would give Wem away
    naive = [protect_revision(v, None, POLICY) for v in vals]
    assert recoverable(naive, vals, POLICY)


def test_months_do_not_leak_through_quarters() -> None:
    cases: list[Case] = [("2026-10", "shrewsbury", "ASD", True, False)] * 3
    cases += [("2026-11", "shrewsbury", "ASD", True, False)] * 30
    cases += [("2026-12", "shrewsbury", "ASD", False, False)] * 30
    vals = values_from_cases(cases)
    pub = protect_kpi(vals, POLICY)
    by = {(p.cycle, p.breakdown): p for p in pub}
    assert by[("2026-10", "all")].suppressed["denominator"] == "<5"
    hidden_months = [
        m for m in ("2026-10", "2026-11", "2026-12") if "denominator" in by[(m, "all")].suppressed
    ]
    quarter_hidden = "denominator" in by[("2026/27-Q3", "all")].suppressed
    assert len(hidden_months) + quarter_hidden >= 2
    assert recoverable(pub, vals, POLICY) == []


def test_bands_do_not_leak_through_plans_issued() -> None:
    vals = [value("2026-10", "all", 40, 60, over_year=2)]
    [p] = protect_kpi(vals, POLICY)
    assert p.suppressed["extra.over_52_weeks"] == "<5"
    assert p.suppressed["extra.weeks_20_to_52"] == "c"  # a band goes, not the headline
    assert p.value == 66.7 and p.numerator == 40 and p.denominator == 60
    assert p.extra["over_52_weeks"] is None and p.extra["weeks_20_to_52"] is None


def test_counts_by_locality_add_up_safely() -> None:
    vals = [count_value("all", 40)] + [
        count_value(f"locality={loc}", n)
        for loc, n in zip(LOCALITIES, (20, 10, 7, 3, 0), strict=True)
    ]
    pub = protect_kpi(vals, POLICY)
    by = {p.breakdown: p for p in pub}
    assert by["locality=wem"].suppressed["numerator"] == "<5"
    assert by["locality=bridgnorth"].numerator == 0
    assert recoverable(pub, vals, POLICY) == []


def test_outlook_hides_small_late_counts_and_rewrites_its_sentence() -> None:
    outlook = KpiValue(
        kpi="ehcp_20wk",
        cycle="current",
        breakdown="outlook",
        value=80.0,
        numerator=40,
        denominator=50,
        target=65.0,
        rag="green",
        extra={
            "quarter": "2026/27-Q3",
            "open_cases": 60,
            "certain_breaches": 3,
            "target_still_possible": True,
            "summary": "3 open case(s) are already past 20 weeks ...",
        },
    )
    [p] = [x for x in protect_kpi([outlook], POLICY) if x.breakdown == "outlook"]
    assert p.suppressed["extra.certain_breaches"] == "<5"
    assert p.extra["certain_breaches"] is None and p.extra["open_cases"] is None
    assert p.value == 80.0
    assert p.extra["summary"].startswith("<5 open case(s)")
    assert "3 open" not in p.extra["summary"] and "can still be met" in p.extra["summary"]


def test_revisions_keep_the_latest_protection() -> None:
    latest = protect_kpi([value("2026-10", "all", 3, 20)], POLICY)[0]
    older = protect_revision(value("2026-10", "all", 6, 19), latest, POLICY)
    assert older.numerator is None and older.value is None  # hidden now, hidden then
    assert older.denominator == 19
    small = protect_revision(value("2026-10", "all", 2, 3), None, POLICY)
    assert small.suppressed["numerator"] == "<5" and small.suppressed["denominator"] == "<5"


# --- the attacker's audit on random data -------------------------------------------------


def _determined(tables: list[Constraint], hidden: set) -> set:
    """Hidden cells whose value the tables' linear equations fix, whatever the shown
    values are: cell i is fixed when the unit vector e_i lies in the row space of the
    equations restricted to the hidden cells.  Exact rank arithmetic modulo a large prime
    (the coefficients are 0 and +-1, so this matches the rational rank)."""
    prime = (1 << 61) - 1
    unknown = sorted(hidden, key=repr)
    index = {k: i for i, k in enumerate(unknown)}
    rows: list[dict[int, int]] = []
    for c in tables:
        row: dict[int, int] = {}
        for sign, m in [(1, c.total)] + [(-1, p) for p in c.parts]:
            if m in index:
                row[index[m]] = (row.get(index[m], 0) + sign) % prime
        row = {k: v for k, v in row.items() if v}
        if row:
            rows.append(row)
    basis: dict[int, dict[int, int]] = {}  # pivot column -> row with 1 at the pivot
    for row in rows:
        for col, piv in basis.items():
            if col in row:
                f = row[col]
                for k, v in piv.items():
                    row[k] = (row.get(k, 0) - f * v) % prime
                row = {k: v for k, v in row.items() if v}
        if not row:
            continue
        col = min(row)
        inv = pow(row[col], prime - 2, prime)
        row = {k: v * inv % prime for k, v in row.items()}
        for other in basis.values():  # keep the basis reduced
            if col in other:
                f = other[col]
                for k, v in row.items():
                    other[k] = (other.get(k, 0) - f * v) % prime
                for k in [k for k, v in other.items() if not v]:
                    del other[k]
        basis[col] = row
    return {unknown[col] for col, row in basis.items() if len(row) == 1}


def test_the_exact_check_finds_what_it_should() -> None:
    t = [Constraint("T", ("a", "b", "c")), Constraint("U", ("a", "d"))]
    assert _determined(t, {"a"}) == {"a"}
    assert _determined(t, {"a", "b"}) == {"a", "b"}  # U gives a, then T gives b
    assert _determined(t, {"a", "b", "d"}) == set()
    # a and b hidden in T, a and d hidden in U, and d also in V = d + e with e shown
    assert _determined([*t, Constraint("V", ("d", "e"))], {"a", "b", "d"}) == {"a", "b", "d"}


cases_strategy = st.lists(
    st.tuples(
        st.sampled_from(["2026-10", "2026-11", "2026-12", "2027-01"]),
        st.sampled_from(LOCALITIES),
        st.sampled_from([*NEEDS, None]),
        st.booleans(),
        st.booleans(),
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(cases_strategy)
def test_no_hidden_count_can_be_worked_out(cases: list[Case]) -> None:
    vals = values_from_cases(cases)
    pub = protect_kpi(vals, POLICY)
    assert recoverable(pub, vals, POLICY) == []
    # exact check: no small count (1-4) is fixed by the tables' linear equations (a
    # hidden zero or a hidden partner of 5 or more may be; neither discloses anything)
    cells, tables = kpi_grid(add_remainders(vals))
    field = {"num": "numerator", "den": "denominator", "b2052": "extra.weeks_20_to_52"}
    field["b52"] = "extra.over_52_weeks"
    by = {(p.cycle, p.breakdown): p for p in pub}
    hidden = {
        k for k in cells if (p := by.get((k[0], k[1]))) is None or field[k[2]] in p.suppressed
    }
    small_hidden = {k for k in hidden if 0 < cells[k] < POLICY.min_count}
    assert not _determined(tables, hidden) & small_hidden
    # every small count is hidden
    for p in pub:
        for name in ("numerator", "denominator"):
            n = getattr(p.source, name)
            if n is not None and 0 < n < 5:
                assert p.suppressed.get(name) == "<5"


def test_suppression_is_fast_enough_for_a_year_of_data() -> None:
    rng = random.Random(7)
    months = [f"{y}-{m:02d}" for y, m in ((2026, m) for m in range(4, 13))]
    cases: list[Case] = [
        (rng.choice(months), rng.choice(LOCALITIES), rng.choice(NEEDS), rng.random() < 0.4, False)
        for _ in range(700)
    ]
    vals = values_from_cases(cases)
    import time

    t = time.perf_counter()
    pub = protect_kpi(vals, POLICY)
    assert time.perf_counter() - t < 2.0
    assert recoverable(pub, vals, POLICY) == []
