"""Tiles of any measure kind and the six headline metrics: a survey measured quarterly
shows its latest wave, a wave below its minimum responses says so, a target to be
established is said honestly, and each KPI lands in its headline by its fields."""

from __future__ import annotations

from datetime import date
from typing import Any

from contracts.kpi_dictionary import load_kpis
from contracts.snapshots import KpiValue
from services.reporting.domain import dashboard
from services.reporting.domain.suppression import Published

KPIS = load_kpis()


def pub(kpi: str, cycle: str, value: float | None, **kw: Any) -> Published:
    extra = kw.pop("extra", {})
    v = KpiValue(kpi=kpi, cycle=cycle, value=value, extra=extra, **kw)
    return Published(v, value, v.numerator, v.denominator, v.rag, extra)


def test_a_quarterly_wave_is_shown_though_the_first_cycle_kind_is_the_plan_year() -> None:
    k = KPIS.kpis["cyp_satisfaction"]
    values = {
        ("2026/27-Q2", "all"): pub(
            "cyp_satisfaction",
            "2026/27-Q2",
            66.0,
            denominator=132,
            extra={"responses": 132, "ci_low": 57.6, "ci_high": 73.5},
        )
    }
    t = dashboard.tile("cyp_satisfaction", k, values, date(2026, 11, 1))
    assert t.value_text == "66.0%" and "132 responses" in t.detail
    assert t.target_text == "To be established" and t.rag == "none"


def test_too_few_responses_is_not_a_score_and_a_future_cycle_is_not_picked() -> None:
    k = KPIS.kpis["parent_carer_satisfaction"]
    values = {
        ("2026/27", "all"): pub(
            "parent_carer_satisfaction",
            "2026/27",
            None,
            denominator=150,
            extra={"responses": 150, "too_few_responses": True},
        ),
        ("2027/28", "all"): pub("parent_carer_satisfaction", "2027/28", 70.0),
    }
    t = dashboard.tile("parent_carer_satisfaction", k, values, date(2026, 10, 1))
    assert t.value_text == "Withheld" and "too few responses" in t.detail


def test_the_latest_term_of_attendance_against_neighbours() -> None:
    k = KPIS.kpis["attendance_ehcp_vs_neighbours"]
    values = {
        (c, "all"): pub(
            "attendance_ehcp_vs_neighbours",
            c,
            v,
            extra={"figure": f, "reference": 86.4, "difference": round(f - 86.4, 2)},
        )
        for c, v, f in (("2025/26-T3", 99.4, 85.9), ("2026/27-T1", 99.9, 86.3))
    }
    t = dashboard.tile("attendance_ehcp_vs_neighbours", k, values, date(2027, 1, 20))
    assert t.value_text == "99.9%"
    assert t.period.startswith("autumn term 2026/27") and t.trend is not None


def test_every_headline_kpi_lands_in_one_of_the_six_headlines() -> None:
    assert len(KPIS.headlines) == 6
    tiles = [dashboard.tile(kpi, k, {}, None) for kpi, k in KPIS.kpis.items() if k.headline]
    groups = {g.id: g for g in dashboard.headline_groups(KPIS, tiles)}
    assert list(groups) == list(KPIS.headlines)  # the six, in the plan's order, each filled
    placed = {t.kpi for g in groups.values() for t in g.lagging + g.leading}
    assert placed == {t.kpi for t in tiles}
    assert [t.kpi for t in groups["attendance"].lagging][:1] == ["attendance_ehcp"]
    assert "persistent_absence_ehcp" in [t.kpi for t in groups["attendance"].leading]
    assert [t.kpi for t in groups["eah_reach"].lagging] == [
        "eah_reach_slt",
        "eah_reach_ot",
        "eah_reach_ep",
    ]
    assert "complaints_per_month" in [t.kpi for t in groups["satisfaction"].leading]
    assert groups["ehcp_timeliness"].lagging[0].kpi == "ehcp_20wk"
