"""Reporting reads every measure kind from the dictionary and the snapshot fields: the
fixture KPIs (one of each kind, YAML only) as tiles, trends, breakdowns and gauges, with
their units, directions, goals, "to be established" targets and kind-specific detail,
and small-number suppression of that detail for the public view."""

from __future__ import annotations

from datetime import date
from typing import Any

from contracts.snapshots import KpiValue
from services.reporting.domain import dashboard, kinds, periods
from services.reporting.domain.suppression import SuppressionPolicy, protect_kpi, unsuppressed
from services.reporting.metrics import gauge_values
from tests import engine_fixture as fx

DICT = fx.dictionary()
POLICY = SuppressionPolicy()


def value(kpi: str, cycle: str, v: float | None, **kw: Any) -> KpiValue:
    k = DICT.kpis[kpi]
    base: dict[str, Any] = {
        "kpi": kpi,
        "cycle": cycle,
        "cycle_kind": periods.kind_of(cycle),
        "value": v,
        "kind": k.kind,
        "unit": k.unit,
        "direction": k.direction,
        "closed": cycle != "current",
        "revision": 0 if cycle == "current" else 1,
    }
    return KpiValue.model_validate(base | kw)


def shown(values: list[KpiValue]) -> dict[tuple[str, str], dashboard.Published]:
    return {(v.cycle, v.breakdown): unsuppressed(v) for v in values}


def test_figures_are_written_in_the_kpis_unit() -> None:
    assert kinds.fmt_value(28.125, "percent") == "28.1%"
    assert kinds.fmt_value(1234.0, "count") == "1,234"
    assert kinds.fmt_value(12.5, "days") == "12.5 days"
    assert kinds.fmt_value(0.25, "rate") == "0.25" and kinds.fmt_value(25.0, "rate") == "25"
    assert kinds.fmt_value(3.0, "score") == "3"


def test_the_headline_cycle_follows_the_kpis_cycles() -> None:
    today = date(2026, 11, 20)
    assert kinds.cycle_in_progress(DICT.kpis["fixture_slt_waiting"], today) == "current"
    assert kinds.cycle_in_progress(DICT.kpis["fixture_complaints"], today) == "2026/27-Q3"
    assert kinds.cycle_in_progress(DICT.kpis["fixture_eah_reach"], today) == "2026/27-T1"
    assert kinds.trend_kinds(DICT.kpis["fixture_eah_reach"]) == ["term", "plan_year"]


def test_a_target_to_be_established_shows_as_such_with_no_rag() -> None:
    k = DICT.kpis["fixture_eah_reach"]
    v = value("fixture_eah_reach", "2026/27-T1", 2.0, numerator=2, goal_basis="to_be_established")
    t = dashboard.tile("fixture_eah_reach", k, shown([v]), date(2026, 11, 20))
    assert (t.value_text, t.rag, t.target_text) == ("2", "none", "To be established")
    assert t.rag_text == "No RAG: target to be established"
    assert t.baseline_text == "to be set in Q2" and t.target_label == "Target this term"
    assert t.period.startswith("autumn term 2026/27")


def test_a_cap_an_interim_goal_and_a_rate() -> None:
    k = DICT.kpis["fixture_complaints"]
    values = [
        value("fixture_complaints", "2026/27-Q3", 12.0, numerator=12, rag="red", goal=10.0,
              goal_basis="standard", closed=False, revision=0),
        value("fixture_complaints", "2026/27-Q2", 9.0, numerator=9, rag="green", goal=10.0,
              goal_basis="standard"),
    ]  # fmt: skip
    t = dashboard.tile("fixture_complaints", k, shown(values), date(2026, 11, 20))
    assert t.target_text == "10 (the standard)" and t.rag_text == "Off target"
    assert t.trend is not None and t.trend.text == "Up 3 on Q2 26/27 (9): worse"
    k = DICT.kpis["fixture_tribunal_rate"]
    v = value("fixture_tribunal_rate", "2026/27-Q1", 25.0, numerator=1, denominator=4,
              extra={"per": 100}, goal=0.68, goal_basis="interpolated", rag="red")  # fmt: skip
    tv = dashboard.trend_view("fixture_tribunal_rate", k, shown([v]), "quarter")
    row = tv.rows[0]
    assert row.value_text == "25" and row.detail == "1 of 4"
    assert row.target_text == "0.68 (interim goal, interpolated from the baseline)"


def test_declared_breakdowns_phase_and_cohort_are_tables() -> None:
    k = DICT.kpis["fixture_eah_reach"]
    values = [
        value("fixture_eah_reach", "2026/27-T1", 7.0, numerator=7),
        value("fixture_eah_reach", "2026/27-T1", 4.0, numerator=4, breakdown="phase=primary"),
        value("fixture_eah_reach", "2026/27-T1", 3.0, numerator=3, breakdown="phase=secondary"),
    ]
    (table,) = dashboard.breakdown_tables(k, shown(values), "2026/27-T1", ["phase"])
    assert table.label == "Phase" and table.is_count
    assert [(r.label, r.numerator) for r in table.rows] == [("Primary", "4"), ("Secondary", "3")]
    k = DICT.kpis["fixture_attendance_ehcp"]
    v = value("fixture_attendance_ehcp", "2026/27-T1", 85.5, denominator=420,
              breakdown="cohort=ehcp")  # fmt: skip
    (table,) = dashboard.breakdown_tables(k, shown([v]), "2026/27-T1", ["cohort"])
    assert table.rows[0].label == "EHC plan" and table.rows[0].value == "85.5%"


def test_waiting_list_detail_is_labelled_and_its_small_counts_hidden_together() -> None:
    extra = {"waiting": 40, "within_threshold": 37, "over_threshold": 3,
             "band_0_7_days": 20, "band_8_14_days": 17, "band_127_364_days": 3,
             "mean_days": 30.5, "p92_weeks": 12.0}  # fmt: skip
    v = value("fixture_slt_waiting", "current", 92.5, numerator=37, denominator=40, extra=extra)
    labels = [kinds.extra_label(n) for n in kinds.detail_fields(unsuppressed(v))]
    assert "Waiting 127 to 364 days" in labels and "92th percentile wait (weeks)" in labels
    (p,) = protect_kpi([v], POLICY)
    assert p.suppressed["extra.band_127_364_days"] == "<5"
    assert p.suppressed["extra.band_0_7_days"] == "c"  # else the small band follows
    assert "extra.p92_weeks" not in p.suppressed and p.value == 92.5
    few = value("fixture_slt_waiting", "current", 100.0, numerator=3, denominator=3,
                extra={"mean_days": 12.0, "p50_days": 10})  # fmt: skip
    (p,) = protect_kpi([few], POLICY)
    assert p.suppressed["extra.mean_days"] == "c" and p.value is None


def test_a_reported_figure_has_no_counts_to_suppress() -> None:
    v = value("fixture_attendance_ehcp", "2026/27-T1", 3.0)  # no responses sent
    (p,) = protect_kpi([v], POLICY)
    assert p.value == 3.0 and not p.suppressed


def test_gauges_show_the_cycle_in_progress_and_the_latest_closed_term() -> None:
    values = [
        value("fixture_eah_reach", "2026/27-T1", 7.0, numerator=7),
        value("fixture_eah_reach", "2026/27-T2", 2.0, numerator=2, closed=False, revision=0),
        value("fixture_eah_reach", "2025/26-T3", 5.0, numerator=5),
    ]
    chosen = gauge_values(values, date(2027, 1, 20))
    assert sorted((v.cycle, v.value) for v in chosen["fixture_eah_reach"]) == [
        ("2026/27-T1", 7.0),
        ("current", 2.0),
    ]


def test_overview_groups_tiles_by_headline_metric() -> None:
    today = date(2026, 11, 20)
    tiles = [dashboard.tile(kpi, k, {}, today) for kpi, k in DICT.kpis.items() if k.headline]
    groups = {g.id: g for g in dashboard.headline_groups(DICT, tiles)}
    assert list(groups) == list(DICT.headlines)
    waits = groups["fixture_waits"]
    assert [t.kpi for t in waits.lagging] == ["fixture_slt_18wk"]
    assert [t.kpi for t in waits.leading] == ["fixture_slt_waiting", "fixture_referrals_accepted"]
