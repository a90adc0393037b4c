"""The NHS rounding profile for health tables (counts 1-7 as "*", others rounded to the
nearest 5, zeros shown), selectable per KPI in suppression.yaml."""

from __future__ import annotations

from pathlib import Path

import yaml

from contracts.snapshots import KpiValue
from services.reporting.domain.rounding import round_kpi, rounded
from services.reporting.domain.suppression import RoundingProfile, SuppressionPolicy

FILE = Path(__file__).resolve().parents[2] / "contracts" / "suppression.yaml"
NHS = RoundingProfile()


def count(n: int, breakdown: str = "all") -> KpiValue:
    return KpiValue(
        kpi="advice_6wk_health",
        cycle="current",
        breakdown=breakdown,
        value=float(n),
        numerator=n,
        rag="none",
    )


def rate(num: int, den: int, breakdown: str = "all") -> KpiValue:
    return KpiValue(
        kpi="advice_6wk_health",
        cycle="2026-10",
        cycle_kind="month",
        breakdown=breakdown,
        value=round(100 * num / den, 1),
        numerator=num,
        denominator=den,
        closed=True,
        revision=1,
        rag="red",
    )


def test_counts_one_to_seven_are_hidden_and_the_rest_rounded_to_five() -> None:
    assert [rounded(n, NHS) for n in range(0, 9)] == [0] + [None] * 7 + [10]
    assert [rounded(n, NHS) for n in (12, 13, 17, 18, 352)] == [10, 15, 15, 20, 350]


def test_a_health_table_is_rounded_not_suppressed() -> None:
    out = {
        p.breakdown: p
        for p in round_kpi(
            [count(23), count(3, "locality=ludlow"), count(20, "locality=oswestry")], NHS
        )
    }
    assert (out["all"].numerator, out["all"].value) == (25, 25.0)
    assert out["locality=ludlow"].suppressed == {"numerator": "*", "value": "*"}
    assert out["locality=ludlow"].numerator is None
    assert out["locality=oswestry"].numerator == 20 and not out["locality=oswestry"].suppressed
    small, big = round_kpi([rate(4, 6), rate(40, 61, "locality=ludlow")], NHS)
    assert small.value is None and small.suppressed["value"] == "*" and small.rag == "none"
    assert (big.numerator, big.denominator, big.value) == (40, 60, 65.6)


def test_the_profile_is_selected_per_kpi_in_suppression_yaml() -> None:
    raw = yaml.safe_load(FILE.read_text())
    shipped = SuppressionPolicy.model_validate(raw)
    assert shipped.rounding_profiles["nhs"] == NHS
    assert shipped.rounding_for("advice_6wk_health") is None  # offered, not imposed
    chosen = SuppressionPolicy.model_validate(
        {**raw, "profile_by_kpi": {"advice_6wk_health": "nhs"}}
    )
    assert chosen.rounding_for("advice_6wk_health") == NHS
    assert chosen.rounding_for("ehcp_20wk") is None


def test_reporting_publishes_a_chosen_kpi_rounded(tmp_path: Path) -> None:
    """Through the reporting service over SQLite: the board sees the rounded table."""
    from contracts.kpi_dictionary import load_kpis
    from sendwatch.db import make_engine, migrate
    from services.reporting.adapters.repository import apply_snapshots
    from services.reporting.service import Reporting
    from tests.helpers import kpi_snapshot

    engine = make_engine(f"sqlite:///{tmp_path / 'reporting.db'}")
    migrate("reporting", engine)
    values = [rate(4, 6), rate(40, 61, "locality=ludlow")]
    snap = kpi_snapshot(1, values)
    apply_snapshots(engine, [snap])
    raw = yaml.safe_load(FILE.read_text())
    policy = SuppressionPolicy.model_validate(
        {**raw, "profile_by_kpi": {"advice_6wk_health": "nhs"}}
    )
    board = Reporting(engine, load_kpis(), policy).published("advice_6wk_health", True)
    ludlow = board[("2026-10", "locality=ludlow")]
    assert (ludlow.numerator, ludlow.denominator) == (40, 60)
    assert board[("2026-10", "all")].suppressed["value"] == "*"
    exact = Reporting(engine, load_kpis(), policy).published("advice_6wk_health", False)
    assert exact[("2026-10", "locality=ludlow")].denominator == 61
    engine.dispose()
