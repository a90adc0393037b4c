"""Streaming equals batch: random case histories, delivered shuffled, duplicated and in
random batches through the timeliness handlers (a real SQLite database), give exactly
the KPI cells of a plain recomputation from the raw events, and a replay in another
batch split gives the same cells again.

The recomputation below is deliberately independent of ``services.timeliness.domain``:
it reads the raw event dicts and applies the fold rules documented in ``case.py``
(earliest date wins, the first decision stands with ties to the smaller code, attributes
from the latest event carrying one with ties to the smaller value) and the KPI
definitions in the dictionary (each clock read as the dates it runs between, below).
"""

from __future__ import annotations

import json
import random
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.case_events import CASE_ATTRIBUTES
from contracts.clock_rules import load_clocks
from contracts.events import load_events
from contracts.kpi_dictionary import CompletedWithin, KpiDictionary, load_kpis
from sendwatch.db import make_engine, migrate
from services.timeliness import views
from services.timeliness.domain.engine import Engine
from services.timeliness.service_layer import handlers
from services.timeliness.service_layer.handlers import Incoming
from services.timeliness.service_layer.messages import Topics
from services.timeliness.service_layer.unit_of_work import SqlUnitOfWork
from tests import oracle_v1 as oracle
from tests.helpers import (
    ADVICE_RECEIVED,
    ADVICE_REQUESTED,
    ASSESSMENT_DECISION,
    CEASED,
    DECIDE_TO_ASSESS,
    DRAFT,
    EXCEPTION,
    FINAL,
    NEED,
    REQUEST,
    TRANSFER_IN,
    TRANSFER_OUT,
)

GIVERS_ = ["education", "ep", "health", "social_care"]
V1 = oracle.load_v1()
KPIS = load_kpis()
RULES = load_clocks()
REGISTRY = load_events()
CFG = handlers.Config(Engine(KPIS, RULES, REGISTRY), REGISTRY, Topics("snap", "ms"))
# The dates each EHCNA clock of clocks.yaml runs between, in the reference's own terms.
CLOCK_DATES = {
    "final_plan": ("received", "final_issued"),
    "decision_to_assess": ("received", "assess_decision"),
    "not_issue_decision": ("received", "not_issue_decision"),
    **{f"advice_{g}": (f"advice_requested:{g}", f"advice_received:{g}") for g in GIVERS_},
}
LONDON = ZoneInfo("Europe/London")
# In the past, so every generated date (up to ~3 years on) is inside the plausibility
# window whenever the test runs.
EPOCH = date(2022, 1, 1)
OVER_A_YEAR = 365

# A withdrawn request (decision-to-assess W) is not a decision whether to assess, so it
# does not count in decision_6wk (see test_timeliness_domain.py).
WITHDRAWN_REQUEST_COUNTS_AS_DECISION = False


GIVERS = GIVERS_
LOCALITIES = ["bridgnorth", "ludlow", "oswestry", "shrewsbury"]
AGE_BANDS = ["under-5", "5-10", "11-15", "16-19"]
PHASES = ["early-years", "primary", "secondary", "post-16"]
SEXES = [None, "F", "M", "U"]
NEEDS = [None, "ASD", "SEMH", "SLCN", "MLD"]
ETHNICITIES = [None, "WBRI", "ABAN"]
# 23:30 UTC is the next day in England in summer; few distinct times make ties likely
CLOCK_TIMES = [time(0, 30), time(9, 0), time(23, 30)]


# --- generating case histories ----------------------------------------------------------


@st.composite
def attributes(draw: st.DrawFn, person: str) -> dict[str, Any]:
    data: dict[str, Any] = {
        "person_id": person,
        "locality": draw(st.sampled_from(LOCALITIES)),
        "age_band": draw(st.sampled_from(AGE_BANDS)),
        "phase": draw(st.sampled_from(PHASES)),
    }
    for key, options in (("sex", SEXES), ("primary_need", NEEDS), ("ethnicity", ETHNICITIES)):
        value = draw(st.sampled_from(options))
        if value is not None:
            data[key] = value
    return data


@st.composite
def case_history(draw: st.DrawFn, index: int) -> list[dict[str, Any]]:
    """The raw events of one case: a random subset of everything that can happen."""
    subject = f"case-{index:06d}"
    person = f"p-{draw(st.integers(0, 3)):06d}"  # a person may have several requests
    start = EPOCH + timedelta(days=draw(st.integers(0, 729)))
    base = draw(attributes(person))
    specs: list[tuple[str, int, dict[str, Any]]] = []

    def day(lo: int, hi: int, *edges: int) -> int:
        """A day offset in [lo, hi], often one of the limits' edges."""
        if edges and draw(st.booleans()):
            return draw(st.sampled_from(edges))
        return draw(st.integers(lo, hi))

    entry = draw(st.sampled_from(["request"] * 6 + ["transfer", "nothing"]))
    if entry == "request":
        extra = draw(st.sampled_from([{}, {"historical": False}, {}, {}, {"historical": True}]))
        specs.append((REQUEST, 0, extra))
        if draw(st.integers(0, 4)) == 0:  # a second request record for the same case
            specs.append((REQUEST, day(-10, 10), {}))
    elif entry == "transfer":
        extra = draw(st.sampled_from([{}, {"historical": False}, {"historical": True}]))
        specs.append((TRANSFER_IN, 0, {"other_la": "894", **extra}))
    for _ in range(draw(st.integers(0, 2))):
        specs.append(
            (DECIDE_TO_ASSESS, day(-2, 80, 41, 42, 43), {"outcome": draw(st.sampled_from("YNW"))})
        )
    for giver in GIVERS:
        if draw(st.booleans()):
            asked = day(0, 120)
            specs.append((ADVICE_REQUESTED, asked, {"advice_giver": giver}))
            if draw(st.booleans()):
                specs.append(
                    (ADVICE_RECEIVED, asked + day(-3, 80, 41, 42, 43), {"advice_giver": giver})
                )
    if draw(st.integers(0, 3)) == 0:
        reason = draw(st.sampled_from(["10(4)(a)", "10(4)(b)", "unspecified"]))
        specs.append((EXCEPTION, day(0, 200), {"reason": reason}))
    if draw(st.booleans()):
        specs.append((DRAFT, day(0, 300), {}))
    for _ in range(draw(st.sampled_from([0, 1, 1, 2]))):
        outcome = draw(st.sampled_from("YYNW"))
        specs.append((ASSESSMENT_DECISION, day(0, 300, 111, 112, 113), {"outcome": outcome}))
    for _ in range(draw(st.sampled_from([0, 1, 1, 1, 2]))):
        specs.append((FINAL, day(-5, 450, 139, 140, 141, 364, 365, 366), {}))
    if draw(st.integers(0, 3)) == 0:
        specs.append((NEED, day(0, 300), {"sen_type": draw(st.sampled_from(NEEDS[1:]))}))
        if draw(st.booleans()):
            specs[-1][2]["rank"] = draw(st.sampled_from([1, 2]))
    if draw(st.integers(0, 5)) == 0:
        specs.append((CEASED, day(0, 500), {"cease_reason": "2"}))
    if draw(st.integers(0, 5)) == 0:
        specs.append((TRANSFER_OUT, day(0, 500), {"other_la": "893"}))

    events: list[dict[str, Any]] = []
    moments: list[datetime] = []
    for n, (etype, offset, extra) in enumerate(specs):
        on = start + timedelta(days=offset)
        tie = draw(st.integers(0, 3)) if moments else 3
        if tie == 0:  # at the same instant as an earlier event: attribute ties
            moment = moments[draw(st.integers(0, n - 1))]
        else:
            if tie == 1:  # on the same day as an earlier event: decision ties
                on = moments[draw(st.integers(0, n - 1))].date()
            moment = datetime.combine(on, draw(st.sampled_from(CLOCK_TIMES)), tzinfo=UTC)
        moments.append(moment)
        attrs = base if draw(st.booleans()) else draw(attributes(person))
        events.append(
            {
                "id": f"ev-{index:04d}-{n:04d}",
                "source": "case-management",
                "type": etype,
                "subject": subject,
                "time": moment.isoformat(),
                "data": {**attrs, **extra},
            }
        )
    return events


@st.composite
def histories(draw: st.DrawFn) -> list[dict[str, Any]]:
    cases = draw(st.integers(1, 10))
    return [e for i in range(cases) for e in draw(case_history(i))]


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(events in delivery order with duplicates, clock ticks) for one history."""
    events = draw(histories())
    rng = draw(st.randoms(use_true_random=False))
    stream = list(events)
    for e in rng.sample(events, k=rng.randint(0, len(events) // 2)):
        if rng.random() < 0.5:
            stream.append(e)  # redelivered: the same id
        else:  # the same fact sent again under a new id
            stream.append({**e, "id": e["id"] + "-again"})
    rng.shuffle(stream)
    ticks = [
        {
            "id": f"tick-{n:04d}",
            "source": "clock",
            "type": "clock.tick",
            "subject": "clock:day",
            "time": datetime.combine(
                EPOCH + timedelta(days=rng.randint(0, 1200)), time(23, 59), tzinfo=UTC
            ).isoformat(),
            "data": {"partition": 0},
        }
        for n in range(rng.randint(0, 3))
    ]
    return stream, ticks


# --- streaming through the unit of work --------------------------------------------------


def incoming(raw: dict[str, Any]) -> Incoming:
    return Incoming(REGISTRY.parse(json.dumps(raw)), "case-events", 0)


def split(items: list[Incoming], rng: random.Random) -> list[list[Incoming]]:
    batches: list[list[Incoming]] = []
    n = 0
    while n < len(items):
        size = rng.randint(1, max(1, len(items) // 3))
        batches.append(items[n : n + size])
        n += size
    return batches


AggKey = tuple[str, str, str]
AggVal = tuple[int, int, int, int]


def stream_into(path: Path, batches: list[list[Incoming]]) -> tuple[Any, dict[AggKey, AggVal]]:
    engine = make_engine(f"sqlite:///{path}")
    migrate("timeliness", engine)
    for batch in batches:
        handlers.apply_batch(SqlUnitOfWork(engine), batch, CFG)
    return engine, aggregates(engine)


def aggregates(engine: Any) -> dict[AggKey, AggVal]:
    """The completed-within cells as (within the limit, completions, days, completions
    after 52 weeks or more; the last only for the KPIs with DfE's bands)."""
    out: dict[AggKey, AggVal] = {}
    with SqlUnitOfWork(engine) as uow:
        cells = uow.repo.cells_where()
    for key, cell in cells.items():
        k = KPIS.kpis[key[0]]
        if not isinstance(k, CompletedWithin) or key[1] == "current":
            continue
        v = cell.counts
        n = len(k.thresholds)
        value = (v[1], v[0], v[1 + n], v[-1] if k.bands else 0)
        if value != (0, 0, 0, 0):
            out[key] = value
    return out


def current(engine: Any) -> dict[tuple[str, str], tuple[Any, ...]]:
    """The current position: (kpi, breakdown) -> (value, numerator, denominator, extra
    without the sentence)."""
    values = views.kpi_values(SqlUnitOfWork(engine), KPIS, cycle="current")
    out = {}
    for v in values:
        extra = {k: x for k, x in v.extra.items() if k != "summary"}
        out[(v.kpi, v.breakdown)] = (v.value, v.numerator, v.denominator, extra)
    return out


# --- the batch recomputation from raw events ---------------------------------------------


def local_day(raw: dict[str, Any]) -> date:
    return datetime.fromisoformat(raw["time"]).astimezone(LONDON).date()


def attribute_of(raw: dict[str, Any], dim: str) -> str | None:
    data = raw["data"]
    if dim == "primary_need" and raw["type"] == NEED and data.get("rank", 1) == 1:
        return str(data["sen_type"])
    return data.get(dim)


@dataclass
class RefCase:
    case_id: str
    received: date | None = None
    historical: bool = False
    decision: tuple[date, str] | None = None
    assessment: tuple[date, str] | None = None
    final: date | None = None
    ended: list[date] = field(default_factory=list)  # transferred out, ceased
    exception: bool = False
    advice_requested: dict[str, date] = field(default_factory=dict)
    advice_received: dict[str, date] = field(default_factory=dict)
    attrs: dict[str, str | None] = field(default_factory=dict)

    def milestone(self, name: str) -> date | None:
        if ":" in name:
            kind, giver = name.split(":", 1)
            tables = {"advice_requested": self.advice_requested}
            tables["advice_received"] = self.advice_received
            assert kind in tables, name
            return tables[kind].get(giver)
        if name == "received":
            return self.received
        if name == "final_issued":
            return self.final
        if name in ("decision_to_assess", "assess_decision"):
            if self.decision is None:
                return None
            if self.decision[1] == "W" and not WITHDRAWN_REQUEST_COUNTS_AS_DECISION:
                return None
            return self.decision[0]
        if name == "not_issue_decision":
            return self.assessment[0] if self.assessment and self.assessment[1] == "N" else None
        raise AssertionError(f"the reference does not know the milestone {name!r}")

    @property
    def is_open(self) -> bool:
        if self.received is None or self.historical:
            return False
        ends = list(self.ended)
        if self.final:
            ends.append(self.final)
        for decided in (self.decision, self.assessment):
            if decided and decided[1] in ("N", "W"):
                ends.append(decided[0])
        return not ends


def earliest(current: Any, candidate: Any) -> Any:
    return candidate if current is None or candidate < current else current


def reference_cases(stream: list[dict[str, Any]], dims: list[str]) -> dict[str, RefCase]:
    cases: dict[str, RefCase] = {}
    latest: dict[tuple[str, str], tuple[datetime, str]] = {}
    for raw in stream:
        c = cases.setdefault(raw["subject"], RefCase(raw["subject"]))
        data, etype, d = raw["data"], raw["type"], local_day(raw)
        if etype == REQUEST:
            c.received = earliest(c.received, d)
            c.historical |= data.get("historical", False)
        elif etype == TRANSFER_IN:
            if data.get("historical", True):
                c.historical = True
            else:
                c.received = earliest(c.received, d)
        elif etype == DECIDE_TO_ASSESS:
            c.decision = earliest(c.decision, (d, data["outcome"]))
        elif etype == ASSESSMENT_DECISION:
            c.assessment = earliest(c.assessment, (d, data["outcome"]))
        elif etype == FINAL:
            c.final = earliest(c.final, d)
        elif etype in (CEASED, TRANSFER_OUT):
            c.ended.append(d)
        elif etype == EXCEPTION:
            c.exception = True
        elif etype == ADVICE_REQUESTED:
            g = data["advice_giver"]
            c.advice_requested[g] = earliest(c.advice_requested.get(g), d)
        elif etype == ADVICE_RECEIVED:
            g = data["advice_giver"]
            c.advice_received[g] = earliest(c.advice_received.get(g), d)
        at = datetime.fromisoformat(raw["time"])
        for dim in dims:
            value = attribute_of(raw, dim)
            if value is None:
                continue
            seen = latest.get((c.case_id, dim))
            # the latest event wins; at the same instant, the smaller value
            if seen is None or at > seen[0] or (at == seen[0] and value < seen[1]):
                latest[(c.case_id, dim)] = (at, value)
    for (case_id, dim), (_, value) in latest.items():
        cases[case_id].attrs[dim] = value
    return cases


# the case attributes the dictionary breaks down by (other domains' KPIs have their own)
ALL_DIMS = sorted({d for kpi in KPIS.kpis for d in KPIS.breakdowns_of(kpi)} & set(CASE_ATTRIBUTES))


def reference_current(
    stream: list[dict[str, Any]], messages: list[dict[str, Any]], expected: dict[AggKey, AggVal]
) -> dict[tuple[str, str], tuple[Any, ...]]:
    """Open caseload, backlog past week 20 and the quarter's outlook, from the raw events,
    as at the day of the latest tick (or, with none, the latest message)."""
    ticks = [datetime.fromisoformat(m["time"]) for m in messages if m["type"] == "clock.tick"]
    latest = max(ticks) if ticks else max(datetime.fromisoformat(m["time"]) for m in messages)
    today = latest.astimezone(LONDON).date()
    cases = [c for c in reference_cases(stream, ALL_DIMS).values() if c.is_open]
    out: dict[tuple[str, str], tuple[Any, ...]] = {}
    for kpi, late_only in (("open_caseload", False), ("backlog_over_20wk", True)):
        counted = [c for c in cases if not late_only or (today - c.received).days > 140]  # type: ignore[operator]
        out[(kpi, "all")] = (float(len(counted)), len(counted), None, {})
        for loc in sorted({c.attrs["locality"] for c in cases}):
            n = sum(1 for c in counted if c.attrs["locality"] == loc)
            out[(kpi, f"locality={loc}")] = (float(n), n, None, {})
    quarter = cycle_labels("quarter", today)[0]
    for kpi in ("ehcp_20wk", "ehcp_20wk_ex"):
        eligible = [c for c in cases if not (kpi == "ehcp_20wk_ex" and c.exception)]
        late = sum(1 for c in eligible if (today - c.received).days > 140)  # type: ignore[operator]
        num, den = expected.get((kpi, quarter, "all"), (0, 0, 0, 0))[:2]
        total = den + len(eligible)
        best = round(100.0 * (num + len(eligible) - late) / total, 1) if total else None
        target = oracle.target_for(V1.kpis[kpi], quarter)
        possible = None if target is None or best is None else best >= target
        extra = {
            "quarter": quarter,
            "open_cases": len(eligible),
            "certain_breaches": late,
            "target_still_possible": possible,
        }
        out[(kpi, "outlook")] = (best, num, den, extra)
    return out


def plan_year(d: date) -> int:
    return d.year if d.month >= 4 else d.year - 1


def cycle_labels(kind: str, d: date) -> list[str]:
    py = plan_year(d)
    py_label = f"{py}/{str(py + 1)[-2:]}"
    if kind == "week":
        iso_year, week, _ = d.isocalendar()
        return [f"{iso_year}-W{week:02d}"]
    if kind == "month":
        return [f"{d.year}-{d.month:02d}"]
    if kind == "quarter":
        quarter = {4: 1, 5: 1, 6: 1, 7: 2, 8: 2, 9: 2, 10: 3, 11: 3, 12: 3}.get(d.month, 4)
        return [f"{py_label}-Q{quarter}"]
    if kind == "plan_year":
        return [py_label]
    if kind == "calendar_year":
        return [str(d.year)]
    if kind == "rolling_12":  # every 12-month window ending in this month or the next 11
        ends = [(d.year + (d.month - 1 + k) // 12, (d.month - 1 + k) % 12 + 1) for k in range(12)]
        return [f"R12-{y}-{m:02d}" for y, m in ends]
    raise AssertionError(f"the reference does not know the cycle kind {kind!r}")


def batch_aggregates(stream: list[dict[str, Any]], kpis: KpiDictionary) -> dict[AggKey, AggVal]:
    assert kpis.plan_year_start_month == 4  # cycle_labels assumes April-March plan years
    totals: dict[AggKey, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for c in reference_cases(stream, ALL_DIMS).values():
        if c.historical or c.received is None:
            continue
        for kpi_id, k in kpis.kpis.items():
            if not isinstance(k, CompletedWithin) or k.clock not in CLOCK_DATES:
                continue
            dims = kpis.breakdowns_of(kpi_id)
            breakdowns = ["all"] + [f"{dim}={c.attrs.get(dim) or 'unknown'}" for dim in dims]
            if k.exclude_if and c.exception:
                continue
            first, last = CLOCK_DATES[k.clock]
            start, end = c.milestone(first), c.milestone(last)
            if start is None or end is None or end < start:
                continue
            days = (end - start).days
            limit = k.thresholds[0].days
            for kind in k.cycles:
                for cycle in cycle_labels(kind, end):
                    for b in breakdowns if kind != "rolling_12" else ["all"]:
                        t = totals[(kpi_id, cycle, b)]
                        t[0] += days <= limit
                        t[1] += 1
                        t[2] += days
                        t[3] += days >= OVER_A_YEAR and bool(k.bands)
    return {key: (t[0], t[1], t[2], t[3]) for key, t in totals.items() if any(t)}


def assert_folded_as_documented(state: Any, ref: RefCase) -> None:
    """The stored case state holds what the fold rules say (one case)."""
    assert (state.received, state.historical, state.final_issued) == (
        ref.received,
        ref.historical,
        ref.final,
    )
    assert (state.decision_to_assess, state.decision_outcome) == (ref.decision or (None, None))
    assert (state.assessment_decision, state.assessment_outcome) == (ref.assessment or (None, None))
    assert state.advice_requested == ref.advice_requested
    assert state.advice_received == ref.advice_received
    assert state.has_exception == ref.exception
    assert {d: getattr(state, d) for d in ALL_DIMS} == {d: ref.attrs.get(d) for d in ALL_DIMS}


# --- the property -----------------------------------------------------------------------------


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(delivery=deliveries(), split_seed=st.integers(0, 2**32 - 1))
def test_streaming_equals_batch_and_a_replay_gives_the_same(
    delivery: tuple[list[dict[str, Any]], list[dict[str, Any]]], split_seed: int
) -> None:
    stream, ticks = delivery
    rng = random.Random(split_seed)
    messages = list(stream)
    for tick in ticks:  # ticks land anywhere in the stream
        messages.insert(rng.randint(0, len(messages)), tick)
    items = [incoming(raw) for raw in messages]
    expected = batch_aggregates(stream, KPIS)

    with tempfile.TemporaryDirectory() as tmp:
        first, streamed = stream_into(Path(tmp) / "a.db", split(items, rng))
        second, replayed = stream_into(Path(tmp) / "b.db", split(items, rng))
        try:
            missing = {k: v for k, v in expected.items() if streamed.get(k) != v}
            extra = {k: v for k, v in streamed.items() if k not in expected}
            assert streamed == expected, f"differs from batch: {missing=} {extra=}"
            assert replayed == streamed
            # the current position too: caseload, backlog and the quarter's outlook
            now = reference_current(stream, messages, expected)
            got = current(first)
            # a locality that no longer has open cases is published as zero
            gone = {k for k, v in got.items() if k not in now and not v[1]}
            assert {k: v for k, v in got.items() if k not in gone} == now
            # the same cases in both databases, and the open ones as the reference says
            states = sorted(views.case_states(SqlUnitOfWork(first)), key=lambda s: s.case_id)
            again = views.case_states(SqlUnitOfWork(second))
            assert states == sorted(again, key=lambda s: s.case_id)
            reference = reference_cases(stream, ALL_DIMS)
            assert {s.case_id for s in views.open_case_states(SqlUnitOfWork(first))} == {
                c.case_id for c in reference.values() if c.is_open
            }
            assert [s.case_id for s in states] == sorted(reference)
            for state in states:
                assert_folded_as_documented(state, reference[state.case_id])
            unique_ids = {raw["id"] for raw in messages}
            assert views.caseload(SqlUnitOfWork(first)).events_applied == len(unique_ids)
            # redelivering everything to the first database changes nothing
            assert handlers.apply_batch(SqlUnitOfWork(first), items, CFG) == 0
            assert aggregates(first) == streamed
        finally:
            first.dispose()
            second.dispose()
