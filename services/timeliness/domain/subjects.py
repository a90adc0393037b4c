"""Subject states: what the measure engine knows of a case, a referral, a person or a
service line, folded from its events.

A subject state is a set of **facts** (event type, London day, time and the event's
non-attribute data fields) plus its **attributes** (breakdown values: the latest event
carrying a value wins; at the same instant the smallest value).  Adding an event is a
set insertion and a latest-wins merge, so the fold is commutative and idempotent: events
that arrive late, out of order or twice (under the same or another id) give the same
state.  Everything the measures compute is a pure function of this state.
"""

from __future__ import annotations

import bisect
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from contracts.cycles import local_date
from contracts.events import Observation, Scalar


@dataclass(frozen=True, slots=True)
class Fact:
    day: date
    time: datetime
    type: str
    canon: str  # the fields as canonical JSON: with time and type, the fact's identity
    fields: dict[str, Scalar] = field(compare=False, hash=False)

    @property
    def order(self) -> tuple[date, datetime, str, str]:
        return (self.day, self.time, self.type, self.canon)


def make_fact(event_type: str, time: datetime, fields: dict[str, Scalar]) -> Fact:
    canon = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return Fact(local_date(time), time, event_type, canon, fields)


@dataclass(slots=True)
class SubjectState:
    subject: str
    kind: str
    attrs: dict[str, str] = field(default_factory=dict)
    attr_times: dict[str, datetime] = field(default_factory=dict)
    facts: tuple[Fact, ...] = ()  # in (day, time, type, canon) order, no duplicates
    last_time: datetime | None = None
    _by_type: dict[str, list[Fact]] | None = field(default=None, compare=False, repr=False)
    memo: dict[object, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def types(self) -> dict[str, list[Fact]]:
        """The subject's facts by type."""
        if self._by_type is None:
            index: dict[str, list[Fact]] = {}
            for f in self.facts:
                index.setdefault(f.type, []).append(f)
            self._by_type = index
        return self._by_type

    def of_type(self, event_type: str) -> list[Fact]:
        """This subject's facts of one type, in order."""
        if self._by_type is None:
            index: dict[str, list[Fact]] = {}
            for f in self.facts:
                index.setdefault(f.type, []).append(f)
            self._by_type = index
        return self._by_type.get(event_type, [])

    def value(self, f: Fact, key: str) -> Scalar:
        """A field of the fact, else the subject's attribute of that name."""
        if key in f.fields:
            return f.fields[key]
        return self.attrs.get(key)

    def copy(self) -> SubjectState:
        return SubjectState(
            self.subject,
            self.kind,
            dict(self.attrs),
            dict(self.attr_times),
            self.facts,
            self.last_time,
        )


def fold(state: SubjectState | None, obs: Observation) -> SubjectState:
    """Add one event to the subject's state (returns a new state when it changes)."""
    if state is None:
        state = SubjectState(obs.subject, obs.kind)
    attrs, times = state.attrs, state.attr_times
    new_attrs: dict[str, str] | None = None
    for key, value in obs.attrs.items():
        seen = times.get(key)
        if seen is None or obs.time > seen or (obs.time == seen and value < attrs[key]):
            if new_attrs is None:
                new_attrs, times = dict(attrs), dict(times)
            new_attrs[key] = value
            times[key] = obs.time
    fact = make_fact(obs.type, obs.time, obs.fields)
    facts = state.facts
    order = [f.order for f in facts]
    at = bisect.bisect_left(order, fact.order)
    fresh = at == len(facts) or facts[at].order != fact.order
    later = state.last_time is None or obs.time > state.last_time
    if not fresh and new_attrs is None and not later:
        return state
    return SubjectState(
        state.subject,
        state.kind,
        new_attrs if new_attrs is not None else attrs,
        times,
        facts[:at] + (fact,) + facts[at:] if fresh else facts,
        obs.time if later else state.last_time,
    )


# --- storage form -------------------------------------------------------------------------


def to_json(state: SubjectState) -> str:
    iso: dict[datetime, str] = {}
    for t in state.attr_times.values():
        if t not in iso:
            iso[t] = t.isoformat()
    return json.dumps(
        {
            "a": state.attrs,
            "at": {k: iso[v] for k, v in state.attr_times.items()},
            "f": [[f.type, f.day.isoformat(), f.time.isoformat(), f.canon] for f in state.facts],
            "t": state.last_time.isoformat() if state.last_time else None,
        },
        separators=(",", ":"),
    )


def from_json(subject: str, kind: str, text: str) -> SubjectState:
    raw: dict[str, Any] = json.loads(text)
    times: dict[str, datetime] = {}
    for v in raw["at"].values():
        if v not in times:
            times[v] = datetime.fromisoformat(v)
    return SubjectState(
        subject,
        kind,
        raw["a"],
        {k: times[v] for k, v in raw["at"].items()},
        tuple(
            Fact(date.fromisoformat(d), datetime.fromisoformat(t), typ, canon, json.loads(canon))
            for typ, d, t, canon in raw["f"]
        ),
        datetime.fromisoformat(raw["t"]) if raw["t"] else None,
    )
