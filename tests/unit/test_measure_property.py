"""Streaming equals batch for every measure kind: random histories of the fixture's
subjects (referrals, complaints, persons, service lines, reported figures and EHCNA
cases), delivered shuffled, duplicated (same id and new id), with clock ticks anywhere
and in random batches through the handlers (a real SQLite database), give exactly the
cells of a plain computation from the raw events: flow cells, closed census cycles
(recounted when late events change them) and the current position.  Replaying the same
messages in another split gives the same cells, and redelivering them changes nothing.

The reference below reads the raw event dicts and the rules written in the fixture's
YAML and in ``docs/design/measure-engine.md``; it does not use the engine.
"""

from __future__ import annotations

import json
import math
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

from contracts.cycles import bounds, closed_on, following, kind_of, label_for, labels_for
from sendwatch.db import make_engine, migrate
from services.timeliness.service_layer import handlers
from services.timeliness.service_layer.unit_of_work import SqlUnitOfWork
from tests import engine_fixture as fx

CFG = fx.config()
KPIS = CFG.engine.dictionary
LONDON = ZoneInfo("Europe/London")
EPOCH = date(2026, 1, 1)
TIMES = [time(0, 30), time(9, 0), time(23, 30)]  # 23:30 UTC is tomorrow in summer
LOCALITIES = ["ludlow", "oswestry"]
V2_FROM = date(2026, 9, 1)  # slt_rtt version 2: a telephone contact stops the clock

Raw = dict[str, Any]
Key = tuple[str, str, str]


# --- generating histories ----------------------------------------------------------------


@st.composite
def history(draw: st.DrawFn) -> list[Raw]:
    events: list[tuple[str, str, int, dict[str, Any]]] = []  # (type, subject, day, data)

    def day(lo: int = 0, hi: int = 500) -> int:
        return draw(st.integers(lo, hi))

    for n in range(draw(st.integers(0, 4))):  # referrals
        sid, start = f"ref-{n:06d}", day(0, 400)
        for _ in range(draw(st.integers(1, 2))):
            events.append(
                (
                    "fixture.referral.received",
                    sid,
                    start + day(-3, 3),
                    {
                        "locality": draw(st.sampled_from(LOCALITIES)),
                        "service": draw(st.sampled_from(["slt", "slt", "ot"])),
                    },
                )
            )
        if draw(st.booleans()):
            events.append(
                (
                    "fixture.referral.triaged",
                    sid,
                    start + day(0, 20),
                    {"outcome": draw(st.sampled_from(["accepted", "rejected"]))},
                )
            )
        for _ in range(draw(st.integers(0, 3))):
            events.append(
                (
                    "fixture.referral.contact",
                    sid,
                    start + day(-5, 200),
                    {
                        "attendance": draw(
                            st.sampled_from(["attended", "attended", "dna", "cancelled"])
                        ),
                        "mechanism": draw(
                            st.sampled_from(["face_to_face", "video", "telephone", "letter"])
                        ),
                    },
                )
            )
        for etype in ("fixture.referral.paused", "fixture.referral.resumed"):
            if draw(st.integers(0, 2)) == 0:
                events.append((etype, sid, start + day(0, 150), {}))
        if draw(st.integers(0, 3)) == 0:
            events.append(("fixture.referral.discharged", sid, start + day(0, 250), {}))
    for n in range(draw(st.integers(0, 3))):  # complaints
        events.append(
            (
                "fixture.complaint.received",
                f"cmp-{n:06d}",
                day(),
                {"locality": draw(st.sampled_from(LOCALITIES))},
            )
        )
    for n in range(draw(st.integers(0, 4))):  # persons
        sid = f"person-{n:06d}"
        for _ in range(draw(st.integers(0, 2))):
            events.append(
                (
                    "fixture.eah.contact",
                    sid,
                    day(),
                    {
                        "phase": draw(st.sampled_from(["primary", "secondary"])),
                        "service": draw(st.sampled_from(["slt", "ot"])),
                    },
                )
            )
        if draw(st.booleans()):
            start = day(0, 400)
            events.append(
                (
                    "fixture.plan.started",
                    sid,
                    start,
                    {"cohort": draw(st.sampled_from(["ehcp", "ehcp", "sen-support"]))},
                )
            )
            if draw(st.integers(0, 2)) == 0:
                events.append(("fixture.plan.ended", sid, start + day(0, 200), {}))
        if draw(st.booleans()):
            data: dict[str, Any] = {
                "setting": draw(st.sampled_from(["inmss", "inclusion-base", "mainstream"]))
            }
            if draw(st.booleans()):
                data["base"] = draw(st.sampled_from(["ludlow-base", "oswestry-base"]))
            events.append(("fixture.placement.started", sid, day(), data))
            if draw(st.integers(0, 2)) == 0:
                events.append(("fixture.placement.ended", sid, day(), {}))
    for base in draw(st.sets(st.sampled_from(["ludlow-base", "oswestry-base"]))):
        for _ in range(draw(st.integers(1, 3))):
            events.append(
                (
                    "fixture.capacity.commissioned",
                    f"svc-{len(base):06d}",  # one pseudonymous id per base
                    day(),
                    {"base": base, "places": draw(st.integers(0, 12))},
                )
            )
    for cohort in draw(st.sets(st.sampled_from(["ehcp", "sen-support"]))):
        for _ in range(draw(st.integers(1, 3))):
            period = draw(st.sampled_from(["2026/27-T1", "2026/27-T2", "2026-11", "2027-01"]))
            data = {
                "cohort": cohort,
                "measure": "attendance",
                "period": period,
                "value": draw(st.sampled_from([80.0, 84.8, 91.25])),
            }
            if draw(st.booleans()):
                data["responses"] = draw(st.sampled_from([5, 200]))
            events.append(("fixture.figure.reported", f"fig-{len(cohort):06d}", day(), data))
    for n in range(draw(st.integers(0, 3))):  # EHCNA cases with appeals
        sid = f"case-{n:08d}"
        attrs = {
            "person_id": f"p-{n:08d}",
            "locality": draw(st.sampled_from(LOCALITIES)),
            "age_band": "5-10",
            "phase": "primary",
        }
        for _ in range(draw(st.integers(0, 2))):
            events.append(("ehc.plan.final-issued", sid, day(), dict(attrs)))
        for _ in range(draw(st.integers(0, 2))):
            events.append(("fixture.tribunal.appeal", sid, day(), {}))
    raws: list[Raw] = []
    moments: list[datetime] = []
    for n, (etype, sid, offset, data) in enumerate(events):
        if moments and draw(st.integers(0, 4)) == 0:
            moment = moments[draw(st.integers(0, len(moments) - 1))]  # ties
        else:
            moment = datetime.combine(
                EPOCH + timedelta(days=offset), draw(st.sampled_from(TIMES)), tzinfo=UTC
            )
        moments.append(moment)
        raws.append(fx.event(etype, sid, moment, n=n, **data))
    return raws


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[list[Raw], list[Raw]]:
    raws = draw(history())
    rng = draw(st.randoms(use_true_random=False))
    stream = list(raws)
    for e in rng.sample(raws, k=rng.randint(0, len(raws) // 2)):
        stream.append(e if rng.random() < 0.5 else {**e, "id": e["id"] + "-again"})
    rng.shuffle(stream)
    # Ticks stay inside the plausibility window (at most a year after today).
    ticks = [
        fx.tick(EPOCH + timedelta(days=rng.randint(0, 650)), n) for n in range(rng.randint(0, 3))
    ]
    return stream, ticks


# --- the reference -----------------------------------------------------------------------


def day_of(raw: Raw) -> date:
    return datetime.fromisoformat(raw["time"]).astimezone(LONDON).date()


ATTRS = {  # the attribute fields of each type (events.yaml), the rest are fact fields
    "fixture.referral.received": ("locality", "service"),
    "fixture.complaint.received": ("locality",),
    "fixture.eah.contact": ("phase",),
    "fixture.plan.started": ("cohort",),
    "fixture.placement.started": ("base",),
    "fixture.capacity.commissioned": ("base",),
    "fixture.figure.reported": ("cohort",),
    "ehc.plan.final-issued": ("person_id", "locality", "age_band", "phase"),
}


@dataclass
class Ref:
    facts: dict[tuple[str, str, str], tuple[date, datetime, dict[str, Any]]] = field(
        default_factory=dict
    )
    attrs: dict[str, tuple[datetime, str]] = field(default_factory=dict)

    def of(self, etype: str) -> list[tuple[date, datetime, dict[str, Any]]]:
        return sorted(
            (f for (t, _, _), f in self.facts.items() if t == etype), key=lambda f: (f[0], f[1])
        )

    def attr(self, name: str) -> str | None:
        found = self.attrs.get(name)
        return found[1] if found else None

    def first_day(self, etype: str, ok: Any = lambda f: True) -> date | None:
        days = [f[0] for f in self.of(etype) if ok(f[2])]
        return min(days) if days else None


def subjects_of(stream: list[Raw]) -> dict[str, Ref]:
    out: dict[str, Ref] = defaultdict(Ref)
    for raw in stream:
        s = out[raw["subject"]]
        attrs = ATTRS.get(raw["type"], ())
        fields = {k: v for k, v in raw["data"].items() if k not in attrs}
        if raw["type"] == "fixture.figure.reported":
            fields.setdefault("responses", None)
        if raw["type"] == "fixture.placement.started" or raw["type"] == "ehc.plan.final-issued":
            fields = {k: v for k, v in fields.items()}
        canon = json.dumps(fields, sort_keys=True, separators=(",", ":"))
        at = datetime.fromisoformat(raw["time"])
        s.facts[(raw["type"], at.isoformat(), canon)] = (day_of(raw), at, fields)
        for name in attrs:
            value = raw["data"].get(name)
            if value is None:
                continue
            seen = s.attrs.get(name)
            if seen is None or at > seen[0] or (at == seen[0] and value < seen[1]):
                s.attrs[name] = (at, value)
    return out


@dataclass
class RefClock:
    start: date | None
    stop: date | None = None
    end: date | None = None
    nullified: bool = False
    pause_on: set[date] = field(default_factory=set)
    resume_on: set[date] = field(default_factory=set)

    @property
    def close(self) -> date | None:
        days = [d for d in (self.stop, self.end) if d is not None]
        return min(days) if days else None

    def wait(self, on: date) -> int:
        """Days from the start to ``on``, less the days spent paused: walk the days, a
        pause on a day takes effect that day, a resume the same day undoes it."""
        assert self.start is not None
        paused, waited, d = False, 0, self.start
        while d < on:
            if d in self.pause_on:
                paused = True
            if d in self.resume_on:
                paused = False
            waited += not paused
            d += timedelta(days=1)
        return waited


def rtt(s: Ref) -> RefClock:
    if s.attr("service") != "slt" or not s.of("fixture.referral.received"):
        return RefClock(None)
    start = s.first_day("fixture.referral.received")
    assert start is not None
    ways = {"face_to_face", "video"} | ({"telephone"} if start >= V2_FROM else set())
    stop = s.first_day(
        "fixture.referral.contact",
        lambda f: f["attendance"] == "attended" and f["mechanism"] in ways,
    )
    contacts = s.of("fixture.referral.contact")
    first = min(contacts, key=lambda f: (f[0], f[2]["attendance"])) if contacts else None
    return RefClock(
        start,
        stop,
        s.first_day("fixture.referral.discharged"),
        first is not None and first[2]["attendance"] == "dna",
        {f[0] for f in s.of("fixture.referral.paused")},
        {f[0] for f in s.of("fixture.referral.resumed")},
    )


def simple(s: Ref, start: str, end: str, ok: Any = lambda f: True) -> RefClock:
    return RefClock(s.first_day(start, ok), None, s.first_day(end))


def cycles_of(kpi: str, d: date) -> list[str]:
    return [c for kind in KPIS.kpis[kpi].cycles if kind != "current" for c in labels_for(kind, d)]


def breakdowns(kpi: str, s: Ref) -> list[str]:
    return ["all"] + [f"{d}={s.attr(d) or 'unknown'}" for d in KPIS.breakdowns_of(kpi)]


def add(out: dict[Key, list[int]], kpi: str, cycle: str, s: Ref, vec: list[int]) -> None:
    for b in breakdowns(kpi, s) if not cycle.startswith("R12-") else ["all"]:
        cell = out.setdefault((kpi, cycle, b), [0] * len(vec))
        for i, x in enumerate(vec):
            cell[i] += x


def flow(refs: dict[str, Ref]) -> dict[Key, list[int]]:
    out: dict[Key, list[int]] = {}
    for s in refs.values():
        c = rtt(s)
        if c.start and not c.nullified and c.stop and c.stop >= c.start:
            d = c.wait(c.stop)
            for cyc in cycles_of("fixture_slt_18wk", c.stop):
                add(out, "fixture_slt_18wk", cyc, s, [1, int(d <= 42), int(d <= 126), d])
        triage = s.of("fixture.referral.triaged")
        if triage:
            f = min(triage, key=lambda f: (f[0], f[2]["outcome"]))
            for cyc in cycles_of("fixture_referrals_accepted", f[0]):
                add(
                    out,
                    "fixture_referrals_accepted",
                    cyc,
                    s,
                    [1, int(f[2]["outcome"] == "accepted")],
                )
        for f in s.of("fixture.complaint.received"):
            for cyc in cycles_of("fixture_complaints", f[0]):
                add(out, "fixture_complaints", cyc, s, [1])
        reach: dict[str, int] = defaultdict(int)
        for f in s.of("fixture.eah.contact"):
            if f[2]["service"] == "slt":
                for cyc in cycles_of("fixture_eah_reach", f[0]):
                    reach[cyc] += 1
        for cyc, n in reach.items():
            add(out, "fixture_eah_reach", cyc, s, [1, n])
        for etype, vec in (("fixture.tribunal.appeal", [1, 0]), ("ehc.plan.final-issued", [0, 1])):
            for f in s.of(etype):
                for cyc in cycles_of("fixture_tribunal_rate", f[0]):
                    add(out, "fixture_tribunal_rate", cyc, s, vec)
        latest: dict[str, tuple[datetime, str, dict[str, Any]]] = {}
        if s.attr("cohort") == "ehcp":
            for (t, _, canon), (_, at, fields) in s.facts.items():
                if t == "fixture.figure.reported" and fields["measure"] == "attendance":
                    p = fields["period"]
                    if kind_of(p) in KPIS.kpis["fixture_attendance_ehcp"].cycles and (
                        p not in latest or (at, canon) > latest[p][:2]
                    ):
                        latest[p] = (at, canon, fields)
        for p, (_, _, fields) in latest.items():
            n = fields.get("responses")
            add(
                out,
                "fixture_attendance_ehcp",
                p,
                s,
                [1, round(fields["value"] * 1_000_000), n or 0, int(n is not None)],
            )
    return {k: v for k, v in out.items() if any(v)}


def census(refs: dict[str, Ref], kpi: str, on: date, current: bool) -> dict[str, list[int]]:
    def member(start: date | None, close: date | None) -> bool:
        if start is None:
            return False
        return close is None if current else start <= on and (close is None or close > on)

    out: dict[str, list[int]] = {}
    if kpi == "fixture_slt_waiting":
        waits: dict[str, list[int]] = defaultdict(list)
        for s in refs.values():
            c = rtt(s)
            if member(c.start, c.close):
                for b in breakdowns(kpi, s):
                    waits[b].append(c.wait(on))
        bounds_ = [7, 14, 28, 84, 126, 364]
        out["all"] = [0] * (4 + len(bounds_) + 1 + 3)
        for b, ws in waits.items():
            ws.sort()
            bands = [0] * (len(bounds_) + 1)
            for w in ws:
                bands[next((i for i, x in enumerate(bounds_) if w <= x), len(bounds_))] += 1
            within = sum(1 for w in ws if w <= 126)
            pct = [ws[max(1, math.ceil(p / 100 * len(ws))) - 1] for p in (50, 92, 95)]
            out[b] = [len(ws), within, len(ws) - within, *bands, sum(ws), *pct]
    elif kpi == "fixture_inmss_share":
        out["all"] = [0, 0]
        for s in refs.values():
            plan = simple(s, "fixture.plan.started", "fixture.plan.ended")
            if member(plan.start, plan.close) and s.attr("cohort") == "ehcp":
                inmss = simple(
                    s,
                    "fixture.placement.started",
                    "fixture.placement.ended",
                    lambda f: f["setting"] == "inmss",
                )
                out["all"][0] += 1
                out["all"][1] += int(member(inmss.start, inmss.close))
    elif kpi == "fixture_base_occupancy":
        out["all"] = [0, 0]
        for s in refs.values():
            base = simple(
                s,
                "fixture.placement.started",
                "fixture.placement.ended",
                lambda f: f["setting"] == "inclusion-base",
            )
            if member(base.start, base.close):
                for b in breakdowns(kpi, s):
                    out.setdefault(b, [0, 0])[0] += 1
            by_day: dict[date, int] = {}
            for (t, _, _canon), (d, _at, fields) in sorted(
                s.facts.items(), key=lambda kv: (kv[1][0], kv[1][1], kv[0][2])
            ):
                if t == "fixture.capacity.commissioned":
                    by_day[d] = fields["places"]
            days = sorted(by_day)
            for i, d in enumerate(days):
                if member(d, days[i + 1] if i + 1 < len(days) else None) and by_day[d]:
                    for b in breakdowns(kpi, s):
                        out.setdefault(b, [0, 0])[1] += by_day[d]
    return out


def reference(
    stream: list[Raw], messages: list[Raw]
) -> tuple[dict[Key, list[int]], dict[Key, list[int]]]:
    """(flow and closed census cells, the current position), zero cells left out."""
    refs = subjects_of(stream)
    cells = flow(refs)
    times = [datetime.fromisoformat(m["time"]) for m in messages]
    ticks = [datetime.fromisoformat(m["time"]) for m in messages if m["type"] == "clock.tick"]
    today = (max(ticks) if ticks else max(times)).astimezone(LONDON).date()
    starts = [c.start for s in refs.values() for c in (rtt(s),) if c.start] + [
        d
        for s in refs.values()
        for etype in (
            "fixture.plan.started",
            "fixture.placement.started",
            "fixture.capacity.commissioned",
        )
        for d in [f[0] for f in s.of(etype)]
    ]
    current: dict[Key, list[int]] = {}
    for kpi in ("fixture_slt_waiting", "fixture_inmss_share", "fixture_base_occupancy"):
        for b, v in census(refs, kpi, today, True).items():
            current[(kpi, "current", b)] = v
        if not ticks or not starts:
            continue
        for kind in KPIS.kpis[kpi].cycles:
            if kind == "current":
                continue
            label = label_for(kind, min(starts))
            while bounds(label)[0] <= today:
                if closed_on(label, KPIS.grace_days) <= today:
                    for b, v in census(refs, kpi, bounds(label)[1], False).items():
                        if any(v):
                            cells[(kpi, label, b)] = v
                label = following(label)
    return cells, {k: v for k, v in current.items() if any(v) or k[2] == "all"}


# --- streaming through the handlers ------------------------------------------------------


def stream_into(path: Path, batches: list[list[handlers.Incoming]]) -> Any:
    engine = make_engine(f"sqlite:///{path}")
    migrate("timeliness", engine)
    for batch in batches:
        handlers.apply_batch(SqlUnitOfWork(engine), batch, CFG)
    return engine


def stored(engine: Any) -> tuple[dict[Key, list[int]], dict[Key, list[int]]]:
    with SqlUnitOfWork(engine) as uow:
        cells = uow.repo.cells_where()
        closed = {c for c, row in uow.repo.cycles({k[1] for k in cells}).items() if row.closed}
    flow_and_closed = {
        k: c.counts
        for k, c in cells.items()
        if any(c.counts) and k[1] != "current" and (not KPIS.kpis[k[0]].census or k[1] in closed)
    }
    current = {
        k: c.counts
        for k, c in cells.items()
        if k[1] == "current" and (any(c.counts) or k[2] == "all")
    }
    return flow_and_closed, current


def split(items: list[handlers.Incoming], rng: random.Random) -> list[list[handlers.Incoming]]:
    out, n = [], 0
    while n < len(items):
        size = rng.randint(1, max(1, len(items) // 3))
        out.append(items[n : n + size])
        n += size
    return out


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(delivery=deliveries(), split_seed=st.integers(0, 2**32 - 1))
def test_every_kind_streamed_equals_batch_and_a_replay_gives_the_same(
    delivery: tuple[list[Raw], list[Raw]], split_seed: int
) -> None:
    stream, ticks = delivery
    rng = random.Random(split_seed)
    messages = list(stream)
    for t in ticks:
        messages.insert(rng.randint(0, len(messages)), t)
    if not messages:
        return
    items = [i for raw in messages for i in fx.incoming(CFG.registry, raw)]
    cells, current = reference(stream, messages)
    with tempfile.TemporaryDirectory() as tmp:
        first = stream_into(Path(tmp) / "a.db", split(items, rng))
        second = stream_into(Path(tmp) / "b.db", split(items, rng))
        try:
            got_cells, got_current = stored(first)
            assert got_cells == cells, {
                "missing": {k: v for k, v in cells.items() if got_cells.get(k) != v},
                "extra": {k: v for k, v in got_cells.items() if k not in cells},
            }
            assert got_current == current
            assert stored(second) == (got_cells, got_current)
            assert handlers.apply_batch(SqlUnitOfWork(first), items, CFG) == 0
            assert stored(first) == (got_cells, got_current)
        finally:
            first.dispose()
            second.dispose()
