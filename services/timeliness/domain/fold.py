"""One consumed batch, folded: events into subject states, clock ticks into milestone
alerts, and every changed subject into the change of its cells and spans.

Pure: the service layer loads the subjects (those the batch names, and the running ones
of the lanes a tick reaches), calls :func:`fold_batch`, and stores what it returns.
A subject's contribution is a pure function of its state, so the stored cells are kept
exact by adding (new contribution - old contribution).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from contracts.cycles import local_date
from contracts.events import Observation
from services.timeliness.domain.engine import Engine
from services.timeliness.domain.measures.base import Base, Key, Span, Vector
from services.timeliness.domain.milestones import MilestoneAlert
from services.timeliness.domain.subjects import SubjectState, fold

Lane = tuple[str, int]  # (topic alias, partition)


@dataclass(frozen=True)
class Event:
    obs: Observation
    lane: Lane

    @property
    def time(self) -> datetime:
        return self.obs.time


@dataclass(frozen=True)
class Tick:
    time: datetime
    lane: Lane


Message = Event | Tick


@dataclass
class Working:
    """A subject during the batch, with what it was when loaded."""

    state: SubjectState
    lane: Lane
    raised: set[str]
    original: SubjectState | None = None  # None: new in this batch
    original_raised: frozenset[str] = frozenset()
    original_running: bool = False
    next_due: date | None = None  # the first day a tick must evaluate it
    original_next_due: date | None = None

    @property
    def known(self) -> bool:
        return self.original is not None

    @property
    def changed(self) -> bool:
        return (
            self.original is None
            or self.state != self.original
            or frozenset(self.raised) != self.original_raised
            or self.next_due != self.original_next_due
        )


@dataclass(frozen=True)
class SpanChange:
    subject: str
    before: Mapping[tuple[str, int], Span]
    after: Mapping[tuple[str, int], Span]


@dataclass
class Folded:
    changed: list[Working] = field(default_factory=list)
    running: dict[str, bool] = field(default_factory=dict)  # subject -> running now
    deltas: dict[Key, Vector] = field(default_factory=dict)
    spans: list[SpanChange] = field(default_factory=list)
    alerts: list[tuple[MilestoneAlert, SubjectState, datetime]] = field(default_factory=list)
    as_of: datetime | None = None
    watermark: datetime | None = None


def delta(
    before: Mapping[Base, Vector], after: Mapping[Base, Vector], out: dict[Base, Vector]
) -> None:
    """Add (after - before) into ``out``."""
    for key, a in after.items():
        b = before.get(key)
        if b is not None and b == a:
            continue
        acc = out.get(key)
        if acc is None:
            acc = out[key] = list(a)
        else:
            for i, x in enumerate(a):
                acc[i] += x
        if b is not None:
            for i, x in enumerate(b):
                acc[i] -= x
    if not before:
        return
    for key, b in before.items():
        if key in after:
            continue
        acc = out.get(key)
        if acc is None:
            out[key] = [-x for x in b]
        else:
            for i, x in enumerate(b):
                acc[i] -= x


def fold_batch(
    engine: Engine,
    subjects: dict[str, Working],
    messages: Sequence[Message],
    as_of: datetime | None,
    watermark: datetime | None,
) -> Folded:
    """Fold ``messages`` in order into ``subjects`` (updated in place) and return what
    changed.  A tick evaluates the running subjects of its lane as they stand then (the
    service loads only those whose next alert day has come); each subject evaluated or
    changed gets its next alert day anew."""
    out = Folded(as_of=as_of, watermark=watermark)
    base: dict[Base, Vector] = {}
    touched: set[str] = set()
    for msg in messages:
        if out.as_of is None or msg.time > out.as_of:
            out.as_of = msg.time
        if isinstance(msg, Tick):
            if out.watermark is None or msg.time > out.watermark:
                out.watermark = msg.time
            today = local_date(msg.time)
            for w in subjects.values():
                if w.lane != msg.lane:
                    continue
                for alert in engine.alerts_due(w.state, today, frozenset(w.raised)):
                    w.raised.add(alert.key)
                    out.alerts.append((alert, w.state, msg.time))
                touched.add(w.state.subject)
            continue
        touched.add(msg.obs.subject)
        known = subjects.get(msg.obs.subject)
        if known is None:
            subjects[msg.obs.subject] = Working(fold(None, msg.obs), msg.lane, set())
        else:
            known.state = fold(known.state, msg.obs)
    now = out.watermark or out.as_of
    today_now = local_date(now) if now is not None else None
    for w in subjects.values():
        if w.state.subject in touched or w.original is None:
            w.next_due = engine.next_alert_on(w.state, frozenset(w.raised), today_now)
        if not w.changed:
            continue
        out.changed.append(w)
        if w.original is None or w.state != w.original:
            before = engine.contributions(w.original) if w.original is not None else {}
            delta(before, engine.contributions(w.state), base)
            old = engine.spans(w.original) if w.original is not None else {}
            new = engine.spans(w.state)
            if old != new:
                out.spans.append(SpanChange(w.state.subject, old, new))
        out.running[w.state.subject] = engine.running(w.state)
    out.deltas = engine.spread(base)
    return out


def recompute(engine: Engine, states: Iterable[SubjectState]) -> dict[Key, Vector]:
    """Every flow cell from scratch (the reference the stream must equal; replays)."""
    totals: dict[Base, Vector] = {}
    for s in states:
        delta({}, engine.contributions(s), totals)
    return engine.spread(totals)
