"""The simulated Experts at Hand and outcomes sources: every event is valid for the
registry and posted with its own source's key, and the year's figures match the Reform
Plan's baselines and trajectories."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import date
from typing import Any

import httpx

from contracts.events import load_events
from contracts.kpi_dictionary import load_kpis
from contracts.sources import load_sources
from services.ingest.sources.simulator import eah, outcomes
from services.ingest.sources.simulator.runner import run_simulation
from services.ingest.sources.simulator.streams import domain_streams

YEAR = (date(2026, 4, 1), date(2027, 4, 1))


def test_reach_in_the_first_plan_year_is_near_its_trajectory_target() -> None:
    kpis = load_kpis().kpis
    reached: dict[str, set[str]] = {}
    for item in eah.events(7, *YEAR):
        e = item.event
        if e["type"] == "eah.cyp.supported" and not e["data"]["has_ehcp"]:
            reached.setdefault(e["data"]["service"], set()).add(e["subject"])
    for service in ("slt", "ot", "ep"):
        target = kpis[f"eah_reach_{service}"].targets["2026/27"]
        assert 0.9 * target <= len(reached[service]) <= 1.1 * target, (service, target)


def test_outcome_figures_start_at_the_plan_baselines() -> None:
    first = {}
    for item in outcomes.events(7, *YEAR):
        d = item.event["data"]
        if item.event["type"] == "figure.reported" and d["area"] == "local":
            first.setdefault((d["measure"], d["cohort"]), d["value"])
    assert abs(first[("attendance", "ehcp")] - 84.8) < 0.5
    assert abs(first[("attendance", "sen-support")] - 90.2) < 0.5
    complaints = Counter(
        i.time.strftime("%Y-%m")
        for i in outcomes.events(7, *YEAR)
        if i.event["type"] == "complaint.received"
    )
    assert 6 <= sum(complaints.values()) / 12 <= 12  # about 10-11 a month at first


def test_the_runner_posts_each_source_with_its_own_key_and_every_event_is_valid() -> None:
    registry = load_events()
    sources = load_sources()
    seen: Counter[str] = Counter()

    def ingest(request: httpx.Request) -> httpx.Response:
        key = request.headers["authorization"].removeprefix("Bearer ")
        body: dict[str, Any] = json.loads(request.content)
        for event in body["events"]:
            if event["type"] == "clock.tick":
                continue
            source = sources.authenticate(key)
            assert source == event["source"], (source, event["source"])
            assert sources.sources[source].may_send(event["type"])
            registry.parse_event(event)
            seen[event["source"]] += 1
        return httpx.Response(200, json={"accepted": len(body["events"]), "rejected": 0})

    stats = asyncio.run(
        run_simulation(
            "http://ingest.test",
            "dev-case-management-key",
            start=date(2026, 9, 1),
            days=40,
            speed=86400.0 * 3650,
            transport=httpx.MockTransport(ingest),
            tick=0.005,
            clock_key=None,
            streams=domain_streams(),
        )
    )
    assert stats.rejected == 0
    assert seen["experts-at-hand"] > 500 and seen["outcomes"] > 100 and seen["case-management"]
