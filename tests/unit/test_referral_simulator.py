"""The simulated NHS community provider: deterministic, valid against the referral
contract, in time order, calibrated to the Reform Plan's baselines (waiting-list shares
within 18 weeks at the start, acceptance), and posted with its own key by the runner."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import date, datetime
from typing import Any

import httpx

from contracts.events import load_events
from services.ingest.sources.simulator import nhs
from services.ingest.sources.simulator.runner import run_simulation

START = date(2026, 4, 1)
STOPS = {
    **dict.fromkeys(("asd_0_5", "nd_6_18", "nd_19_25"), {"face_to_face", "video"}),
    **dict.fromkeys(("slt", "ot", "core_mh"), {"face_to_face", "video", "telephone"}),
}
EVENTS = [e.event for e in nhs.timed_events(7, START, date(2026, 7, 1))]


def waiting_share(events: list[dict[str, Any]], day: date) -> dict[str, tuple[int, float]]:
    """(waiting, % within 126 days) per service on ``day``, by the CHS definition."""
    received: dict[str, tuple[str, date]] = {}
    closed: set[str] = set()
    for e in events:
        d = datetime.fromisoformat(e["time"]).date()
        if d > day:
            continue
        data = e["data"]
        if e["type"] == "referral.received":
            received[e["subject"]] = (data["service"], d)
        elif (
            e["type"] == "referral.outcome"
            and data["outcome"] == "rejected"
            or e["type"] == "referral.discharged"
            or (
                e["type"] == "referral.contact"
                and data["attendance"] == "attended"
                and data["mechanism"] in STOPS[data["service"]]
            )
        ):
            closed.add(e["subject"])
    waits: dict[str, list[int]] = defaultdict(list)
    for subject, (service, d) in received.items():
        if subject not in closed:
            waits[service].append((day - d).days)
    return {s: (len(w), 100.0 * sum(x <= 126 for x in w) / len(w)) for s, w in waits.items() if w}


def test_the_stream_is_deterministic_valid_and_in_time_order() -> None:
    again = [e.event for e in nhs.timed_events(7, START, date(2026, 7, 1))]
    assert again == EVENTS
    other = [e.event for e in nhs.timed_events(8, START, date(2026, 7, 1))]
    assert other != EVENTS
    times = [datetime.fromisoformat(e["time"]) for e in EVENTS]
    assert times == sorted(times) and max(times) < datetime.fromisoformat("2026-07-01T00:00+00:00")
    reg = load_events()
    for e in EVENTS[::7]:
        reg.parse_event(e)  # the contract and the privacy guard accept it
    assert len({e["id"] for e in EVENTS}) == len(EVENTS)
    assert {e["source"] for e in EVENTS} == {"nhs-community"}
    kinds = Counter(e["type"] for e in EVENTS)
    # weeks ending 12 April to 28 June (the week of 29 June ends after the stream): 12 x 6
    assert kinds["referral.capacity.reported"] == 12 * 6


def test_the_waiting_list_starts_at_the_plan_baselines() -> None:
    # pooled over five seeds: each list is small enough for sampling noise to matter
    pooled: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for seed in range(1, 6):
        events = [e.event for e in nhs.timed_events(seed, START, START)]
        for service, (waiting, pc) in waiting_share(events, START).items():
            pooled[service][0] += waiting
            pooled[service][1] += waiting * pc / 100
    for service, baseline, tolerance in (
        ("slt", 60.0, 4.0),
        ("asd_0_5", 41.5, 5.0),
        ("nd_6_18", 9.0, 2.0),
        ("core_mh", 77.0, 5.0),
    ):
        waiting, within = pooled[service]
        assert abs(100 * within / waiting - baseline) <= tolerance, (service, waiting, within)
    assert waiting_share(EVENTS, START)["nd_6_18"][0] > 1000  # the largest list


def test_acceptance_is_calibrated_to_k7_and_k8() -> None:
    events = [e.event for e in nhs.timed_events(3, START, date(2027, 4, 1))]
    outcomes: dict[str, Counter[str]] = defaultdict(Counter)
    for e in events:
        if e["type"] == "referral.outcome" and e["time"] >= "2026-04":
            outcomes[e["data"]["service"]][e["data"]["outcome"]] += 1
    slt, ot = outcomes["slt"], outcomes["ot"]
    assert abs(100 * slt["accepted"] / slt.total() - 91.0) < 3.0
    assert abs(100 * ot["accepted"] / ot.total() - 96.0) < 3.0


async def test_the_runner_posts_the_provider_with_its_own_key() -> None:
    seen: Counter[tuple[str, str]] = Counter()

    def ingest(request: httpx.Request) -> httpx.Response:
        events = json.loads(request.content)["events"]
        for e in events:
            seen[(request.headers["Authorization"], e["source"])] += 1
        return httpx.Response(200, json={"accepted": len(events), "rejected": 0})

    await run_simulation(
        "http://ingest.test/",
        "case-key",
        seed=5,
        start=START,
        speed=86400.0 * 365,
        days=7,
        transport=httpx.MockTransport(ingest),
        tick=0.005,
        clock_key=None,
        nhs_key="nhs-key",
    )
    assert seen[("Bearer nhs-key", "nhs-community")] > 1000  # the opening list and a week
    assert seen[("Bearer case-key", "case-management")] > 0
    assert {src for (key, src) in seen if key == "Bearer nhs-key"} == {"nhs-community"}
