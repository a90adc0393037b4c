"""The benchmark panel from the DfE figures shipped with sendwatch: an empty reporting
database (a fresh clone, nothing downloaded or loaded) still compares Shropshire with
England, the West Midlands and its statistical neighbours, for every KPI
``contracts/benchmarks.yaml`` lists; a KPI DfE publishes nothing for says so."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from contracts.kpi_dictionary import load_kpis
from sendwatch.db import make_engine, migrate
from services.reporting import bundled
from services.reporting.domain.suppression import SuppressionPolicy
from services.reporting.service import Reporting

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def reporting(tmp_path: Path) -> Reporting:
    engine = make_engine(f"sqlite:///{tmp_path / 'reporting.db'}")
    migrate("reporting", engine)
    return Reporting(engine, load_kpis(), SuppressionPolicy())


def test_the_shipped_files_are_inside_the_project_with_their_licence() -> None:
    assert bundled.DATA_DIR.is_relative_to(ROOT)
    readme = (bundled.DATA_DIR / "README.md").read_text()
    assert "Open Government Licence v3.0" in readme
    for kpi in bundled.config().kpis:
        assert kpi in load_kpis().kpis, f"benchmarks.yaml names an unknown KPI {kpi}"
        assert bundled.figures(kpi), f"no shipped DfE figures for {kpi}"


@pytest.mark.parametrize("kpi", sorted(bundled.config().kpis))
def test_an_empty_database_shows_the_shipped_benchmark(reporting: Reporting, kpi: str) -> None:
    view, note = reporting.benchmark(kpi, suppressed=True)
    assert view is not None, note
    kinds = {r.kind: r for r in view.rows}
    assert view.year == 2024
    assert kinds["la"].value is not None and kinds["england"].value is not None
    assert kinds["region"].name == "West Midlands" and kinds["region"].value is not None
    assert sum(r.kind == "neighbour" for r in view.rows) == 10
    assert kinds["neighbours"].value is not None
    assert "Open Government Licence" in note


def test_the_shipped_figure_is_the_published_one(reporting: Reporting) -> None:
    """Shropshire's 2024 share of plans within 20 weeks, read back from the extract."""
    with (bundled.DATA_DIR / "timeliness_20_week.csv").open(encoding="utf-8") as fh:
        row = next(
            r
            for r in csv.DictReader(fh)
            if r["la_name"] == "Shropshire" and r["time_period"] == "2024"
        )
    view, _ = reporting.benchmark("ehcp_20wk", suppressed=True)
    assert view is not None
    la = next(r for r in view.rows if r.kind == "la")
    assert la.value == float(row["pc_plans_issued_within_20_weeks"])
    assert la.plans == int(row["plans_issued_den"])


def test_a_kpi_without_a_published_figure_says_so(reporting: Reporting) -> None:
    view, note = reporting.benchmark("eah_reach_slt", suppressed=True)
    assert view is None and "no comparable figure" in note
