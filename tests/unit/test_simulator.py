"""The simulated county: determinism, contract validity, calibration, and the runner."""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from contracts.case_events import parse_case_event
from contracts.privacy import find_personal_data
from services.ingest.sources.simulator.model import (
    STATUTORY_DAYS,
    EventDict,
    SimConfig,
    generate_cases,
    timely_share,
)
from services.ingest.sources.simulator.runner import (
    SimClock,
    SimulatorError,
    run_simulation,
    sim_now,
)

SEED = 42
START = date(2026, 4, 1)
END = date(2027, 4, 1)
START_DT = datetime(2026, 4, 1, tzinfo=UTC)
KEY = "dev-case-management-key"


def _t(event: EventDict) -> datetime:
    return datetime.fromisoformat(event["time"])


@pytest.fixture(scope="module")
def year() -> list[EventDict]:
    return list(generate_cases(SEED, START, END))


@pytest.fixture(scope="module")
def by_case(year: list[EventDict]) -> dict[str, list[EventDict]]:
    cases: dict[str, list[EventDict]] = defaultdict(list)
    for event in year:
        cases[event["subject"]].append(event)
    return cases


def _in_year(event: EventDict) -> bool:
    return START_DT <= _t(event) < START_DT + timedelta(days=365)


def _quarter_timeliness(
    year: list[EventDict], by_case: dict[str, list[EventDict]], quarter: int
) -> float:
    lo = START_DT + timedelta(days=91 * quarter)
    hi = lo + timedelta(days=91)
    on_time = total = 0
    for event in year:
        if event["type"] != "ehc.plan.final-issued" or not lo <= _t(event) < hi:
            continue
        request = next(e for e in by_case[event["subject"]] if e["type"] == "ehc.request.received")
        total += 1
        on_time += (_t(event).date() - _t(request).date()).days <= STATUTORY_DAYS
    assert total > 100
    return 100.0 * on_time / total


# ------------------------------------------------------------------------ determinism


def test_same_seed_gives_byte_identical_events(year: list[EventDict]) -> None:
    again = list(generate_cases(SEED, START, END))
    assert json.dumps(again).encode() == json.dumps(year).encode()


def test_different_seed_gives_different_events(year: list[EventDict]) -> None:
    other = list(generate_cases(SEED + 1, START, START + timedelta(days=30)))
    ids = {e["id"] for e in year}
    assert other
    assert not ids & {e["id"] for e in other}
    assert {e["subject"] for e in year}.isdisjoint({e["subject"] for e in other})


def test_a_shorter_window_gives_the_same_events(year: list[EventDict]) -> None:
    """A case's events do not depend on the window asked for."""
    month = list(generate_cases(SEED, START, START + timedelta(days=30)))
    assert month
    year_by_id = {e["id"]: e for e in year}
    for event in month:
        assert year_by_id[event["id"]] == event


def test_event_ids_are_unique(year: list[EventDict]) -> None:
    assert len({e["id"] for e in year}) == len(year)


# --------------------------------------------------------------------------- contract


def test_every_event_validates_against_the_contract(year: list[EventDict]) -> None:
    types: Counter[str] = Counter()
    for raw in year:
        event = parse_case_event(raw)
        assert event.source == "case-management"
        assert event.time.utcoffset() == timedelta(0)
        assert raw["time"].endswith("+00:00")
        assert re.fullmatch(r"case-[0-9a-f]{12}", event.subject)
        assert re.fullmatch(r"p-[0-9a-f]{12}", event.data.person_id)
        types[event.type] += 1
    assert {
        "ehc.request.received",
        "ehc.need.recorded",
        "ehc.assessment.decision-to-assess",
        "ehc.advice.requested",
        "ehc.advice.received",
        "ehc.exception.started",
        "ehc.exception.ended",
        "ehc.plan.draft-issued",
        "ehc.assessment.decision",
        "ehc.plan.final-issued",
        "ehc.case.transferred-in",
        "ehc.plan.ceased",
    } <= set(types)


def test_events_carry_no_personal_data(year: list[EventDict]) -> None:
    assert all(find_personal_data(e) is None for e in year)


def test_breakdown_attributes_are_consistent(year: list[EventDict]) -> None:
    phase_of = {
        "under-5": "early-years",
        "5-10": "primary",
        "11-15": "secondary",
        "16-19": "post-16",
        "20-25": "post-19",
    }
    requests = [e["data"] for e in year if e["type"] == "ehc.request.received"]
    for d in requests:
        assert phase_of[d["age_band"]] == d["phase"]
        assert d["primary_need"] and d["setting_type"] and d["sex"] in ("M", "F")
    n = len(requests)
    localities = Counter(d["locality"] for d in requests)
    assert localities.most_common(1)[0][0] == "shrewsbury"
    assert set(localities) <= {
        "shrewsbury",
        "oswestry",
        "ellesmere",
        "whitchurch",
        "market-drayton",
        "bridgnorth",
        "ludlow",
        "church-stretton",
        "shifnal",
        "wem",
    }
    needs = Counter(d["primary_need"] for d in requests)
    assert 0.28 < needs["ASD"] / n < 0.42
    assert needs.most_common(1)[0][0] == "ASD"
    assert 0.60 < sum(d["sex"] == "M" for d in requests) / n < 0.74
    ages = Counter(d["age_band"] for d in requests)
    assert ages["5-10"] + ages["11-15"] > 0.6 * n


# ---------------------------------------------------------------------------- order


def test_stream_is_sorted_and_each_case_is_in_causal_order(
    year: list[EventDict], by_case: dict[str, list[EventDict]]
) -> None:
    times = [_t(e) for e in year]
    assert times == sorted(times)
    for subject, events in by_case.items():
        case_times = [_t(e) for e in events]
        assert all(a < b for a, b in zip(case_times, case_times[1:], strict=False)), subject
        types = [e["type"] for e in events]
        assert types[0] in ("ehc.request.received", "ehc.case.transferred-in"), subject
        if "ehc.plan.final-issued" in types:
            final = types.index("ehc.plan.final-issued")
            decision = events[final - 1]
            assert decision["type"] == "ehc.assessment.decision"
            assert decision["data"]["outcome"] == "Y"
            assert types.index("ehc.plan.draft-issued") < final
            assert _t(events[final]) - _t(events[types.index("ehc.plan.draft-issued")]) >= (
                timedelta(days=13)
            )
        for giver in ("education", "ep", "health", "social_care"):
            requested = [
                i
                for i, e in enumerate(events)
                if e["type"] == "ehc.advice.requested" and e["data"]["advice_giver"] == giver
            ]
            received = [
                i
                for i, e in enumerate(events)
                if e["type"] == "ehc.advice.received" and e["data"]["advice_giver"] == giver
            ]
            assert len(received) <= len(requested) <= 1
            if received:
                assert requested[0] < received[0]
        if "ehc.exception.ended" in types:  # (a case may be cut off by the window's end)
            assert types.index("ehc.exception.started") < types.index("ehc.exception.ended")


# ---------------------------------------------------------------------- calibration


def test_yearly_volumes_match_shropshire(year: list[EventDict]) -> None:
    in_year = Counter(e["type"] for e in year if _in_year(e))
    assert 750 <= in_year["ehc.request.received"] <= 950
    assert 700 <= in_year["ehc.plan.final-issued"] <= 800


def test_decision_to_assess_mostly_within_six_weeks(
    by_case: dict[str, list[EventDict]],
) -> None:
    within = total = 0
    outcomes: Counter[str] = Counter()
    for events in by_case.values():
        if events[0]["type"] != "ehc.request.received" or not _in_year(events[0]):
            continue
        decision = next(
            (e for e in events if e["type"] == "ehc.assessment.decision-to-assess"), None
        )
        if decision is None:
            continue
        total += 1
        outcomes[decision["data"]["outcome"]] += 1
        within += (_t(decision).date() - _t(events[0]).date()).days <= 42
    assert 0.62 < within / total < 0.80
    assert outcomes["Y"] > outcomes["N"] > outcomes["W"] > 0


def test_twenty_week_timeliness_starts_low_and_improves(
    year: list[EventDict], by_case: dict[str, list[EventDict]]
) -> None:
    first = _quarter_timeliness(year, by_case, 0)
    last = _quarter_timeliness(year, by_case, 3)
    assert 15.0 <= first <= 30.0
    assert last >= first + 20.0


def test_timely_share_curve() -> None:
    config = SimConfig()
    assert timely_share(START - timedelta(days=30), START, config) == pytest.approx(0.20)
    assert timely_share(START, START, config) == pytest.approx(0.20)
    assert timely_share(START + timedelta(days=365), START, config) == pytest.approx(0.70)
    shares = [timely_share(START + timedelta(days=d), START, config) for d in range(0, 400, 20)]
    assert shares == sorted(shares)
    linear = replace(config, improvement_curve="linear")
    assert timely_share(START + timedelta(days=73), START, linear) == pytest.approx(0.30)


def test_config_rejects_inconsistent_rates() -> None:
    with pytest.raises(ValueError):
        SimConfig(p_assess=0.9, p_not_assess=0.2)
    with pytest.raises(ValueError):
        SimConfig(baseline_timely=1.5)


# --------------------------------------------------------------------------- runner


class FakeIngest:
    """Answers like ingest; fails the first ``failures`` requests with ``fail``."""

    def __init__(self, failures: int = 0, fail: str = "503") -> None:
        self.failures = failures
        self.fail = fail
        self.calls: list[list[str]] = []
        self.times: list[datetime] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/events"
        assert request.headers["authorization"] == f"Bearer {KEY}"
        events: list[dict[str, Any]] = json.loads(request.content)["events"]
        self.calls.append([e["id"] for e in events])
        if len(self.calls) <= self.failures:
            if self.fail == "connect":
                raise httpx.ConnectError("connection refused", request=request)
            return httpx.Response(503, json={"error": "broker_unavailable"})
        self.times.extend(datetime.fromisoformat(e["time"]) for e in events)
        return httpx.Response(200, json={"accepted": len(events), "rejected": 0})


async def _run(ingest: FakeIngest, **kwargs: Any) -> Any:
    options: dict[str, Any] = {
        "seed": SEED,
        "start": START,
        "speed": 86400.0 * 365,
        "days": 3,
        "transport": httpx.MockTransport(ingest),
        "retry_delay": 0.001,
        "tick": 0.005,
        "clock_key": None,
    }
    options.update(kwargs)
    return await run_simulation("http://ingest.test/", KEY, **options)


async def test_runner_resends_the_same_ids_after_503_and_stops_after_days() -> None:
    ingest = FakeIngest(failures=1)
    stats = await asyncio.wait_for(_run(ingest), timeout=20)
    assert ingest.calls[0] == ingest.calls[1]  # the retry re-sends the very same batch
    assert stats.retries == 1
    delivered = [i for call in ingest.calls[1:] for i in call]
    assert len(delivered) == len(set(delivered)) == stats.posted == stats.accepted
    expected = [e["id"] for e in generate_cases(SEED, START, START + timedelta(days=3))]
    assert sorted(delivered) == sorted(expected)  # nothing lost, nothing extra
    end = START_DT + timedelta(days=3)
    assert stats.sim_time == end == sim_now()
    assert max(ingest.times) < end
    assert stats.backfilled == sum(t < START_DT for t in ingest.times) > 0
    assert all(len(call) <= 500 for call in ingest.calls)


async def test_runner_waits_for_ingest_that_starts_late() -> None:
    ingest = FakeIngest(failures=3, fail="connect")
    stats = await asyncio.wait_for(_run(ingest, batch_size=200), timeout=20)
    assert ingest.calls[0] == ingest.calls[1] == ingest.calls[2] == ingest.calls[3]
    assert stats.retries == 3
    assert stats.unsent == 0
    assert stats.posted == stats.accepted == len({i for call in ingest.calls for i in call})


async def test_runner_stops_when_stop_event_is_set() -> None:
    ingest = FakeIngest()
    stop = asyncio.Event()
    stats = await asyncio.wait_for(
        _run(
            ingest,
            days=None,
            speed=3600.0,
            stop_event=stop,
            on_progress=lambda s: stop.set() if s.batches >= 2 else None,
        ),
        timeout=20,
    )
    assert stats.batches == 2
    assert stats.sim_time is not None and stats.sim_time < START_DT + timedelta(days=1)


async def test_runner_gives_up_on_an_unknown_key() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": "unauthenticated"})

    with pytest.raises(SimulatorError):
        await run_simulation(
            "http://ingest.test", "wrong", days=1, transport=httpx.MockTransport(refuse)
        )


def test_sim_clock_runs_accelerated_and_stops_at_end() -> None:
    real = [100.0]
    clock = SimClock(
        START_DT, speed=86400.0 * 2, end=START_DT + timedelta(days=10), monotonic=lambda: real[0]
    )
    assert clock.now() == START_DT  # not started yet
    clock.begin()
    real[0] += 1.5
    assert clock.now() == START_DT + timedelta(days=3)
    real[0] += 100
    assert clock.now() == START_DT + timedelta(days=10)
    clock.freeze()
    real[0] += 100
    assert clock.now() == START_DT + timedelta(days=10)


async def test_runner_posts_a_tick_after_each_simulated_day() -> None:
    posts: list[tuple[str, list[dict[str, Any]]]] = []

    def ingest(request: httpx.Request) -> httpx.Response:
        events = json.loads(request.content)["events"]
        posts.append((request.headers["authorization"], events))
        return httpx.Response(200, json={"accepted": len(events), "rejected": 0})

    stats = await asyncio.wait_for(
        run_simulation(
            "http://ingest.test",
            KEY,
            seed=SEED,
            start=START,
            speed=86400.0 * 365,
            days=3,
            transport=httpx.MockTransport(ingest),
            tick=0.005,
            clock_key="dev-clock-key",
        ),
        timeout=20,
    )
    ticks = [
        (i, e) for i, (auth, evs) in enumerate(posts) for e in evs if e["type"] == "clock.tick"
    ]
    assert stats.ticks == len(ticks) == 3
    assert all(posts[i][0] == "Bearer dev-clock-key" for i, _ in ticks)
    assert all(e["source"] == "clock" for _, e in ticks)
    # every case event of a day is posted before that day's tick
    for index, tick in ticks:
        tick_time = datetime.fromisoformat(tick["time"])
        later = [e for _, evs in posts[index + 1 :] for e in evs if e["type"] != "clock.tick"]
        assert all(datetime.fromisoformat(e["time"]) > tick_time for e in later)
