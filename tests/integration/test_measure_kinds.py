"""Every measure kind on the real broker: a KPI of each kind, defined only in the fixture
YAML (``tests/fixtures/engine``: KPI, clock and event files, pointed to by the settings),
is computed from events posted to ingest, carried on three topics, consumed by
timeliness and published as KPI snapshots with value, target, goal, RAG and the cycle
history.  No kind has code of its own."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

import contracts
from tests import engine_fixture as fx
from tests.helpers import AUTH, OPERATIONAL, get_json, read_topic, wait_for

FIXTURE_KEY = "dev-fixture-feed-key"
CLOCK = {"Authorization": "Bearer dev-clock-key"}
FEED = {"Authorization": f"Bearer {FIXTURE_KEY}"}
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
    stack = stack_factory("timeliness", "ingest")
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
    lanes = 3 * 3  # three topics (case, referral, placement events), three partitions each
    wait_for(
        lambda: (
            get_json(t, "/v1/caseload", OPERATIONAL)["events_applied"] == len(posted) + 2 * lanes
        ),
        timeout=90,
    )
    assert get_json(t, "/v1/status", OPERATIONAL)["topics"] == [
        "case-events",
        "referral-events",
        "placement-events",
    ]

    def value(kpi: str, cycle: str, breakdown: str = "all") -> dict[str, Any]:
        rows = get_json(t, f"/v1/kpis?kpi={kpi}&cycle={cycle}&breakdown={breakdown}", OPERATIONAL)[
            "values"
        ]
        assert len(rows) == 1, (kpi, cycle, rows)
        return rows[0]

    v = value("fixture_slt_18wk", "2026/27-Q1")
    assert (v["numerator"], v["denominator"], v["extra"]["within_126_days"]) == (1, 2, 2)
    assert (v["goal_basis"], v["closed"], v["revision"]) == ("interpolated", True, 1)
    v = value("fixture_slt_waiting", "2026-04")  # the census at the end of April, closed
    assert (v["denominator"], v["numerator"], v["closed"]) == (3, 3, True)
    v = value("fixture_slt_waiting", "current")
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
