"""The simulated county's placements (pure: no I/O): active EHC plans and their
placements, high-cost decisions and their reviews, elective home education and the
inclusion base places, in the contract of ``contracts.placement_events`` (source
``placements``).

Calibration
-----------
* DfE "Education, health and care plans" 2025, ``caseload.csv``, Shropshire: **3,016**
  plans active at the January 2025 census, by type of setting (``SHROPSHIRE_2025``:
  **238** in independent special schools, 1 non-maintained special).  The standing
  caseload is built so that, on 16 January 2025, the counted placements are exactly
  these counts.
* Growth: 2,496 plans in January 2024 to 3,016 in January 2025, so about 60 new plans
  and 17 ceased a month; 5% of placements a year change setting.
* K20 baseline 9.1% (Reform Plan): new placements are independent or non-maintained
  special at ``inmss_new_share``.  A new one is preceded by a high-cost decision, whose
  review follows in 0-15 working days (most within 10 from Q3 2026/27, as the plan
  expects: "all new high-cost decisions reviewed/challenged").
* EHE (K11/K12): 53 with an EHC plan and 100 on SEN Support registered at the start,
  with monthly registrations and returns.
* Inclusion bases (Reform Plan §10.2): 15 primary, 3 secondary bases and 1 early years
  base, commissioned to the plan's places by phase (157 / 70 / 0 in 2025/26; 181 / 91 /
  12 from September 2026 ...); the caseload's resourced-provision placements are at
  these bases (of the base's phase).

Every random draw is keyed by the seed and what it is for, so the same seed gives the
same county; event ids are uuid5 of (seed, subject, sequence, type).
"""

from __future__ import annotations

import heapq
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from contracts.localities import locality_order
from contracts.placements import load_placements
from contracts.working_days import add_working_days
from services.ingest.sources.simulator.model import TimedEvent

SOURCE = "placements"
CENSUS_2025 = date(2025, 1, 16)
# DfE caseload.csv 2024/25, Shropshire, All EHC plans: the base columns.
SHROPSHIRE_2025: dict[str, int] = {
    "mainstream_la_maintained": 355,
    "mainstream_la_maintained_resourced_provision": 37,
    "mainstream_academy": 871,
    "mainstream_academy_resourced_provision": 84,
    "mainstream_free_school": 5,
    "mainstream_free_school_resourced_provision": 3,
    "mainstream_independent": 22,
    "special_la_maintained": 39,
    "special_academy_free": 571,
    "special_independent": 238,
    "special_non_maintained": 1,
    "ap_pru_la_maintained": 18,
    "general_fe_tertiary_colleges": 287,
    "specialist_post_16_institutions": 45,
    "ukrlp_provider": 80,
    "other_arrangements_la": 32,
    "other_arrangements_parents": 46,
    "w_settings": 49,
    "other_placement_settings": 32,
    "neet": 37,
    "nm_early_years": 40,
    "placement_unknown": 124,
}
INMSS = ("special_independent", "special_non_maintained")
POST_16 = (
    "general_fe_tertiary_colleges",
    "specialist_post_16_institutions",
    "neet",
    "ukrlp_provider",
)
RESOURCED = (
    "mainstream_la_maintained_resourced_provision",
    "mainstream_academy_resourced_provision",
    "mainstream_free_school_resourced_provision",
)
NEEDS = ("ASD", "SEMH", "SLCN", "MLD", "SLD", "SPLD", "PMLD", "PD", "HI", "VI")
NEED_WEIGHTS = (35, 20, 18, 8, 5, 5, 3, 3, 2, 1)
# Inclusion bases by phase (Reform Plan §10.2: 15 primary, 3 secondary, 1 early years);
# each phase's places in each plan year (contracts/placements.yaml) are split evenly.
BASE_COUNTS = {"primary": 15, "secondary": 3, "early-years": 1}


def _split(total: int, n: int) -> list[int]:
    return [total // n + (1 if i < total % n else 0) for i in range(n)]


def bases(plan: dict[str, dict[str, int]] | None = None) -> list[tuple[str, str, dict[str, int]]]:
    """(code, phase, places by plan year) of every base, from the inclusion base plan."""
    plan = plan if plan is not None else load_placements().inclusion_base_plan
    out: list[tuple[str, str, dict[str, int]]] = []
    for phase, count in BASE_COUNTS.items():
        shares = {year: _split(by.get(phase, 0), count) for year, by in plan.items()}
        for i in range(count):
            code = f"ib-{len(out) + 1:03d}"
            out.append((code, phase, {year: split[i] for year, split in shares.items()}))
    return out


@dataclass(frozen=True)
class PlacementSimConfig:
    new_plans_per_month: float = 60.0
    ceased_per_month: float = 17.0
    moves_per_year: float = 0.05
    inmss_new_share: float = 0.09
    review_improves_from: date = date(2026, 10, 1)
    ehe_ehcp_start: int = 53
    ehe_sen_support_start: int = 100


def _noon(d: date) -> datetime:
    return datetime.combine(d, time(12), tzinfo=UTC)


class _Out:
    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.heap: list[tuple[datetime, str, int, dict[str, Any]]] = []
        self.seq: dict[str, int] = {}

    def add(self, day: date, etype: str, subject: str, data: dict[str, Any]) -> None:
        n = self.seq.get(subject, 0)
        self.seq[subject] = n + 1
        eid = uuid.uuid5(uuid.NAMESPACE_URL, f"sendwatch-pl/{self.seed}/{subject}/{n}/{etype}")
        event = {
            "id": f"sim-pl-{eid}",
            "source": SOURCE,
            "type": etype,
            "subject": subject,
            "time": _noon(day).isoformat(),
            "data": {k: v for k, v in data.items() if v is not None},
        }
        heapq.heappush(self.heap, (_noon(day), subject, n, event))


def _distance(rng: random.Random, setting: str) -> float:
    if setting in INMSS:
        return round(rng.uniform(15, 90), 1)
    if setting.startswith("special_") or setting.startswith("specialist"):
        return round(rng.uniform(5, 35), 1)
    return round(rng.uniform(0.5, 9), 1)


def _out_of_area(rng: random.Random, setting: str) -> bool:
    if setting in INMSS:
        return rng.random() < 0.6
    if setting == "specialist_post_16_institutions":
        return rng.random() < 0.5
    return rng.random() < 0.03


def _person_attrs(rng: random.Random, setting: str) -> dict[str, Any]:
    if setting in POST_16:
        band, phase = "16-19", "post-16"
    elif setting == "nm_early_years":
        band, phase = "under-5", "early-years"
    else:
        band, phase = rng.choice((("5-10", "primary"), ("11-15", "secondary")))
    return {
        "locality": rng.choice(locality_order()),
        "age_band": band,
        "phase": phase,
        "primary_need": rng.choices(NEEDS, weights=NEED_WEIGHTS)[0],
    }


def _placement(rng: random.Random, setting: str, base: str | None = None) -> dict[str, Any]:
    return {
        "setting_type": setting,
        "rank": 1,
        "la_funded": setting not in INMSS or rng.random() < 0.97,
        "out_of_area": _out_of_area(rng, setting),
        "distance_km": _distance(rng, setting),
        "base": base,
    }


def _settings(rng: random.Random) -> list[str]:
    out = [s for s, n in SHROPSHIRE_2025.items() for _ in range(n)]
    rng.shuffle(out)
    return out


def _base_for(rng: random.Random, phase: str) -> str:
    found = bases()
    fits = [code for code, p, _ in found if p == phase] or [found[0][0]]
    return rng.choice(fits)


def placement_events(
    seed: int, start: date, end: date | None, config: PlacementSimConfig | None = None
) -> Iterator[TimedEvent]:
    """Every placement event before ``end`` (the standing caseload's history first),
    sorted by time."""
    cfg = config or PlacementSimConfig()
    rng = random.Random(f"placements/{seed}")
    out = _Out(seed)
    horizon = end or start + timedelta(days=3 * 365)
    people = 0

    def person() -> str:
        nonlocal people
        people += 1
        return f"p-sim{seed:04d}{people:07d}"

    def new_placement(who: str, day: date, setting: str, attrs: dict[str, Any]) -> None:
        base = _base_for(rng, attrs["phase"]) if setting in RESOURCED else None
        if setting in INMSS and day >= date(2026, 4, 1):
            decided = day - timedelta(days=rng.randint(10, 30))
            decision = f"pl-sim{seed:04d}{people:07d}{out.seq.get(who, 0):03d}"
            cost = rng.randint(60, 250) * 1000
            band = "50k-100k" if cost < 100_000 else "100k-200k" if cost < 200_000 else "200k-plus"
            out.add(
                decided,
                "placement.high-cost.decided",
                decision,
                {
                    "person_id": who,
                    "locality": attrs["locality"],
                    "phase": attrs["phase"],
                    "decision": "approved",
                    "annual_cost": cost,
                    "cost_band": band,
                    "setting_type": setting,
                    "out_of_area": rng.random() < 0.6,
                },
            )
            late = decided < cfg.review_improves_from
            if rng.random() < (0.7 if late else 0.95):
                lag = rng.randint(0, 15 if late else 10)
                out.add(
                    add_working_days(decided, lag),
                    "placement.high-cost.reviewed",
                    decision,
                    {
                        "person_id": who,
                        "outcome": rng.choice(("reviewed", "reviewed", "challenged")),
                        "reviewed_by": rng.choice(("sufficiency-panel", "commissioning-manager")),
                    },
                )
        if setting != "placement_unknown":
            out.add(
                day, "placement.placement.started", who, {**attrs, **_placement(rng, setting, base)}
            )

    # The standing caseload: active on the January 2025 census with DfE's counts.
    standing: list[tuple[str, dict[str, Any], str]] = []
    for setting in _settings(rng):
        who = person()
        attrs = _person_attrs(rng, setting)
        began = CENSUS_2025 - timedelta(days=rng.randint(30, 6 * 365))
        out.add(began, "placement.plan.started", who, attrs)
        placed = min(began + timedelta(days=rng.randint(0, 60)), CENSUS_2025)
        new_placement(who, placed, setting, attrs)
        standing.append((who, attrs, setting))
    # Flows from the census on, a month at a time.
    day = CENSUS_2025 + timedelta(days=1)
    active = list(standing)
    settings = [s for s, n in SHROPSHIRE_2025.items() if s not in INMSS for _ in range(n)]
    while day < horizon:
        for _ in range(_count(rng, cfg.new_plans_per_month)):
            when = day + timedelta(days=rng.randint(0, 27))
            setting = (
                rng.choice(INMSS) if rng.random() < cfg.inmss_new_share else rng.choice(settings)
            )
            who = person()
            attrs = _person_attrs(rng, setting)
            out.add(when, "placement.plan.started", who, attrs)
            new_placement(who, when + timedelta(days=rng.randint(0, 20)), setting, attrs)
            active.append((who, attrs, setting))
        for _ in range(_count(rng, cfg.ceased_per_month)):
            if active:
                who, attrs, _s = active.pop(rng.randrange(len(active)))
                when = day + timedelta(days=rng.randint(0, 27))
                out.add(when, "placement.plan.ceased", who, {"cease_reason": rng.choice("1245")})
        for _ in range(_count(rng, len(active) * cfg.moves_per_year / 12)):
            i = rng.randrange(len(active))
            who, attrs, old = active[i]
            when = day + timedelta(days=rng.randint(0, 27))
            setting = (
                rng.choice(INMSS) if rng.random() < cfg.inmss_new_share else rng.choice(settings)
            )
            out.add(when, "placement.placement.ended", who, {"rank": 1})
            new_placement(who, when + timedelta(days=1), setting, attrs)
            active[i] = (who, attrs, setting)
        day += timedelta(days=28)
    _ehe(rng, out, cfg, horizon, person)
    _bases(out, horizon)
    end_dt = _noon(end) if end is not None else None
    while out.heap:
        t, _, _, event = heapq.heappop(out.heap)
        if end_dt is not None and t >= end_dt:
            continue
        yield TimedEvent(t, event)


def _count(rng: random.Random, mean: float) -> int:
    whole = int(mean)
    return whole + (1 if rng.random() < mean - whole else 0)


def _ehe(
    rng: random.Random, out: _Out, cfg: PlacementSimConfig, horizon: date, person: Any
) -> None:
    registered: list[tuple[str, str]] = []
    for cohort, n in (("ehcp", cfg.ehe_ehcp_start), ("sen-support", cfg.ehe_sen_support_start)):
        for _ in range(n):
            who = person()
            attrs = _person_attrs(rng, "mainstream_academy")
            when = CENSUS_2025 - timedelta(days=rng.randint(10, 700))
            out.add(when, "placement.ehe.registered", who, {**attrs, "cohort": cohort})
            registered.append((who, cohort))
    day = CENSUS_2025
    while day < horizon:
        for cohort, new, back in (("ehcp", 3.0, 2.2), ("sen-support", 4.0, 3.4)):
            for _ in range(_count(rng, new)):
                who = person()
                attrs = _person_attrs(rng, "mainstream_academy")
                when = day + timedelta(days=rng.randint(0, 27))
                out.add(when, "placement.ehe.registered", who, {**attrs, "cohort": cohort})
                registered.append((who, cohort))
            for _ in range(_count(rng, back)):
                mine = [i for i, (_, c) in enumerate(registered) if c == cohort]
                if mine:
                    who, _c = registered.pop(rng.choice(mine))
                    when = day + timedelta(days=rng.randint(0, 27))
                    out.add(when, "placement.ehe.ended", who, {"cohort": cohort})
        day += timedelta(days=28)


def _bases(out: _Out, horizon: date) -> None:
    for n, (code, phase, plan) in enumerate(bases(), start=1):
        subject = f"setting-sim{n:05d}"
        opened = date(2025, 9, 1) if plan.get("2025/26") else date(2026, 4, 1)
        for year, places in plan.items():
            day = date(int(year[:4]), 9, 1)
            if day < opened <= date(int(year[:4]) + 1, 8, 31):
                day = opened  # the first early years base opens in April 2026
            if day < horizon and (places or day >= opened):
                out.add(
                    day,
                    "placement.base.places-commissioned",
                    subject,
                    {"base": code, "phase": phase, "places": places, "opened": opened.isoformat()},
                )
