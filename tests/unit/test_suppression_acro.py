"""ACRO (the SACRO project's output checker, ``acro`` on PyPI) as an independent oracle
for the disclosure control: its minimum-threshold check must flag exactly the cells
our primary suppression hides, and its rounding mitigation must give the counts the
NHS rounding profile publishes.  ACRO counts the records itself, from a table of
individual rows, so nothing here shares our code or our arithmetic.

ACRO's threshold check flags empty cells as well (a count of 0 is under any threshold);
with ``suppress_zero`` our policy hides them too, without it they are shown.  ACRO has
no secondary suppression (it asks for a manual review against linked tables), so the
secondary cells keep their own exact check in test_suppression.py."""

from __future__ import annotations

import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.reporting.domain.rounding import rounded
from services.reporting.domain.suppression import RoundingProfile, SuppressionPolicy, protect

acro = pytest.importorskip("acro", reason="acro (test dependency) is not installed")
pd = pytest.importorskip("pandas")

Table = dict[tuple[str, str], int]


def _acro_session(**kwargs: object) -> object:
    logging.getLogger("acro").setLevel(logging.WARNING)
    return acro.ACRO(**kwargs)


def _records(table: Table) -> object:
    rows = [{"row": r, "col": c} for (r, c), n in table.items() for _ in range(n)]
    return pd.DataFrame(rows, columns=["row", "col"])


def _flagged(session: object, table: Table, threshold: int) -> set[tuple[str, str]]:
    from acro import sdcchecks

    session.config["safe_threshold"] = threshold  # type: ignore[attr-defined]
    session.sdc_checks = sdcchecks.SDCChecks(session.config)  # type: ignore[attr-defined]
    df = _records(table)
    rows = sorted({r for r, _ in table})
    cols = sorted({c for _, c in table})
    counts = session.crosstab(  # type: ignore[attr-defined]
        pd.Categorical(df["row"], categories=rows),
        pd.Categorical(df["col"], categories=cols),
        dropna=False,
    )
    outcome = session.results.get_index(len(session.results.results) - 1).outcome  # type: ignore[attr-defined]
    flagged = set()
    for r in rows:
        for c in cols:
            assert int(counts.loc[r, c]) == table[(r, c)]  # ACRO counted the same table
            if "threshold" in str(outcome.loc[r, c]).lower():
                flagged.add((r, c))
    return flagged


tables = (
    st.integers(2, 4)
    .flatmap(
        lambda nrows: st.integers(2, 4).flatmap(
            lambda ncols: st.lists(
                st.integers(0, 25), min_size=nrows * ncols, max_size=nrows * ncols
            ).map(
                lambda counts: {
                    (f"r{i}", f"c{j}"): counts[i * ncols + j]
                    for i in range(nrows)
                    for j in range(ncols)
                }
            )
        )
    )
    .filter(lambda t: all(any(n for (r, _), n in t.items() if r == row) for row, _ in t))
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables, st.integers(2, 10))
def test_primary_suppression_hides_exactly_what_acro_flags(table: Table, threshold: int) -> None:
    session = _acro_session(suppress=False)
    flagged = _flagged(session, table, threshold)
    with_zeros = SuppressionPolicy(min_count=threshold, suppress_zero=True)
    assert set(protect(table, [], with_zeros).primary) == flagged
    shown_zeros = SuppressionPolicy(min_count=threshold, suppress_zero=False)
    assert set(protect(table, [], shown_zeros).primary) == {k for k in flagged if table[k]}


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables)
def test_nhs_rounding_agrees_with_acros_rounding_to_five(table: Table) -> None:
    session = _acro_session(mitigation="round", round_base=5)
    df = _records(table)
    rows = sorted({r for r, _ in table})
    cols = sorted({c for _, c in table})
    out = session.crosstab(  # type: ignore[attr-defined]
        pd.Categorical(df["row"], categories=rows),
        pd.Categorical(df["col"], categories=cols),
        dropna=False,
    )
    nhs = RoundingProfile()
    for (r, c), n in table.items():
        mine = rounded(n, nhs)
        if n >= nhs.hide_below:  # 1-7 are hidden by the profile, not rounded
            assert mine == int(out.loc[r, c]), (n, mine, out.loc[r, c])
        else:
            assert mine == (0 if n == 0 else None)
