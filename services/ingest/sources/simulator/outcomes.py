"""The simulated county's outcomes and experience: DfE attendance and exclusion figures
each term, EHC plan audits, annual reviews, phase transfers, complaints, disputes and
survey waves, calibrated to the Reform Plan's baselines.

Attendance (K9, K10): 84.8% (EHC plan) and 90.2% (SEN Support) at the baseline,
improving towards 87% and 91%; statistical neighbours about 86.4% and 90.9%, England
86.6% and 91.1%.  Complaints (K19): about 11 a month at first (June 2026: 10-12),
falling a little each month (about one either way).  Tribunal appeals: about 0.7 per
100 final plans (K18) of the ~60 plans a month.  The Big Listen (K16) reports in
September 2026 with 214 responses; a CYP wave, a setting confidence and an assistive
technology wave follow.  A simulated window starts with what was published before it:
the previous term's DfE figures and each survey's latest wave.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Iterator
from datetime import date, timedelta

from contracts.cycles import term_bounds, term_label
from contracts.localities import locality_names
from services.ingest.sources.simulator.model import TimedEvent
from services.ingest.sources.simulator.streams import Stream, at, days, poisson, sorted_until

SOURCE = "outcomes"
DEV_KEY = "dev-outcomes-key"
PLAN_START = date(2026, 4, 1)
# (measure, cohort): (local baseline, local by 2027/28, neighbours, England)
FIGURES = {
    ("attendance", "ehcp"): (84.8, 87.0, 86.4, 86.6),
    ("attendance", "sen-support"): (90.2, 91.0, 90.9, 91.1),
    ("persistent-absence", "ehcp"): (38.0, 34.0, 35.5, 36.0),
    ("persistent-absence", "sen-support"): (27.0, 25.0, 25.8, 26.0),
    ("suspensions", "ehcp"): (6.5, 5.5, 6.0, 6.2),
    ("suspensions", "sen-support"): (4.2, 3.8, 4.0, 4.1),
    ("permanent-exclusions", "ehcp"): (0.10, 0.08, 0.09, 0.10),
    ("permanent-exclusions", "sen-support"): (0.09, 0.07, 0.08, 0.09),
}
GRADES = (
    ("outstanding", 0.10),
    ("good", 0.45),
    ("requires-improvement", 0.35),
    ("inadequate", 0.10),
)
THEMES = ("communication", "timeliness", "provision", "placement", "transport", "health", "other")
SURVEYS = (  # (day posted, survey, wave, % satisfied or confident, responses)
    (date(2026, 9, 21), "big-listen", "2026/27", 61.0, 214),
    (date(2026, 10, 19), "cyp-satisfaction", "2026/27-Q2", 66.0, 132),
    (date(2027, 1, 18), "setting-confidence", "2026/27-Q3", 58.0, 176),
    (date(2027, 1, 18), "at-confidence", "2026/27-Q3", 49.0, 151),
    (date(2027, 9, 20), "big-listen", "2027/28", 65.0, 248),
)


def _series(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:20]


def _progress(day: date) -> float:
    """From 0 at the plan's start to 1 by April 2028."""
    return min(1.0, max(0.0, (day - PLAN_START).days / 730))


def _complaint_days(seed: int, first: date, end: date) -> dict[date, int]:
    """Complaints received per weekday: each month about its calibrated number (11 a
    month at the plan's start, falling to 8 by April 2028; ~1 either way, so a month's
    count is a real figure rather than a small number), on weekdays drawn at random (a
    window starting mid-month has the rest of the month's share)."""
    rng = random.Random(f"complaints-{seed}")
    out: dict[date, int] = {}
    month = date(first.year, first.month, 1)
    while month < end:
        nxt = date(month.year + month.month // 12, month.month % 12 + 1, 1)
        weekdays = [d for d in days(month, nxt) if d.weekday() < 5]
        open_days = [d for d in weekdays if first <= d < end]
        share = len([d for d in weekdays if d >= first]) / max(1, len(weekdays))
        mean = (11 - 3 * _progress(month)) * share
        for _ in range(max(0, round(rng.gauss(mean, 1.0)))):
            if open_days:
                d = rng.choice(open_days)
                out[d] = out.get(d, 0) + 1
        month = nxt
    return out


def events(seed: int, first: date, end: date) -> Iterator[TimedEvent]:
    rng = random.Random(f"outcomes-{seed}")
    places = sorted(locality_names() - {"unknown"})
    out: list[TimedEvent] = []
    n = 0

    def add(day: date, etype: str, subject: str, data: dict[str, object], hour: int = 10) -> None:
        nonlocal n
        n += 1
        when = at(day, hour, rng)
        out.append(
            TimedEvent(
                when,
                {
                    "id": f"sim-outcome-{seed}-{n:09d}",
                    "source": SOURCE,
                    "type": etype,
                    "subject": subject,
                    "time": when.isoformat(),
                    "data": data,
                },
            )
        )

    def figures(term: str, day: date) -> None:
        t0, _ = term_bounds(term)
        p = _progress(t0)
        for (measure, cohort), (base, goal, neighbours, england) in FIGURES.items():
            local = base + (goal - base) * p + rng.gauss(0, abs(goal - base) * 0.08 + 0.01)
            for area, v in (
                ("local", local),
                ("statistical-neighbours", neighbours),
                ("england", england),
            ):
                add(
                    day,
                    "figure.reported",
                    f"figure-{_series(measure, cohort, area)}",
                    {
                        "measure": measure,
                        "cohort": cohort,
                        "area": area,
                        "period": term,
                        "value": round(max(0.0, v), 2),
                    },
                )

    previous_term = term_label(first)
    if previous_term is not None:
        # The council already holds what DfE published before the window: the figures of
        # the term before (out about three weeks after it ended) and each survey's latest
        # wave, received on the first day.
        t0, _ = term_bounds(previous_term)
        before = term_label(t0 - timedelta(days=1))
        if before is not None:
            published = term_bounds(before)[1] + timedelta(days=22)
            figures(before, max(first, published))
    latest: dict[str, tuple[date, str, str, float, int]] = {}
    for w in SURVEYS:
        if w[0] < first:
            latest[w[1]] = w
    for _posted, survey, wave_label, score, responses in latest.values():
        add(
            first,
            "survey.result.reported",
            f"survey-{_series(survey)}",
            {
                "survey": survey,
                "period": wave_label,
                "value": score,
                "responses": responses,
                "localities_represented": len(places),
            },
        )
    complaints = _complaint_days(seed, first, end)
    for day in days(first, end):
        term = term_label(day)
        if term != previous_term and previous_term is not None:
            figures(previous_term, day + timedelta(days=21))  # DfE publishes after the term
        previous_term = term
        p = _progress(day)
        if day.weekday() < 5:
            for _ in range(poisson(rng, 12 / 21)):  # 1-in-5 QA audits, ~12 a month
                n += 1
                add(
                    day,
                    "quality.audit.graded",
                    f"audit-{seed:04d}{n:08d}",
                    {
                        "grade": rng.choices([g for g, _ in GRADES], [w for _, w in GRADES])[0],
                        "locality": rng.choice(places),
                        "phase": rng.choice(["primary", "secondary"]),
                    },
                )
            for _ in range(poisson(rng, 9.0)):  # ~3,300 plans: ~9 annual reviews a day
                n += 1
                s = f"review-{seed:04d}{n:08d}"
                add(
                    day,
                    "review.meeting.held",
                    s,
                    {
                        "locality": rng.choice(places),
                        "phase": rng.choice(["primary", "secondary", "post-16"]),
                    },
                )
                decided = max(1, round(math.exp(rng.gauss(math.log(26 - 6 * p), 0.5))))
                decision = rng.choices(["amend", "maintain", "cease"], [0.45, 0.45, 0.10])[0]
                add(day + timedelta(decided), "review.decision.notified", s, {"decision": decision})
                if decision == "amend":
                    amended = decided + max(1, round(math.exp(rng.gauss(math.log(60), 0.4))))
                    add(day + timedelta(amended), "review.plan.amended", s, {})
            for _ in range(complaints.get(day, 0)):  # ~11 complaints a month
                n += 1
                c = f"complaint-{seed:04d}{n:08d}"
                add(
                    day,
                    "complaint.received",
                    c,
                    {"theme": rng.choice(THEMES), "locality": rng.choice(places)},
                )
                resolved = max(1, round(math.exp(rng.gauss(math.log(24), 0.5))))
                add(
                    day + timedelta(resolved),
                    "complaint.resolved",
                    c,
                    {"upheld": rng.random() < 0.3},
                )
            for route, per_month in (("tribunal", 0.42), ("mediation", 4.0)):
                for _ in range(poisson(rng, per_month * 12 / 260)):
                    n += 1
                    d = f"appeal-{seed:04d}{n:08d}"
                    add(
                        day,
                        "dispute.registered",
                        d,
                        {"route": route, "locality": rng.choice(places)},
                    )
                    decision = "agreed" if route == "mediation" else "conceded"
                    add(
                        day + timedelta(rng.randint(30, 180)),
                        "dispute.decided",
                        d,
                        {"route": route, "decision": decision},
                    )
        if day.month == 2 and day.day == 15:  # phase transfers due by 15 February
            for k in range(380):
                add(
                    day,
                    "transfer.plan.finalised",
                    f"transfer-{seed:04d}{day.year}{k:05d}",
                    {
                        "locality": rng.choice(places),
                        "phase": "secondary",
                        "by_deadline": rng.random() < 0.88 + 0.1 * p,
                    },
                )
        for posted, survey, wave, score, responses in SURVEYS:
            if day == posted:
                add(
                    day,
                    "survey.result.reported",
                    f"survey-{_series(survey)}",
                    {
                        "survey": survey,
                        "period": wave,
                        "value": score,
                        "responses": responses,
                        "localities_represented": len(places),
                    },
                )
    yield from sorted_until(out, end)


STREAM = Stream("outcomes", DEV_KEY, events)
