"""The simulated county's Experts at Hand: requests, triage, first contacts, outcomes,
reach and weekly capacity, calibrated to the Reform Plan's baselines.

Reach (K13a-c): 1,914 children a year for SLT, 338 for OT and 1,045 for EP at the
baseline, growing 10% a year (the trajectory), spread over the school weeks; a child is
supported one to three times in a term.  Requests: about 11 a school day across the
services; triage takes a median of about 8 days, first contact about 18 (lognormal), so
most but not all requests are seen within the 4-week standard; outcomes: 55% resolved,
30% de-escalated, 15% escalated to a statutory route.  Capacity: sessions a week per
service, close to the demand waiting, so some weeks are over capacity (R16).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from datetime import date, timedelta

from contracts.localities import locality_names
from services.ingest.sources.simulator.model import TimedEvent
from services.ingest.sources.simulator.streams import Stream, at, days, poisson, sorted_until

SOURCE = "experts-at-hand"
DEV_KEY = "dev-experts-at-hand-key"
# CYP reached a year at the baseline (Reform Plan K13a-c), growing 10% a year from 2026/27
REACH = {"slt": 1914, "ot": 338, "ep": 1045}
REQUESTS_PER_DAY = {"slt": 5.0, "ot": 1.5, "ep": 4.0}  # school days
SESSIONS_PER_WEEK = {"slt": 110, "ot": 30, "ep": 75}
PHASES = (("early-years", 0.2), ("primary", 0.5), ("secondary", 0.25), ("post-16", 0.05))
OUTCOMES = (("resolved", 0.55), ("de-escalated", 0.30), ("escalated-statutory", 0.15))
SCHOOL_DAYS = 231  # the weekdays _school_day counts in a year
CONTACTS = 1.5  # contacts per child in the pool a year: 1 - e^-1.5 of the pool reached
SETTINGS = 240


def _pick(rng: random.Random, weights: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([w[0] for w in weights], [w[1] for w in weights])[0]


def _growth(day: date) -> float:
    years = (day - date(2026, 4, 1)).days / 365.25
    return float(1.1 ** max(0.0, years + 0.5))  # the plan year's reach ~ its trajectory target


def _school_day(day: date) -> bool:
    return day.weekday() < 5 and day.month != 8 and not (day.month == 12 and day.day > 20)


def events(seed: int, first: date, end: date) -> Iterator[TimedEvent]:
    rng = random.Random(f"eah-{seed}")
    places = sorted(locality_names() - {"unknown"})
    out: list[TimedEvent] = []
    n = 0

    def add(when_day: date, hour: int, etype: str, subject: str, data: dict[str, object]) -> None:
        nonlocal n
        n += 1
        when = at(when_day, hour, rng)
        event = {
            "id": f"sim-eah-{seed}-{n:09d}",
            "source": SOURCE,
            "type": etype,
            "subject": subject,
            "time": when.isoformat(),
            "data": data,
        }
        out.append(TimedEvent(when, event))

    cyp_place: dict[str, tuple[str, str]] = {}
    for day in days(first, end):
        if day.weekday() == 0:
            for i, (service, sessions) in enumerate(SESSIONS_PER_WEEK.items()):
                add(
                    day,
                    7,
                    "eah.capacity.reported",
                    f"capacity-{i + 1:04d}",
                    {"service": service, "sessions": round(sessions * _growth(day) ** 0.5)},
                )
        if not _school_day(day):
            continue
        for service, per_day in REQUESTS_PER_DAY.items():
            for _ in range(poisson(rng, per_day * _growth(day) ** 0.5)):
                n += 1
                subject = f"eah-{seed:04d}{n:08d}"
                locality = rng.choice(places)
                phase = _pick(rng, PHASES)
                add(
                    day,
                    9,
                    "eah.request.received",
                    subject,
                    {
                        "service": service,
                        "requester": "setting" if rng.random() < 0.7 else "family",
                        "phase": phase,
                        "locality": locality,
                        "tier": rng.choice(["core", "core", "targeted", "targeted-plus"]),
                    },
                )
                triage = max(0, round(math.exp(rng.gauss(math.log(8), 0.6))))
                contact = triage + max(1, round(math.exp(rng.gauss(math.log(12), 0.6))))
                outcome = contact + rng.randint(20, 90)
                add(day + timedelta(triage), 11, "eah.request.triaged", subject, {})
                add(
                    day + timedelta(contact),
                    14,
                    "eah.request.first-contact",
                    subject,
                    {"mode": rng.choice(["consultation", "targeted-intervention"])},
                )
                add(
                    day + timedelta(outcome),
                    15,
                    "eah.request.outcome",
                    subject,
                    {"outcome": _pick(rng, OUTCOMES)},
                )
                add(day + timedelta(outcome + 2), 16, "eah.request.closed", subject, {})
        for service, per_year in REACH.items():
            # children reached ~ the target: a pool drawn CONTACTS times over a year
            pool = round(per_year * _growth(day) / (1 - math.exp(-CONTACTS)) / 0.96)
            for _ in range(poisson(rng, CONTACTS * pool / SCHOOL_DAYS)):
                year = day.year if day.month >= 4 else day.year - 1
                child = f"cyp-{seed:04d}{year:04d}{rng.randrange(pool):06d}"
                locality, phase = cyp_place.setdefault(
                    child, (rng.choice(places), _pick(rng, PHASES))
                )
                add(
                    day,
                    13,
                    "eah.cyp.supported",
                    child,
                    {
                        "service": service,
                        "phase": phase,
                        "locality": locality,
                        "has_ehcp": rng.random() < 0.04,
                    },
                )
        for _ in range(poisson(rng, SETTINGS * 0.8 * 3 / SCHOOL_DAYS)):
            setting = rng.randrange(SETTINGS)
            add(
                day,
                10,
                "eah.setting.supported",
                f"setting-{seed:04d}{setting:05d}",
                {
                    "service": rng.choice(list(REACH)),
                    "phase": PHASES[setting % 4][0],
                    "locality": places[setting % len(places)],
                },
            )
    yield from sorted_until(out, end)


STREAM = Stream("experts-at-hand", DEV_KEY, events)
