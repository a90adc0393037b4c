"""A deterministic, seeded model of a county's EHC case event stream (pure: no I/O).

The model is calibrated to Shropshire Council and emits events in the contract of
``contracts.case_events`` from source ``case-management``.

Calibration sources
-------------------
* DfE "Education, health and care plans" statistics, calendar year 2024 (SEN2), Shropshire
  (requests.csv and plans): **833** initial requests for an EHC needs assessment received,
  **720** new EHC plans issued, **37.2%** of new plans issued within 20 weeks.
* The council's SEND Reform Plan baseline: **20%** of new plans issued within 20 weeks.
  The simulation starts there and improves to 70% over 12 months (an S-curve by default,
  or linearly).
* Primary need, sex and age mix: DfE SEN2 / "Special educational needs in England" shares
  for children with EHC plans (autism ~35%, SEMH ~20%, SLCN ~20%, MLD ~8%; ~2/3 boys).

Note on the conversion rates: a national-style split (71% of requests assessed, 90% of
those issued) turns 833 requests into only ~530 plans a year, far from DfE's 720.  The
defaults (87% assessed, 94% of those issued: ~680 plans a year in the steady state) plus
the backlog that clears as timeliness improves (~40-100 extra plans in the first year,
as assessments get shorter) give ~720-780 plans in the first simulated year.  That
matches Shropshire's 2024 figures, which also included a backlog: 902 requests in 2023
and 572 plans that year (Shropshire Council SEND Local Offer news, 2024).  All the rates
are ordinary :class:`SimConfig` fields and can be tuned.

How a case is generated
-----------------------
Requests arrive as a Poisson process on weekdays (with a mild monthly seasonality).  Each
case draws its breakdown attributes, then its path: decision to assess (~70% within six
weeks), advice from education, the EP, health and social care (health slowest), an
occasional reg 10(4) exception, draft plan, and the decision on the assessment with the
final plan.  Whether a plan is issued within 20 weeks follows a target share that depends
on the day it would be issued on time (see :func:`timely_share`), so the monthly % within
20 weeks of issued plans follows the configured improvement curve, a few weeks behind
it while it rises.  Seed 42 from 1 April 2026: 838 requests and 721 final plans in the
first year; 25% of the plans issued in the first quarter were within 20 weeks, 63% in
the fourth (monthly: 19%, 22%, 33% ... 56%, 64%, 68%).

Every random draw comes from a generator keyed by (seed, date, n): a day's arrivals and
each case's events do not depend on the window asked for, so the same seed always gives
the same cases, and event ids are uuid5 of (seed, case, sequence, type).
"""

from __future__ import annotations

import heapq
import math
import random
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, NamedTuple

import yaml

from contracts import codes
from contracts.codes import AdviceGiver, AssessmentOutcome, RequestOutcome
from contracts.envelope import SCHEMA_VERSION
from services.ingest.sources.sen2.pseudonymise import PHASE_OF_BAND

EventDict = dict[str, Any]
Weights = tuple[tuple[str, float], ...]

STATUTORY_DAYS = 140
"""20 weeks: a final plan issued within 140 days of the request is on time."""

_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://sendwatch.invalid/simulator/v1")

REQUEST_RECEIVED = "ehc.request.received"
NEED_RECORDED = "ehc.need.recorded"
DECISION_TO_ASSESS = "ehc.assessment.decision-to-assess"
ADVICE_REQUESTED = "ehc.advice.requested"
ADVICE_RECEIVED = "ehc.advice.received"
EXCEPTION_STARTED = "ehc.exception.started"
EXCEPTION_ENDED = "ehc.exception.ended"
DRAFT_ISSUED = "ehc.plan.draft-issued"
ASSESSMENT_DECISION = "ehc.assessment.decision"
FINAL_ISSUED = "ehc.plan.final-issued"
PLAN_CEASED = "ehc.plan.ceased"
TRANSFERRED_IN = "ehc.case.transferred-in"

# Causal rank of each event type: events of one case on the same day are ordered by it.
_RANK = {
    REQUEST_RECEIVED: 0,
    TRANSFERRED_IN: 0,
    NEED_RECORDED: 1,
    DECISION_TO_ASSESS: 2,
    ADVICE_REQUESTED: 3,
    ADVICE_RECEIVED: 4,
    EXCEPTION_STARTED: 4,
    EXCEPTION_ENDED: 4,
    DRAFT_ISSUED: 5,
    ASSESSMENT_DECISION: 6,
    FINAL_ISSUED: 7,
    PLAN_CEASED: 8,
}

PHASE_OF_AGE = {band.value: phase.value for band, phase in PHASE_OF_BAND.items()}

# The vocabulary of each of the county's mixes (county.yaml); None: any name.
_MIX_CODES: dict[str, type[StrEnum] | None] = {
    "advice_within_6_weeks": codes.AdviceGiver,
    "locality_weights": None,
    "age_band_weights": codes.AgeBand,
    "primary_need_weights": codes.SENType,
    "sex_weights": codes.Sex,
    "request_source_weights": codes.RequestSource,
    "exception_reason_weights": codes.ExceptionReason,
    "cease_reason_weights": codes.CeaseReason,
}


def _weights(raw: dict[Any, Any], vocabulary: type[StrEnum] | None) -> Weights:
    return tuple(
        (vocabulary(str(k)).value if vocabulary else str(k), float(w)) for k, w in raw.items()
    )


@lru_cache(maxsize=1)
def county_mixes() -> dict[str, Any]:
    """The simulated county's mixes (``county.yaml``), each code checked against its
    SEN2 vocabulary (a ValueError names an unknown one)."""
    doc = yaml.safe_load(Path(__file__).with_name("county.yaml").read_text(encoding="utf-8"))
    mixes: dict[str, Any] = {n: _weights(doc[n], vocab) for n, vocab in _MIX_CODES.items()}
    mixes["setting_weights"] = tuple(
        (codes.Phase(str(phase)).value, _weights(mix, codes.SettingType))
        for phase, mix in doc["setting_weights"].items()
    )
    return mixes


def _mix(name: str) -> Any:
    return field(default_factory=lambda: county_mixes()[name])


# Neighbouring English LAs a plan may transfer in from (DfE 3-digit codes): Telford and
# Wrekin, Staffordshire, Cheshire East, Herefordshire, Worcestershire.
_NEIGHBOUR_LAS = ("894", "860", "895", "884", "885")


@dataclass(frozen=True)
class SimConfig:
    """Rates and mixes of the simulated county (defaults: Shropshire).

    Volumes: ``requests_per_year`` = 833 (DfE 2024, Shropshire requests.csv).  With the
    default conversion (0.87 assessed x 0.94 issued) that gives ~680 plans a year in the
    steady state, plus the backlog that clears as timeliness improves: ~720-780 plans in
    the first simulated year (mean ~750 over seeds), against DfE 2024's 720.

    Timeliness: the share of plans issued on day *d* that were within 20 weeks is
    ``baseline_timely`` (20%, the Reform Plan baseline; DfE 2024 measured 37.2%) up to the
    simulation start, then rises to ``target_timely`` over ``improvement_days`` along
    ``improvement_curve`` (an S-curve by default; ``linear`` is the straight line).
    """

    source: str = "case-management"

    # Demand (DfE 2024 Shropshire: 833 requests received).
    requests_per_year: float = 833.0
    monthly_seasonality: tuple[float, ...] = (
        1.05,
        1.05,
        1.05,
        0.95,
        1.05,
        1.05,
        1.00,
        0.75,
        0.95,
        1.05,
        1.05,
        0.95,
    )
    """Relative request rate for January..December (normalised to a mean of 1)."""

    # Decision whether to assess (SEN2 RequestOutcome).  Must sum to 1.
    p_assess: float = 0.87
    p_not_assess: float = 0.115
    p_request_withdrawn: float = 0.015
    decision_within_6_weeks: float = 0.70
    """Share of decisions to assess (or not) made within 42 days of the request."""

    # Decision on the assessment (SEN2 AssessmentOutcome).  Must sum to 1.
    p_issue: float = 0.94
    p_not_issue: float = 0.05
    p_assessment_withdrawn: float = 0.01

    # Advice (statutory six weeks); health advice is the slowest.  The mixes (advice, and
    # the breakdowns below) are the county's, in county.yaml.
    advice_within_6_weeks: Weights = _mix("advice_within_6_weeks")
    advice_late_max_days: int = 100
    p_exception: float = 0.04
    """Share of assessments with a reg 10(4) exception to the 20-week limit."""

    # 20-week timeliness of final plans, by issue date.
    baseline_timely: float = 0.20
    target_timely: float = 0.70
    improvement_days: int = 365
    improvement_curve: Literal["s-curve", "linear"] = "s-curve"
    """``s-curve`` (smoothstep: slow start, fastest mid-way, levelling off) or ``linear``."""
    late_mean_extra_days: float = 75.0
    """Mean days beyond 20 weeks of a late plan (exponential tail)."""
    max_duration_days: int = 400

    # Transfers in of existing plans, and plans ceasing.
    transfers_in_per_year: float = 30.0
    p_transfer_ceased: float = 0.25
    p_plan_ceased: float = 0.03
    max_cease_days: int = 365

    # Breakdown mixes.
    locality_weights: Weights = _mix("locality_weights")
    age_band_weights: Weights = _mix("age_band_weights")
    primary_need_weights: Weights = _mix("primary_need_weights")
    sex_weights: Weights = _mix("sex_weights")
    request_source_weights: Weights = _mix("request_source_weights")
    setting_weights: tuple[tuple[str, Weights], ...] = _mix("setting_weights")
    exception_reason_weights: Weights = _mix("exception_reason_weights")
    cease_reason_weights: Weights = _mix("cease_reason_weights")

    def __post_init__(self) -> None:
        for name, parts in (
            ("decision to assess", (self.p_assess, self.p_not_assess, self.p_request_withdrawn)),
            ("assessment outcome", (self.p_issue, self.p_not_issue, self.p_assessment_withdrawn)),
        ):
            if any(p < 0 for p in parts) or not math.isclose(sum(parts), 1.0, abs_tol=1e-6):
                raise ValueError(f"{name} probabilities must be >= 0 and sum to 1: {parts}")
        for name in (
            "decision_within_6_weeks",
            "p_exception",
            "baseline_timely",
            "target_timely",
            "p_transfer_ceased",
            "p_plan_ceased",
        ):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if len(self.monthly_seasonality) != 12 or min(self.monthly_seasonality) < 0:
            raise ValueError("monthly_seasonality needs 12 non-negative values")
        if self.requests_per_year < 0 or self.transfers_in_per_year < 0:
            raise ValueError("rates must be >= 0")
        if self.improvement_curve not in ("s-curve", "linear"):
            raise ValueError("improvement_curve must be 's-curve' or 'linear'")
        if self.max_duration_days <= STATUTORY_DAYS or self.improvement_days < 0:
            raise ValueError("max_duration_days must exceed 140; improvement_days >= 0")
        givers = {g for g, _ in self.advice_within_6_weeks}
        if not givers <= {g.value for g in AdviceGiver}:
            raise ValueError(f"unknown advice givers: {givers}")
        if {p for p, _ in self.setting_weights} != set(PHASE_OF_AGE.values()):
            raise ValueError("setting_weights needs one mix per phase")

    @property
    def lookback_days(self) -> int:
        """How far before a window a case can start and still have an event in it."""
        return self.max_duration_days + self.max_cease_days + 14


class TimedEvent(NamedTuple):
    time: datetime
    event: EventDict


# An event waiting in a simulator's queue: (time, subject, sequence, event).
Queued = tuple[datetime, str, int, EventDict]


def timely_share(on: date, start: date, config: SimConfig) -> float:
    """Target share of the plans issued on ``on`` that are within 20 weeks."""
    if config.improvement_days <= 0:
        return config.target_timely if on >= start else config.baseline_timely
    progress = min(max((on - start).days / config.improvement_days, 0.0), 1.0)
    if config.improvement_curve == "s-curve":
        progress = progress * progress * (3.0 - 2.0 * progress)
    return config.baseline_timely + (config.target_timely - config.baseline_timely) * progress


def generate_cases(
    seed: int,
    start: date,
    end: date | None,
    config: SimConfig | None = None,
    *,
    history_from: date | None = None,
) -> Iterator[EventDict]:
    """The case events of the simulated county, sorted by event time.

    Yields every event before ``end`` (exclusive; ``None`` runs forever) of each case that
    has at least one event on or after ``history_from`` (default ``start``).  A case open
    at the window start comes with its whole history, so its request date is known
    (those events are dated before the window).  Improvement is measured from ``start``.
    """
    for item in timed_events(seed, start, end, config, history_from=history_from):
        yield item.event


def timed_events(
    seed: int,
    start: date,
    end: date | None,
    config: SimConfig | None = None,
    *,
    history_from: date | None = None,
) -> Iterator[TimedEvent]:
    """:func:`generate_cases` with each event's time as a ``datetime``."""
    cfg = config or SimConfig()
    tables = _tables(cfg)
    window_from = min(history_from, start) if history_from is not None else start
    window_start = _midnight(window_from)
    end_dt = _midnight(end) if end is not None else None
    if end_dt is not None and end_dt <= window_start:
        return
    heap: list[Queued] = []
    day = window_from - timedelta(days=cfg.lookback_days)
    while end is None or day < end:
        for case in _cases_on(seed, day, start, cfg, tables):
            if not any(t >= window_start and (end_dt is None or t < end_dt) for t, *_ in case):
                continue
            for t, subject, seq, event in case:
                if end_dt is None or t < end_dt:
                    heapq.heappush(heap, (t, subject, seq, event))
        day += timedelta(days=1)
        # Cases of later days start on or after ``day``, so what is before it is final.
        yield from release(heap, _midnight(day))
    yield from release(heap)


def release(heap: list[Queued], before: datetime | None = None) -> Iterator[TimedEvent]:
    """Pop the queued events in time order: those dated before ``before`` (all without)."""
    while heap and (before is None or heap[0][0] < before):
        t, _, _, event = heapq.heappop(heap)
        yield TimedEvent(t, event)


# --------------------------------------------------------------------------- internals


class _Tables(NamedTuple):
    locality: tuple[list[str], list[float]]
    age_band: tuple[list[str], list[float]]
    need: tuple[list[str], list[float]]
    sex: tuple[list[str], list[float]]
    request_source: tuple[list[str], list[float]]
    setting: dict[str, tuple[list[str], list[float]]]
    exception_reason: tuple[list[str], list[float]]
    cease_reason: tuple[list[str], list[float]]
    advice: tuple[tuple[str, float], ...]
    seasonality: tuple[float, ...]


def _cumulative(weights: Weights) -> tuple[list[str], list[float]]:
    values = [v for v, _ in weights]
    total = 0.0
    cum: list[float] = []
    for _, w in weights:
        total += w
        cum.append(total)
    return values, cum


@lru_cache(maxsize=16)
def _tables(cfg: SimConfig) -> _Tables:
    mean = sum(cfg.monthly_seasonality) / 12 or 1.0
    return _Tables(
        locality=_cumulative(cfg.locality_weights),
        age_band=_cumulative(cfg.age_band_weights),
        need=_cumulative(cfg.primary_need_weights),
        sex=_cumulative(cfg.sex_weights),
        request_source=_cumulative(cfg.request_source_weights),
        setting={phase: _cumulative(w) for phase, w in cfg.setting_weights},
        exception_reason=_cumulative(cfg.exception_reason_weights),
        cease_reason=_cumulative(cfg.cease_reason_weights),
        advice=cfg.advice_within_6_weeks,
        seasonality=tuple(s / mean for s in cfg.monthly_seasonality),
    )


def _pick(rng: random.Random, table: tuple[list[str], list[float]]) -> str:
    values, cum = table
    return rng.choices(values, cum_weights=cum)[0]


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    limit = math.exp(-lam)
    k, p = 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def _midnight(d: date) -> datetime:
    return datetime.combine(d, time(0), tzinfo=UTC)


def _hex12(rng: random.Random) -> str:
    return f"{rng.getrandbits(48):012x}"


def _weekday(base: date, offset: int, forward: bool = False) -> int:
    """Move a day offset off a weekend (back to Friday, or on to Monday)."""
    wd = (base + timedelta(days=offset)).weekday()
    if wd < 5:
        return offset
    if forward:
        return offset + (7 - wd)
    return offset - (wd - 4)


_WEEKDAYS_PER_YEAR = 365.25 * 5 / 7

# One step of a case: (day offset, causal rank, seconds into the day, type, extra data).
_Step = tuple[int, int, int, str, dict[str, Any]]
_CaseEvents = list[tuple[datetime, str, int, EventDict]]


def _cases_on(
    seed: int, day: date, start: date, cfg: SimConfig, tables: _Tables
) -> Iterator[_CaseEvents]:
    if day.weekday() >= 5:
        return
    rng = random.Random(f"{seed}|arrivals|{day.isoformat()}")
    lam = cfg.requests_per_year / _WEEKDAYS_PER_YEAR * tables.seasonality[day.month - 1]
    for k in range(_poisson(rng, lam)):
        case_rng = random.Random(f"{seed}|request|{day.isoformat()}|{k}")
        yield _request_case(seed, case_rng, day, start, cfg, tables)
    lam_t = cfg.transfers_in_per_year / _WEEKDAYS_PER_YEAR
    for k in range(_poisson(rng, lam_t)):
        case_rng = random.Random(f"{seed}|transfer|{day.isoformat()}|{k}")
        yield _transfer_case(seed, case_rng, day, cfg, tables)


def _attributes(rng: random.Random, tables: _Tables) -> dict[str, Any]:
    age_band = _pick(rng, tables.age_band)
    phase = PHASE_OF_AGE[age_band]
    return {
        "person_id": f"p-{_hex12(rng)}",
        "locality": _pick(rng, tables.locality),
        "age_band": age_band,
        "phase": phase,
        "primary_need": _pick(rng, tables.need),
        "setting_type": _pick(rng, tables.setting[phase]),
        "sex": _pick(rng, tables.sex),
    }


def _tod(rng: random.Random) -> int:
    """Seconds into the day: office hours, 08:00-16:30 UTC."""
    return 8 * 3600 + rng.randrange(0, int(8.5 * 3600))


def _duration(
    rng: random.Random, requested: date, d1: int, start: date, cfg: SimConfig
) -> tuple[int, bool]:
    """Days from request to the decision on the assessment, and whether within 20 weeks.

    Draws an on-time and a late duration and takes the on-time one with probability
    :func:`timely_share` of the day the plan would be issued on time.  So the share of plans
    issued on a day that were on time follows the target curve: exactly while it is flat,
    a few weeks behind it while it rises (late plans issued then were decided earlier).
    """
    lo = max(d1 + 40, 56)
    on_time = int(rng.triangular(lo, STATUTORY_DAYS + 0.999, min(max(lo, 126), STATUTORY_DAYS)))
    on_time = min(on_time, STATUTORY_DAYS)
    late = STATUTORY_DAYS + 1 + int(rng.expovariate(1.0 / cfg.late_mean_extra_days))
    late = min(late, cfg.max_duration_days)
    chance = timely_share(requested + timedelta(days=on_time), start, cfg)
    if rng.random() < chance:
        return _weekday(requested, on_time), True
    return _weekday(requested, late, forward=True), False


def _request_case(
    seed: int, rng: random.Random, day: date, start: date, cfg: SimConfig, tables: _Tables
) -> _CaseEvents:
    subject = f"case-{_hex12(rng)}"
    attrs = _attributes(rng, tables)
    steps: list[_Step] = [
        (
            0,
            0,
            _tod(rng),
            REQUEST_RECEIVED,
            {"request_source": _pick(rng, tables.request_source), "rya": False},
        ),
        (0, 1, 0, NEED_RECORDED, {"sen_type": attrs["primary_need"], "rank": 1}),
    ]
    # Decision whether to assess: ~70% within six weeks.
    within = rng.random() < cfg.decision_within_6_weeks
    d1 = _weekday(day, rng.randint(10, 42) if within else rng.randint(43, 84))
    u = rng.random()
    if u >= cfg.p_assess:
        withdrawn = u >= cfg.p_assess + cfg.p_not_assess
        refused = RequestOutcome.WITHDRAWN if withdrawn else RequestOutcome.NOT_ASSESS
        when = _weekday(day, rng.randint(5, d1)) if withdrawn else d1
        steps.append((when, 2, _tod(rng), DECISION_TO_ASSESS, {"outcome": refused.value}))
        return _materialise(seed, cfg.source, subject, day, attrs, steps)
    steps.append((d1, 2, _tod(rng), DECISION_TO_ASSESS, {"outcome": RequestOutcome.ASSESS.value}))

    total, _on_time = _duration(rng, day, d1, start, cfg)
    u = rng.random()
    outcome: AssessmentOutcome
    if u < cfg.p_issue:
        outcome = AssessmentOutcome.ISSUE
    elif u < cfg.p_issue + cfg.p_not_issue:
        outcome = AssessmentOutcome.NOT_ISSUE
    else:
        outcome = AssessmentOutcome.WITHDRAWN

    advice_day = _weekday(day, d1 + rng.randint(0, 2))
    if outcome is AssessmentOutcome.WITHDRAWN:
        total = _weekday(day, rng.randint(advice_day + 7, max(advice_day + 7, total)))
    if outcome is AssessmentOutcome.ISSUE:
        gap = rng.randint(15, max(15, min(35, total - advice_day - 20)))
        draft = _weekday(day, total - gap)
        advice_by = draft - 2
    else:
        draft = None
        advice_by = total - 2

    for giver, share_within in tables.advice:
        steps.append((advice_day, 3, _tod(rng), ADVICE_REQUESTED, {"advice_giver": giver}))
        if rng.random() < share_within:
            took = rng.randint(10, 42)
        else:
            took = rng.randint(43, cfg.advice_late_max_days)
        window = advice_by - advice_day
        if took > window:
            took = max(1, window - rng.randint(0, max(0, min(7, window // 3))))
        received = _weekday(day, advice_day + took)
        if received <= advice_day:
            received = advice_day + 1
        if outcome is AssessmentOutcome.WITHDRAWN and received >= total:
            continue  # withdrawn before this advice came in
        steps.append((received, 4, _tod(rng), ADVICE_RECEIVED, {"advice_giver": giver}))

    if rng.random() < cfg.p_exception and advice_by - advice_day > 40:
        reason = _pick(rng, tables.exception_reason)
        began = _weekday(day, advice_day + rng.randint(3, (advice_by - advice_day) // 2))
        ended = _weekday(day, min(began + rng.randint(28, 70), advice_by + 1))
        ended = max(ended, began + 1)
        steps.append((began, 4, _tod(rng), EXCEPTION_STARTED, {"reason": reason}))
        steps.append((ended, 4, _tod(rng), EXCEPTION_ENDED, {"reason": reason}))

    if draft is not None:
        steps.append((draft, 5, _tod(rng), DRAFT_ISSUED, {}))
    decided = _tod(rng) if outcome is not AssessmentOutcome.ISSUE else 8 * 3600
    steps.append(
        (
            total,
            6,
            decided + rng.randrange(0, 7 * 3600),
            ASSESSMENT_DECISION,
            {"outcome": outcome.value},
        )
    )
    if outcome is AssessmentOutcome.ISSUE:
        steps.append((total, 7, 0, FINAL_ISSUED, {}))
        if rng.random() < cfg.p_plan_ceased:
            ceased = total + rng.randint(90, max(90, cfg.max_cease_days))
            reason = _pick(rng, tables.cease_reason)
            steps.append((ceased, 8, _tod(rng), PLAN_CEASED, {"cease_reason": reason}))
    return _materialise(seed, cfg.source, subject, day, attrs, steps)


def _transfer_case(
    seed: int, rng: random.Random, day: date, cfg: SimConfig, tables: _Tables
) -> _CaseEvents:
    subject = f"case-{_hex12(rng)}"
    attrs = _attributes(rng, tables)
    steps: list[_Step] = [
        (
            0,
            0,
            _tod(rng),
            TRANSFERRED_IN,
            {"other_la": rng.choice(_NEIGHBOUR_LAS), "historical": True},
        ),
        (0, 1, 0, NEED_RECORDED, {"sen_type": attrs["primary_need"], "rank": 1}),
    ]
    if rng.random() < cfg.p_transfer_ceased:
        ceased = rng.randint(30, max(30, cfg.max_cease_days))
        reason = _pick(rng, tables.cease_reason)
        steps.append((ceased, 8, _tod(rng), PLAN_CEASED, {"cease_reason": reason}))
    return _materialise(seed, cfg.source, subject, day, attrs, steps)


def _materialise(
    seed: int,
    source: str,
    subject: str,
    base: date,
    attrs: dict[str, Any],
    steps: Sequence[_Step],
) -> _CaseEvents:
    """Order a case's steps causally, give them strictly increasing times, build events."""
    ordered = sorted(steps, key=lambda s: (s[0], s[1], s[2]))
    out: _CaseEvents = []
    previous: datetime | None = None
    origin = _midnight(base)
    for seq, (offset, _rank, seconds, etype, extra) in enumerate(ordered):
        at = origin + timedelta(days=offset, seconds=seconds)
        if previous is not None and at <= previous:
            at = previous + timedelta(minutes=3)
        previous = at
        event_id = uuid.uuid5(_ID_NAMESPACE, f"{seed}/{subject}/{seq}/{etype}")
        event: EventDict = {
            "id": str(event_id),
            "source": source,
            "type": etype,
            "subject": subject,
            "time": at.isoformat(),
            "schema_version": SCHEMA_VERSION,
            "data": {**attrs, **extra},
        }
        out.append((at, subject, seq, event))
    return out
