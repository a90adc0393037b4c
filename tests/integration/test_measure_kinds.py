"""Every measure kind on the real broker: a KPI of each kind, defined only in the fixture
YAML (``tests/fixtures/engine``: KPI, clock and event files, pointed to by the settings),
is computed from events posted to ingest, carried on three topics, consumed by
timeliness and published as KPI snapshots with value, target, goal, RAG and the cycle
history; reporting shows each on the dashboard (overview by headline metric, the KPI's
page with its RAG, trend and target, its declared breakdowns), in the insight summary,
the quarterly return and the KPI gauges.  No kind has code of its own."""

from __future__ import annotations

import csv
import hashlib
import io
import re
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

import contracts
from contracts.topics import load_topics
from services.reporting.domain import periods
from tests import engine_fixture as fx
from tests.helpers import AUTH, OPERATIONAL, get_json, read_topic, wait_for

FIXTURE_KEY = "dev-fixture-feed-key"
CLOCK = {"Authorization": "Bearer dev-clock-key"}
FEED = {"Authorization": f"Bearer {FIXTURE_KEY}"}
TIMELINESS = {"Authorization": "Bearer dev-timeliness-read-token"}  # role operational
D0 = date(2026, 4, 1)


def fixture_sources(tmp: Path) -> Path:
    """The development sources, and a fixture feed allowed to send fixture.* events."""
    raw = yaml.safe_load(Path(contracts.__file__).with_name("sources.yaml").read_text())
    raw["sources"][fx.SOURCE] = {
        "description": "Fixture feed for the measure-engine tests",
        "key_sha256": [hashlib.sha256(FIXTURE_KEY.encode()).hexdigest()],
        "event_types": ["fixture.*"],
    }
    path = tmp / "sources.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def events() -> list[dict[str, Any]]:
    """One scenario per kind (see tests/unit/test_measure_kinds.py for each on its own)."""
    e, d = fx.event, fx.days
    out = [
        # completed_within and waiting_list: SLT referrals (18-week RTT rules)
        e("fixture.referral.received", "ref-000001", D0, locality="ludlow", service="slt"),
        e(
            "fixture.referral.contact",
            "ref-000001",
            d(D0, 40),
            attendance="attended",
            mechanism="video",
        ),
        e("fixture.referral.received", "ref-000002", D0, locality="ludlow", service="slt"),
        e(
            "fixture.referral.contact",
            "ref-000002",
            d(D0, 85),
            attendance="attended",
            mechanism="face_to_face",
        ),
        e("fixture.referral.received", "ref-000003", d(D0, 20), locality="oswestry", service="slt"),
        # share_of_outcomes
        e("fixture.referral.triaged", "ref-000001", d(D0, 2), outcome="accepted"),
        e("fixture.referral.triaged", "ref-000002", d(D0, 2), outcome="rejected"),
        # event_count (a cap)
        *[
            e("fixture.complaint.received", f"cmp-{n:06d}", d(D0, n), locality="ludlow")
            for n in range(3)
        ],
        # distinct_subjects, termly (autumn term 2026/27)
        e(
            "fixture.eah.contact",
            "person-000001",
            date(2026, 9, 10),
            phase="primary",
            service="slt",
        ),
        e(
            "fixture.eah.contact",
            "person-000001",
            date(2026, 10, 1),
            phase="primary",
            service="slt",
        ),
        e(
            "fixture.eah.contact",
            "person-000002",
            date(2026, 11, 1),
            phase="secondary",
            service="slt",
        ),
        # cohort_share: 4 active EHC plans, one in an INMSS placement
        *[e("fixture.plan.started", f"person-{n:06d}", D0, cohort="ehcp") for n in range(10, 14)],
        e("fixture.placement.started", "person-000010", D0, setting="inmss"),
        # occupancy: 2 of 8 places filled
        e("fixture.capacity.commissioned", "svc-000001", D0, base="ludlow-base", places=8),
        *[
            e(
                "fixture.placement.started",
                f"person-{n:06d}",
                D0,
                setting="inclusion-base",
                base="ludlow-base",
            )
            for n in range(20, 22)
        ],
        # rate_per: one appeal against four final plans (a real EHCNA contract)
        *[
            e("ehc.plan.final-issued", f"case-{n:08d}", d(D0, n), **fx.case_data())
            for n in range(4)
        ],
        e("fixture.tribunal.appeal", "case-00000001", d(D0, 10)),
        # reported_figure: the latest report of the term wins
        e(
            "fixture.figure.reported",
            "fig-000001",
            date(2026, 12, 20),
            cohort="ehcp",
            measure="attendance",
            period="2026/27-T1",
            value=84.0,
            responses=400,
        ),
        e(
            "fixture.figure.reported",
            "fig-000001",
            date(2027, 1, 6),
            cohort="ehcp",
            measure="attendance",
            period="2026/27-T1",
            value=85.5,
            responses=420,
        ),
    ]
    return out


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_a_kpi_of_every_kind_defined_in_yaml_only(
    stack_factory: Any, broker: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENDWATCH_KPIS_FILE", str(fx.KPIS_FILE))
    monkeypatch.setenv("SENDWATCH_CLOCKS_FILE", str(fx.CLOCKS_FILE))
    monkeypatch.setenv("SENDWATCH_EVENTS_FILE", str(fx.EVENTS_FILE))
    monkeypatch.setenv("SENDWATCH_SOURCES_FILE", str(fixture_sources(tmp_path)))
    stack = stack_factory("timeliness", "ingest", "reporting")
    url = f"http://127.0.0.1:{stack.ports['ingest']}/v1/events"
    t = stack.ports["timeliness"]
    posted = events()
    for source in (fx.SOURCE, "case-management"):
        batch = [ev for ev in posted if ev["source"] == source]
        r = httpx.post(url, json=batch, headers=FEED if source == fx.SOURCE else AUTH)
        assert r.status_code == 200, r.text
    ticks = [fx.tick(D0 + timedelta(days=70)), fx.tick(date(2027, 1, 20))]
    for tick in ticks:
        assert httpx.post(url, json=[tick], headers=CLOCK).status_code == 200
    # Every tick is copied to every partition of every topic that carries a registered
    # type: the fixture's three topics and those of the shipped domain contracts.
    wait_for(lambda: get_json(t, "/v1/status", TIMELINESS)["topics"], timeout=60)
    consumed = get_json(t, "/v1/status", TIMELINESS)["topics"]
    assert consumed[0] == "case-events"
    assert {"referral-events", "placement-events"} <= set(consumed)
    catalogue = load_topics()
    lanes = sum(catalogue[alias].partitions for alias in consumed)
    wait_for(
        lambda: (
            get_json(t, "/v1/caseload", TIMELINESS)["events_applied"] == len(posted) + 2 * lanes
        ),
        timeout=90,
    )

    def value(kpi: str, cycle: str, breakdown: str = "all") -> dict[str, Any]:
        rows = get_json(t, f"/v1/kpis?kpi={kpi}&cycle={cycle}&breakdown={breakdown}", TIMELINESS)[
            "values"
        ]
        assert len(rows) == 1, (kpi, cycle, rows)
        return rows[0]

    v = value("fixture_slt_18wk", "2026/27-Q1")
    assert (v["numerator"], v["denominator"], v["extra"]["within_126_days"]) == (1, 2, 2)
    assert (v["goal_basis"], v["closed"], v["revision"]) == ("interpolated", True, 1)
    v = value("fixture_slt_waiting", "2026-04")  # the census at the end of April, closed
    assert (v["denominator"], v["numerator"], v["closed"]) == (3, 3, True)
    # The current position is recomputed at most every SENDWATCH_CENSUS_INTERVAL_S while
    # events stream, and caught up just after: it may lag the last batch by that long.
    v = wait_for(
        lambda: (
            c
            if (c := value("fixture_slt_waiting", "current"))["extra"]["band_127_364_days"] == 1
            else None
        ),
        timeout=20,
    )
    assert v["denominator"] == 1 and v["extra"]["band_127_364_days"] == 1  # ref 3, day 274
    v = value("fixture_referrals_accepted", "2026-04")
    assert (v["value"], v["goal"], v["rag"]) == (50.0, 91.0, "red")
    v = value("fixture_complaints", "2026-04")
    assert (v["value"], v["direction"], v["rag"]) == (3.0, "lower", "green")
    v = value("fixture_eah_reach", "2026/27-T1")
    assert (v["value"], v["goal_basis"], v["rag"]) == (2.0, "to_be_established", "none")
    v = value("fixture_inmss_share", "current")
    assert (v["numerator"], v["denominator"], v["value"]) == (1, 4, 25.0)
    v = value("fixture_base_occupancy", "2026-05", "base=ludlow-base")
    assert (v["numerator"], v["denominator"], v["value"]) == (2, 8, 25.0)
    v = value("fixture_tribunal_rate", "2026/27-Q1")
    assert (v["numerator"], v["denominator"], v["value"]) == (1, 4, 25.0)
    v = value("fixture_attendance_ehcp", "2026/27-T1")
    assert (v["value"], v["denominator"]) == (85.5, 420) and v["extra"]["ci_low"] < 85.5

    # the snapshots carry everything alerts and reporting render and judge each kind by
    snaps = read_topic(broker.bootstrap, "sendwatch.kpi-snapshots.v1", expect=1000, timeout=10)
    published = [v for s in snaps for v in s["data"]["values"]]
    kinds = {v["kind"] for v in published}
    assert kinds == {k.kind for k in fx.dictionary().kpis.values()}
    for v in published:
        assert v["unit"] and v["direction"] and "goal" in v and "rag" in v
        assert (v["closes_on"] is None) == (v["cycle"] == "current")
    months = {
        v["cycle"]
        for v in published
        if v["kpi"] == "fixture_slt_waiting" and v["cycle_kind"] == "month"
    }
    assert {"2026-04", "2026-05", "2026-12"} <= months  # the cycle history

    check_reporting(stack.ports["reporting"], t)


def _text(html: str) -> str:
    """A page's text, tags dropped and spaces collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def check_reporting(r: int, t: int) -> None:
    """Reporting renders every kind from the dictionary and the snapshot fields alone."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # reporting has every snapshot timeliness sent
        seq = get_json(t, "/v1/caseload", TIMELINESS)["sequence"]
        if get_json(r, "/v1/status", OPERATIONAL)["timeliness_sequence"] == seq:
            break
        time.sleep(0.25)
    dictionary = fx.dictionary()

    def page(path: str) -> str:
        resp = httpx.get(f"http://127.0.0.1:{r}{path}", headers=OPERATIONAL, timeout=30)
        assert resp.status_code == 200, (path, resp.status_code, resp.text[:500])
        return resp.text

    # the overview: each headline metric, its lagging and leading indicators side by side
    home = page("/")
    for hid, h in dictionary.headlines.items():
        section = home.split(f'data-headline="{hid}"')[1].split("</section>")[0]
        assert h.name in section
        lagging, leading = section.split('data-indicator="leading"')
        for kpi, k in dictionary.kpis.items():
            if k.headline == hid:
                assert f'data-kpi="{kpi}"' in (leading if k.indicator == "leading" else lagging)
    tiles = dict(re.findall(r'class="sw-tile__value" data-kpi="([a-z0-9_]+)">([^<]+)<', home))
    assert set(tiles) == set(dictionary.kpis)
    assert tiles["fixture_inmss_share"] == "25.0%"  # valued now (a census kind)
    assert tiles["fixture_slt_waiting"] == "0.0%"  # ref 3 waits past 18 weeks

    # each KPI's page: value, RAG, target (or "to be established"), trend of closed cycles
    expected = {  # kpi: (trend view, closed cycle, value shown, RAG shown, target shown)
        "fixture_slt_18wk": ("quarter", "2026/27-Q1", "50.0%", "Off target", "interpolated"),
        "fixture_slt_waiting": ("month", "2026-04", "100.0%", "On target", "the standard"),
        "fixture_referrals_accepted": ("month", "2026-04", "50.0%", "Off target", "91%"),
        "fixture_complaints": ("month", "2026-04", "3", "On target", "10 (the standard)"),
        "fixture_eah_reach": (
            "term",
            "2026/27-T1",
            "2",
            "No RAG: target to be established",
            "To be established",
        ),
        "fixture_inmss_share": ("month", "2026-04", "25.0%", "Off target", "9%"),
        "fixture_base_occupancy": ("month", "2026-05", "25.0%", "Off target", "95%"),
        "fixture_tribunal_rate": ("quarter", "2026/27-Q1", "25", "Off target", "interpolated"),
        "fixture_attendance_ehcp": ("term", "2026/27-T1", "85.5%", "Close to target", "87%"),
    }
    assert set(expected) == set(dictionary.kpis)
    for kpi, (view, cycle, shown, rag, target) in expected.items():
        api = get_json(t, f"/v1/kpis?kpi={kpi}&cycle={cycle}&breakdown=all", TIMELINESS)["values"][
            0
        ]
        html = page(f"/kpis/{kpi}?view={view}")
        assert dictionary.kpis[kpi].name in html and f'id="trend-{kpi}-title"' in html  # the chart
        title = re.escape(periods.title(cycle))
        row = re.search(rf'<tr><th scope="row">{title}</th>(.*?)</tr>', html)
        assert row is not None, (kpi, _text(html)[_text(html).find("Trend of closed") :][:900])
        cells = _text(row.group(1))
        assert cells.startswith(shown) and rag in cells and target in cells, (kpi, cells)
        assert (api["rag"] == "none") == rag.startswith("No RAG"), (kpi, api)
    reach = _text(page("/kpis/fixture_eah_reach?cycle=2026/27-T1"))
    assert "to be set in Q2" in reach  # the baseline still to be set
    assert "By phase" in reach and "Primary 1" in reach and "Secondary 1" in reach
    attendance = _text(page("/kpis/fixture_attendance_ehcp?cycle=2026/27-T1"))
    assert "By cohort" in attendance and "EHC plan" in attendance
    assert "95% interval, lower" in attendance
    waiting = _text(page("/kpis/fixture_slt_waiting?cycle=current"))
    assert "Waiting 127 to 364 days 1" in waiting and "Median wait (days)" in waiting
    assert "Better when lower (a cap)" in _text(page("/kpis/fixture_complaints"))

    # the insight summary, the quarterly return and the gauges carry every kind too
    insight = get_json(r, "/v1/reports/insight?month=2026-12&format=json", OPERATIONAL)
    assert {k["kpi"] for k in insight["kpis"]} == set(dictionary.kpis)

    def quarterly(quarter: str) -> dict[str, dict[str, str]]:
        resp = httpx.get(
            f"http://127.0.0.1:{r}/v1/exports/quarterly-return?quarter={quarter}",
            headers=OPERATIONAL,
            timeout=30,
        )
        assert resp.status_code == 200, resp.text
        return {row["kpi"]: row for row in csv.DictReader(io.StringIO(resp.text))}

    q1, q4 = quarterly("2026/27-Q1"), quarterly("2026/27-Q4")
    tribunal = q1["fixture_tribunal_rate"]  # 1 appeal: suppressed, like every kind
    assert (tribunal["unit"], tribunal["numerator"], tribunal["value"]) == ("rate", "c", "c")
    assert q1["fixture_complaints"]["direction"] == "lower"
    assert q4["fixture_inmss_share"]["status"] == "so far"  # valued now: at the quarter's end
    assert "fixture_eah_reach" not in q1  # termly and yearly only: not in a quarterly return
    metrics = httpx.get(f"http://127.0.0.1:{r}/metrics", timeout=10).text
    assert (
        'sendwatch_kpi_value{breakdown="all",cycle="2026/27-T1",kpi="fixture_attendance_ehcp"}'
        " 85.5" in metrics
    )
