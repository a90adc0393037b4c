"""Reporting recomputes a KPI's published views (and its gauge) only when one of that
KPI's revisions was stored.  The cache was keyed by the newest revision of any KPI, so
each snapshot made every KPI's views be read and suppressed again: at a county's scale
reporting took about 20 s a snapshot and fell behind timeliness."""

from __future__ import annotations

from pathlib import Path

import pytest

from contracts.kpi_dictionary import load_kpis
from contracts.snapshots import KpiValue
from sendwatch.db import make_engine, migrate
from services.reporting.adapters import repository as repo
from services.reporting.domain.suppression import load_policy
from services.reporting.entrypoint import refresh_gauges
from services.reporting.service import Reporting
from tests.helpers import kpi_snapshot


def value(kpi: str, n: int) -> KpiValue:
    return KpiValue(
        kpi=kpi,
        cycle="2026-10",
        cycle_kind="month",
        breakdown="all",
        value=50.0,
        numerator=n,
        denominator=2 * n,
        closed=True,
        revision=1,
        rag="red",
    )


def test_a_snapshot_of_one_kpi_recomputes_that_kpi_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'reporting.db'}")
    migrate("reporting", engine)
    reporting = Reporting(engine, load_kpis(), load_policy())
    repo.apply_snapshots(
        engine, [kpi_snapshot(1, [value("ehcp_20wk", 40), value("decision_6wk", 30)])]
    )
    refresh_gauges(reporting)  # every KPI read once, cached

    read: list[str | None] = []
    real = repo.latest_values

    def counting(e: object, kpi: str | None = None) -> object:
        read.append(kpi)
        return real(e, kpi)  # type: ignore[arg-type]

    monkeypatch.setattr(repo, "latest_values", counting)
    repo.apply_snapshots(engine, [kpi_snapshot(2, [value("ehcp_20wk", 41)])])
    refresh_gauges(reporting)
    assert read == ["ehcp_20wk"]
    # ... and what it serves is the new value, the other KPI's unchanged.
    assert reporting.published("ehcp_20wk", False)[("2026-10", "all")].numerator == 41
    assert reporting.published("decision_6wk", False)[("2026-10", "all")].numerator == 30
    engine.dispose()


@pytest.mark.parametrize("kpi", ["ehcp_20wk", None])
def test_a_read_of_kpi_values_checks_the_database_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kpi: str | None
) -> None:
    """A KPI-cell read (goal 5 of the performance issue: p50 under 5 ms) checks its
    cache against the database in one session: the KPI's version and the date of the
    data together.  It took three (the version twice and the date), and a read of every
    KPI took two per KPI: on PostgreSQL each is a pool check-out with a ping."""
    from sqlalchemy import event

    from sendwatch.config import get_settings
    from services.reporting.api.kpis import latest_values
    from services.reporting.auth import Viewer
    from services.reporting.entrypoint import context

    engine = make_engine(f"sqlite:///{tmp_path / 'reporting.db'}")
    migrate("reporting", engine)
    repo.apply_snapshots(
        engine, [kpi_snapshot(1, [value("ehcp_20wk", 40), value("decision_6wk", 30)])]
    )
    ctx = context(get_settings(), engine)
    who = Viewer(None, False, False)
    latest_values(ctx, who, kpi, "2026-10", "all")  # the views cached

    checkouts: list[object] = []
    event.listen(engine, "checkout", lambda *a: checkouts.append(a))
    rows, today = latest_values(ctx, who, kpi, "2026-10", "all")
    assert len(checkouts) == 1
    assert today is not None and today.isoformat() == "2026-11-01"
    assert {(r["kpi"], r["numerator"]) for r in rows} >= {("ehcp_20wk", 40)}

    # ... and a new revision is still seen on the next read.
    repo.apply_snapshots(engine, [kpi_snapshot(2, [value("ehcp_20wk", 41)])])
    checkouts.clear()
    rows, _ = latest_values(ctx, who, kpi, "2026-10", "all")
    assert ("ehcp_20wk", 41) in {(r["kpi"], r["numerator"]) for r in rows}
    assert len(checkouts) == 2  # the marks, and the changed KPI's values
    engine.dispose()
