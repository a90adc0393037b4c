"""Reporting's pure parts: cycle arithmetic, SVG charts, headline tiles and trends, the
insight summary, the quarterly return, the KPI gauges' bounded labels, and parsing DfE's
published files for the benchmark."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from datetime import date

import pytest

from contracts.kpi_dictionary import load_kpis
from contracts.snapshots import KpiValue
from services.reporting.benchmarks import parse_neighbours, parse_timeliness
from services.reporting.domain import dashboard, periods
from services.reporting.domain.chart_data import Bar, BarChart, LineChart, Series
from services.reporting.domain.exports import QUARTERLY_COLUMNS, Authority, quarterly_rows, to_csv
from services.reporting.domain.insight import build_insight, to_markdown
from services.reporting.domain.suppression import SuppressionPolicy, protect_kpi, unsuppressed
from services.reporting.metrics import gauge_values
from services.reporting.web.charts import bar_chart, line_chart
from tests.helpers import DFE_DIR

DICT = load_kpis()
POLICY = SuppressionPolicy()
DFE = DFE_DIR
SVG = "{http://www.w3.org/2000/svg}"


def rate(
    kpi: str,
    cycle: str,
    num: int,
    den: int,
    *,
    closed: bool = True,
    rev: int = 1,
    target: float | None = 65.0,
    breakdown: str = "all",
) -> KpiValue:
    value = round(100 * num / den, 1) if den else None
    goal = target if target is not None else DICT.kpis[kpi].standard
    rag = (
        "none"
        if value is None or goal is None
        else ("green" if value >= goal else "amber" if value >= goal - 5 else "red")
    )
    return KpiValue(
        kpi=kpi,
        cycle=cycle,
        cycle_kind=periods.kind_of(cycle),
        breakdown=breakdown,
        value=value,
        numerator=num,
        denominator=den,
        closed=closed,
        revision=rev if closed else 0,
        baseline=DICT.kpis[kpi].baseline,
        target=target,
        standard=DICT.kpis[kpi].standard,
        rag=rag,
        extra={
            "average_days": 150.0,
            "within_20_weeks": num,
            "weeks_20_to_52": den - num,
            "over_52_weeks": 0,
            "average_weeks": 21.4,
        },
    )


def count(kpi: str, n: int, breakdown: str = "all") -> KpiValue:
    return KpiValue(
        kpi=kpi, cycle="current", breakdown=breakdown, value=float(n), numerator=n, rag="none"
    )


def by_key(values: list[KpiValue]) -> dict[tuple[str, str], dashboard.Published]:
    return {(p.cycle, p.breakdown): p for p in protect_kpi(values, POLICY)}


# --- periods ----------------------------------------------------------------------------


def test_periods() -> None:
    assert periods.is_cycle("2026/27-Q3") and not periods.is_cycle("2026/28-Q3")
    assert not periods.is_cycle("2026-13") and periods.is_cycle("R12-2026-11")
    assert periods.bounds("2026/27-Q4") == (date(2027, 1, 1), date(2027, 3, 31))
    assert periods.months_in("2026/27-Q3") == ["2026-10", "2026-11", "2026-12"]
    assert periods.previous("2026/27-Q1") == "2025/26-Q4"
    assert periods.previous("2026-01") == "2025-12"
    assert periods.quarter_label(date(2026, 11, 27)) == "2026/27-Q3"
    assert periods.title("2026-10") == "October 2026"
    assert periods.title("2026/27-Q4") == "2026/27 Q4 (January to March 2027)"
    assert periods.title("2026/27-Q3") == "2026/27 Q3 (October to December 2026)"


# --- charts -----------------------------------------------------------------------------


def test_line_chart_is_accessible_svg() -> None:
    svg = line_chart(
        LineChart(
            title="EHC plans within 20 weeks by month",
            description="July 2026: 20.3%; August 2026: 34.6%",
            x_labels=["Jul 2026", "Aug 2026", "Sep 2026"],
            series=[
                Series("Actual", [20.3, None, 34.6]),
                Series("Trajectory", [None, 65.0, 65.0], dash="8 5", step=True),
            ],
            y_max=100.0,
            chart_id="t1",
        )
    )
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    assert root.get("aria-labelledby") == "t1-title t1-desc"
    assert root.find(f"{SVG}title").text == "EHC plans within 20 weeks by month"
    assert "34.6%" in root.find(f"{SVG}desc").text
    paths = [p for p in root.iter(f"{SVG}path") if p.get("fill") == "none"]
    assert len(paths) >= 3  # actual broken by the gap into two runs, plus the trajectory
    assert any(p.get("stroke-dasharray") == "8 5" for p in paths)


def test_bar_chart_escapes_and_scales() -> None:
    svg = bar_chart(
        BarChart(
            "Bench <2024>",
            "A & B",
            [Bar("A & B", 50.0, True), Bar("C", None)],
            x_max=100.0,
            reference=("England", 45.9),
        )
    )
    root = ET.fromstring(svg)
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "A & B" in texts and "no data" in texts and "England 45.9%" in texts


# --- tiles and trends -------------------------------------------------------------------


def test_tile_for_a_rate_shows_quarter_to_date_against_its_target() -> None:
    k = DICT.kpis["ehcp_20wk"]
    vals = by_key(
        [
            rate("ehcp_20wk", "2026/27-Q3", 36, 128, closed=False),
            rate("ehcp_20wk", "2026/27-Q2", 50, 173, target=None),
        ]
    )
    t = dashboard.tile("ehcp_20wk", k, vals, date(2026, 11, 27))
    assert t.value_text == "28.1%" and t.rag == "red" and t.rag_text == "Off target"
    assert t.target_text.startswith("65%") and t.baseline_text == "20%"
    assert t.standard_text == "90%" and t.data_date == "27 November 2026"
    assert t.trend is not None and t.trend.assessment == "worse"
    assert t.trend.text == "Down 0.8 points on Q2 26/27 (28.9%): worse"


def test_tile_for_a_count_compares_with_four_weeks_before() -> None:
    k = DICT.kpis["backlog_over_20wk"]
    vals = by_key([count("backlog_over_20wk", 89)])
    prev = protect_kpi([count("backlog_over_20wk", 70)], POLICY)[0]
    t = dashboard.tile(
        "backlog_over_20wk", k, vals, date(2026, 11, 27), previous_count=(date(2026, 10, 30), prev)
    )
    assert t.value_text == "89" and t.trend is not None
    assert t.trend.text == "Up 19 on 30 October 2026 (70): worse"


def test_tile_with_a_small_count_shows_the_symbol() -> None:
    k = DICT.kpis["open_caseload"]
    t = dashboard.tile("open_caseload", k, by_key([count("open_caseload", 3)]), date(2026, 5, 1))
    assert t.value_text == "<5" and t.value is None


def test_trend_view_marks_revisions_and_hides_small_numbers() -> None:
    k = DICT.kpis["ehcp_20wk"]
    values = [
        rate("ehcp_20wk", "2026-09", 18, 52, target=None),
        rate("ehcp_20wk", "2026-10", 21, 67, rev=2),
        rate("ehcp_20wk", "2026-11", 2, 3, closed=True),
    ]
    vals = by_key(values)
    first = {"2026-10": unsuppressed(rate("ehcp_20wk", "2026-10", 20, 66))}
    tv = dashboard.trend_view("ehcp_20wk", k, vals, "month", first_closed=first)
    assert [r.value_text for r in tv.rows] == ["34.6%", "31.3%", "c"]
    assert tv.rows[1].status == "revised (revision 2)"
    assert tv.revisions[0].before == "30.3%" and tv.revisions[0].after == "31.3%"
    assert tv.chart is not None
    root = ET.fromstring(line_chart(tv.chart))
    assert "Revised figure" in [t.text for t in root.iter(f"{SVG}text")]
    assert "November 2026: c" in root.find(f"{SVG}desc").text


def test_breakdown_tables_label_and_order_groups() -> None:
    k = DICT.kpis["ehcp_20wk"]
    vals = by_key(
        [
            rate("ehcp_20wk", "2026-10", 30, 60),
            rate("ehcp_20wk", "2026-10", 10, 20, breakdown="age_band=11-15"),
            rate("ehcp_20wk", "2026-10", 12, 25, breakdown="age_band=under-5"),
            rate("ehcp_20wk", "2026-10", 8, 15, breakdown="age_band=5-10"),
            rate("ehcp_20wk", "2026-10", 20, 40, breakdown="locality=market-drayton"),
            rate("ehcp_20wk", "2026-10", 10, 20, breakdown="primary_need=SLCN"),
        ]
    )
    tables = {t.dimension: t for t in dashboard.breakdown_tables(k, vals, "2026-10")}
    assert [r.label for r in tables["age_band"].rows] == ["Under 5", "5 to 10", "11 to 15"]
    assert [r.label for r in tables["locality"].rows] == ["Market Drayton", "Not recorded"]
    assert tables["primary_need"].rows[0].label.startswith("Speech, language")
    assert tables["locality"].total is not None and tables["locality"].total.value == "50.0%"


def test_benchmark_matches_dfe_area_names() -> None:
    rows = [
        ("Local authority", "Shropshire", 720, 37.2),
        ("National", "England", 90392, 45.9),
        ("Regional", "West Midlands", 9558, 41.0),
        ("Local authority", "Herefordshire, County of", 150, 60.0),
        ("Local authority", "Dorset", 585, 49.1),
    ]
    view = dashboard.benchmark_view(
        "Shropshire", "West Midlands", 2024, rows, ["Herefordshire", "Dorset", "Nowhere"]
    )
    named = {r.name: r.value for r in view.rows}
    assert named["Herefordshire"] == 60.0 and named["Nowhere"] is None
    assert view.neighbour_mean == 54.5 and view.rank == 3 and view.of == 3


# --- insight and quarterly return ------------------------------------------------------


def test_insight_summary_values_movement_exceptions_and_due() -> None:
    values = {
        "ehcp_20wk": by_key(
            [
                rate("ehcp_20wk", "2026-09", 18, 52, target=None),
                rate("ehcp_20wk", "2026-10", 21, 67),
            ]
        ),
    }
    counts = {
        "open_caseload": (
            protect_kpi([count("open_caseload", 343)], POLICY)[0],
            protect_kpi([count("open_caseload", 352)], POLICY)[0],
        ),
        "backlog_over_20wk": (protect_kpi([count("backlog_over_20wk", 3)], POLICY)[0], None),
    }
    alerts = [
        {
            "id": "al-1",
            "kind": "deterioration",
            "kpi": "ehcp_20wk",
            "title": "missed in Oct",
            "status": "open",
            "breakdown": "locality=wem",
            "opened_at": "2026-10-12T10:00:00Z",
            "level": 1,
            "levels": 4,
            "level_body": "WS3",
            "recovery_plan": {"due": "2026-11-02"},
        },
        {
            "id": "al-2",
            "kind": "deterioration",
            "kpi": "ehcp_20wk",
            "title": "old",
            "status": "resolved",
            "opened_at": "2026-08-01T10:00:00Z",
        },
        *[
            {
                "id": f"m{i}",
                "kind": "milestone",
                "opened_at": "2026-10-05T00:00:00Z",
                "facts": {"milestone": "final_plan", "milestone_kind": "slipped"},
            }
            for i in range(3)
        ],
    ]
    cases = [
        {"milestone": "final_plan", "due": "2026-12-01"},
        {"milestone": "final_plan", "due": "2026-11-01"},
    ]
    s = build_insight("2026-10", DICT, values, counts, alerts, cases, date(2026, 11, 27), POLICY)
    row = {k.kpi: k for k in s.kpis}
    assert row["ehcp_20wk"].value_text == "31.3%" and row["ehcp_20wk"].detail == "21 of 67"
    assert row["ehcp_20wk"].movement.text == "Down 3.3 points on September 2026 (34.6%): worse"
    assert row["open_caseload"].value_text == "343"
    assert row["backlog_over_20wk"].value_text == "<5"
    assert [e.id for e in s.exceptions] == ["al-1"] and s.exceptions[0].breakdown == "Wem"
    assert s.milestones == [("final plan: slipped", "<5")]  # counts of case alerts, suppressed
    due = " / ".join(d.what for d in s.due)
    assert "Recovery plan: missed in Oct" in due and "<5 open case(s)" in due
    md = to_markdown(s)
    assert (
        "| EHC plans issued within 20 weeks (including exceptions) (K1) | October 2026 | 31.3%"
        in md
    )
    assert "m0" not in md and "case-" not in md
    down = build_insight("2026-10", DICT, values, counts, None, None, None, POLICY)
    assert down.exceptions is None and any("alerts service" in n for n in down.notes)


def test_quarterly_return_layout() -> None:
    values = {
        "ehcp_20wk": by_key(
            [
                rate("ehcp_20wk", "2026/27-Q2", 50, 173, target=None),
                rate("ehcp_20wk", "2026/27-Q3", 3, 20, closed=False),
            ]
        )
    }
    counts = {
        ("open_caseload", "2026/27-Q2"): protect_kpi([count("open_caseload", 352)], POLICY)[0]
    }
    rows = quarterly_rows(
        ["2026/27-Q3", "2026/27-Q2"],
        DICT,
        values,
        counts,
        Authority("Shropshire", "E06000051"),
        date(2026, 11, 27),
    )
    text = to_csv(rows, QUARTERLY_COLUMNS)
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert list(parsed[0]) == list(QUARTERLY_COLUMNS)
    q2 = {r["kpi"]: r for r in parsed if r["quarter"] == "2026/27-Q2"}
    q3 = {r["kpi"]: r for r in parsed if r["quarter"] == "2026/27-Q3"}
    assert q2["ehcp_20wk"]["value"] == "28.9" and q2["ehcp_20wk"]["numerator"] == "50"
    assert q2["ehcp_20wk"]["baseline"] == "20" and q2["ehcp_20wk"]["status"] == "final"
    assert q3["ehcp_20wk"]["numerator"] == "c" and q3["ehcp_20wk"]["value"] == "c"
    # EES symbols exactly in every data cell: a figure or one of c, x, z, low, u
    for row in parsed:
        for name in ("value", "numerator", "denominator"):
            cell = row[name]
            assert cell in ("c", "x", "z", "low", "u") or float(cell) >= 0, (name, row)
    assert (
        q3["ehcp_20wk"]["trajectory_target"] == "65" and q3["ehcp_20wk"]["status"] == "provisional"
    )
    assert (
        q2["open_caseload"]["value"] == "352" and q2["open_caseload"]["status"] == "at quarter end"
    )
    assert parsed[0]["quarter"] == "2026/27-Q2"  # in time order
    # one row per KPI with a quarter cycle or a point-in-time measure, per quarter
    expected = sum(1 for k in DICT.kpis.values() if "quarter" in k.cycles or "current" in k.cycles)
    assert len(parsed) == 2 * expected


# --- gauges -----------------------------------------------------------------------------


def test_gauges_have_a_bounded_label_set() -> None:
    values = [rate("ehcp_20wk", f"2026-{m:02d}", 10, 30) for m in range(4, 11)]
    values += [
        rate("ehcp_20wk", "2026-11", 10, 30, closed=False),
        rate("ehcp_20wk", "2026/27-Q2", 10, 30),
        rate("ehcp_20wk", "2026/27-Q1", 10, 30),
        rate("ehcp_20wk", "2026/27-Q3", 12, 30, closed=False),
        rate("ehcp_20wk", "2026-10", 1, 3, breakdown="locality=wem"),
        count("open_caseload", 355),
    ]
    chosen = gauge_values(values, date(2026, 11, 27))
    assert sorted(v.cycle for v in chosen["ehcp_20wk"]) == ["2026-10", "2026/27-Q2", "current"]
    assert [v.value for v in chosen["ehcp_20wk"] if v.cycle == "current"] == [40.0]
    assert [v.cycle for v in chosen["open_caseload"]] == ["current"]


# --- DfE files --------------------------------------------------------------------------


def test_parse_neighbours_columns() -> None:
    text = "\ufeffShropshire,Dorset\nNorth Yorkshire,Somerset\nSomerset,Wiltshire\n"
    assert parse_neighbours(text.lstrip("\ufeff")) == {
        "Shropshire": ["North Yorkshire", "Somerset"],
        "Dorset": ["Somerset", "Wiltshire"],
    }


def test_parse_timeliness_keeps_the_all_plans_rows() -> None:
    header = (
        "time_period,time_identifier,geographic_level,country_code,country_name,"
        "region_code,region_name,new_la_code,old_la_code,la_name,breakdown_topic,"
        "breakdown,plans_issued_den,plans_issued_den_ex,plans_issued_within_20_weeks,"
        "plans_issued_20_weeks_ex,pc_plans_issued_within_20_weeks,"
        "PC_plans_issued_20_weeks_ex,plans_issued_gt_1_year"
    )
    rows = [
        "2024,Calendar year,National,E92000001,England,,,,,,All EHC plans issued,"
        "All EHC plans issued,90392,1,41488,1,45.9,46.1,x",
        "2024,Calendar year,Local authority,E92000001,England,E12000005,West Midlands,"
        "E06000051,893,Shropshire,All EHC plans issued,All EHC plans issued,720,700,268,"
        "255,37.2,36.5,30",
        "2024,Calendar year,Local authority,E92000001,England,E12000005,West Midlands,"
        "E06000051,893,Shropshire,Sex,Female,210,200,81,75,38.6,37.5,6",
    ]
    got = list(parse_timeliness("\n".join([header, *rows])))
    assert [(r["geographic_level"], r["area_name"]) for r in got] == [
        ("National", "England"),
        ("Local authority", "Shropshire"),
    ]
    assert got[0]["over_52_weeks"] is None and got[1]["pc_within_20_weeks"] == 37.2


@pytest.mark.skipif(not DFE.is_dir(), reason="DfE data not present in ../shared/data")
def test_the_published_neighbours_of_shropshire() -> None:
    n = parse_neighbours((DFE / "statistical-neighbours.csv").read_text(encoding="utf-8-sig"))
    assert len(n["Shropshire"]) == 10 and n["Shropshire"][0] == "North Yorkshire"
