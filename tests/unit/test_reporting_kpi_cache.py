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
