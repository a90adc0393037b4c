"""The simulated NHS community provider: a deterministic, seeded stream of referrals,
care contacts and weekly capacity, posted as the ``nhs-community`` source.

Calibrated to the Reform Plan's baselines.  For a steady waiting list whose waits to
the clock-stopping contact are exponential with mean ``m`` days, the share of those
waiting at census who have waited 126 days or less is ``1 - exp(-126 / m)``; each
pathway's ``m`` is set from its baseline (SLT 60%, ASD 0-5 41.5%, ND 6-18 9%, core MH
77%; OT and ND 19-25 have no plan baseline: 85% and 30% are assumed).  The waiting list
open at the start is drawn from that steady state (memoryless: its age and remaining
wait are both exponential), so the first census already sits at the baseline.
Acceptance: SLT 91% and OT 96% (K7, K8); other pathways 95%.  A did-not-attend at the
first appointment (8%) is rebooked; ND pathways often start with a telephone call,
which does not stop their clock.  Weekly capacity per service: sessions delivered
85-99% of those commissioned, first-appointment slots 80-105% of the week's demand,
so R5's capacity measures miss in some weeks and not in others.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from contracts.localities import locality_order
from contracts.plausibility import load_window
from services.ingest.sources.simulator.model import (
    PHASE_OF_AGE,
    EventDict,
    Queued,
    TimedEvent,
    release,
)

SOURCE = "nhs-community"
DEV_KEY = "dev-nhs-community-key"
THRESHOLD = 126


@dataclass(frozen=True)
class Pathway:
    service: str
    per_week: float  # referrals received a week
    within_18wk: float  # the share of the waiting list within 18 weeks at baseline
    accepted: float  # the share of referrals accepted
    age_bands: tuple[str, ...]
    sessions: int  # sessions commissioned a week
    funded_wte: float

    @property
    def mean_wait(self) -> float:
        return -THRESHOLD / math.log(1.0 - self.within_18wk)


# Referral rates are illustrative (the plan gives none): low enough for `sendwatch up` on
# a laptop; the waiting-list shares depend only on the waits, not on the rates.
PATHWAYS = (
    Pathway("slt", 12, 0.60, 0.91, ("under-5", "5-10", "11-15"), 120, 6.0),
    Pathway("ot", 5, 0.85, 0.96, ("under-5", "5-10", "11-15", "16-19"), 50, 2.6),
    Pathway("asd_0_5", 3, 0.415, 0.95, ("under-5",), 30, 2.0),
    Pathway("nd_6_18", 8, 0.09, 0.95, ("5-10", "11-15", "16-19"), 60, 4.0),
    Pathway("nd_19_25", 2, 0.30, 0.95, ("16-19", "20-25"), 12, 1.0),
    Pathway("core_mh", 6, 0.77, 0.95, ("5-10", "11-15", "16-19"), 70, 5.0),
)
ND = frozenset({"asd_0_5", "nd_6_18", "nd_19_25"})
SOURCES = ("gp", "school", "early_years", "health_visitor", "paediatrics", "eah", "family_hub")
MAX_AGE_DAYS = 2000  # the oldest wait in the opening list (about 5.5 years)


def _at(day: date, seconds: int) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC) + timedelta(seconds=seconds)


def _poisson(rng: random.Random, lam: float) -> int:
    if lam > 50:  # the normal approximation (exp(-lam) would underflow)
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    k, p, limit = 0, 1.0, math.exp(-lam)
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


class _Referral:
    def __init__(self, seed: int, rng: random.Random, path: Pathway, n: str) -> None:
        self.seed, self.rng, self.path, self.n = seed, rng, path, n
        band = rng.choice(path.age_bands)
        self.subject = f"ref-{rng.getrandbits(48):012x}"
        self.attrs: dict[str, Any] = {
            "person_id": f"p-{rng.getrandbits(48):012x}",
            "service": path.service,
            "locality": rng.choice(locality_order()),
            "age_band": band,
            "sex": rng.choice("MF"),
            "phase": PHASE_OF_AGE[band],
        }
        self.out: list[tuple[datetime, str, int, EventDict]] = []

    def event(self, day: date, etype: str, **data: Any) -> None:
        k = len(self.out)
        t = _at(day, 8 * 3600 + self.rng.randrange(8 * 3600) + k)
        ev: EventDict = {
            "id": f"sim-nhs-{self.seed}-{self.n}-{k}",
            "source": SOURCE,
            "type": etype,
            "subject": self.subject,
            "time": t.isoformat(),
            "data": {**self.attrs, **data},
        }
        self.out.append((t, self.subject, k, ev))


def _referral(
    seed: int, path: Pathway, received: date, n: str, first_wait: float | None = None
) -> list[tuple[datetime, str, int, EventDict]]:
    """One referral's events; ``first_wait``: days from receipt to the clock-stopping
    contact (drawn when None)."""
    rng = random.Random(f"{seed}|nhs|{n}")
    r = _Referral(seed, rng, path, n)
    r.event(
        received,
        "referral.received",
        source_of_referral=rng.choice(SOURCES),
        priority="urgent" if rng.random() < 0.08 else "routine",
    )
    if rng.random() > path.accepted:
        r.event(
            received + timedelta(rng.randint(2, 14)),
            "referral.outcome",
            outcome="rejected",
            reason="not_appropriate",
        )
        return r.out
    r.event(
        received + timedelta(rng.randint(1, 10)),
        "referral.outcome",
        outcome="accepted",
        reason="appropriate",
    )
    r.event(received + timedelta(int(rng.expovariate(1 / 9))), "referral.triaged")
    wait = first_wait if first_wait is not None else rng.expovariate(1 / path.mean_wait)
    stop = received + timedelta(days=max(1, int(wait)))
    if path.service in ND and rng.random() < 0.3 and (stop - received).days > 20:
        r.event(
            received + timedelta(rng.randint(7, 20)),
            "referral.contact",
            attendance="attended",
            mechanism="telephone",
        )
    if rng.random() < 0.08:
        r.event(stop, "referral.contact", attendance="dna", mechanism="face_to_face")
        stop = stop + timedelta(days=max(1, int(rng.expovariate(1 / 21))))
    mechanisms: tuple[str, ...] = ("face_to_face", "face_to_face", "video")
    if path.service not in ND:
        mechanisms += ("telephone",)
    r.event(stop, "referral.contact", attendance="attended", mechanism=rng.choice(mechanisms))
    if path.service in ND:
        r.event(stop + timedelta(rng.randint(0, 30)), "referral.assessment-started")
    r.event(stop + timedelta(rng.randint(7, 60)), "referral.treatment-started")
    r.event(
        stop + timedelta(rng.randint(60, 300)), "referral.discharged", reason="treatment_completed"
    )
    return r.out


def _capacity(seed: int, monday: date, path: Pathway, index: int) -> EventDict:
    rng = random.Random(f"{seed}|capacity|{path.service}|{monday.isoformat()}")
    sunday = monday + timedelta(days=6)
    iso = monday.isocalendar()
    return {
        "id": f"sim-nhs-{seed}-cap-{path.service}-{iso.year}w{iso.week:02d}",
        "source": SOURCE,
        "type": "referral.capacity.reported",
        "subject": f"svc-{index:06d}",
        "time": _at(sunday, 18 * 3600).isoformat(),
        "data": {
            "service": path.service,
            "week": f"{iso.year}-W{iso.week:02d}",
            "sessions_commissioned": path.sessions,
            "sessions_delivered": int(path.sessions * rng.uniform(0.85, 0.99)),
            "first_slots_offered": int(round(path.per_week * rng.uniform(0.80, 1.05))),
            "staff_in_post_wte": round(path.funded_wte * rng.uniform(0.75, 1.0), 1),
            "funded_posts_wte": path.funded_wte,
        },
    }


def timed_events(
    seed: int, start: date, end: date | None, *, history_from: date | None = None
) -> Iterator[TimedEvent]:
    """Every event before ``end`` (exclusive; None runs forever), in time order: the
    waiting list open at ``history_from`` (default ``start``) with its history, then
    new referrals each day and each service's capacity each week."""
    first = min(history_from or start, start)
    end_dt = datetime.combine(end, time(0), tzinfo=UTC) if end is not None else None
    heap: list[Queued] = []

    def push(items: list[tuple[datetime, str, int, EventDict]]) -> None:
        for item in items:
            if end_dt is None or item[0] < end_dt:
                heapq.heappush(heap, item)

    oldest = (first - load_window().earliest).days - 1  # inside the plausibility window
    rng = random.Random(f"{seed}|nhs|opening|{first.isoformat()}")
    for path in PATHWAYS:  # the waiting list open at the start: steady state
        m = path.mean_wait
        for k in range(_poisson(rng, path.per_week / 7 * m)):
            age = min(int(rng.expovariate(1 / m)), MAX_AGE_DAYS, oldest)
            remaining = rng.expovariate(1 / m)
            n = f"o{first.isoformat()}-{path.service}-{k}"
            push(_referral(seed, path, first - timedelta(days=age), n, age + remaining))
    day = first
    while end is None or day < end:
        day_rng = random.Random(f"{seed}|nhs|arrivals|{day.isoformat()}")
        if day.weekday() < 5:
            for path in PATHWAYS:
                for k in range(_poisson(day_rng, path.per_week / 5)):
                    push(_referral(seed, path, day, f"{day.isoformat()}-{path.service}-{k}"))
        if day.weekday() == 0:
            for i, path in enumerate(PATHWAYS, start=1):
                ev = _capacity(seed, day, path, i)
                t = datetime.fromisoformat(str(ev["time"]))
                push([(t, str(ev["subject"]), 0, ev)])
        day += timedelta(days=1)
        yield from release(heap, datetime.combine(day, time(0), tzinfo=UTC))
    yield from release(heap)
