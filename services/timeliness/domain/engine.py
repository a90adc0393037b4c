"""The measure engine: the KPI dictionary and the clock policies, compiled once, applied
to subject states.

For a subject it gives its clocks, what it contributes to every flow KPI's cells, the
spans census KPIs count it in, whether a clock of it can still raise milestone alerts,
and the alerts it owes on a day.  For a census date it gives every census KPI's cells.
Everything here is pure; the service layer stores and loads.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from contracts.clock_rules import ClockRules, Match
from contracts.cycles import cycle_labels
from contracts.events import EventRegistry
from contracts.kpi_dictionary import CompletedWithin, KpiDictionary, Occupancy, WaitingList
from services.timeliness.domain import clocks as clk
from services.timeliness.domain import milestones
from services.timeliness.domain.clocks import Clock, Matcher, Version, any_match
from services.timeliness.domain.episodes import episodes
from services.timeliness.domain.measures import CENSUS, FLOW
from services.timeliness.domain.measures.base import At, Base, Key, Span, Vector, add
from services.timeliness.domain.measures.occupancy import capacity_key
from services.timeliness.domain.subjects import SubjectState

ALL = ["all"]


def breakdown_labels(dims: Sequence[str], values: Sequence[str | None]) -> list[str]:
    """``all`` and one ``dimension=value`` per dimension (``unknown`` when missing)."""
    return ["all", *(f"{d}={v or 'unknown'}" for d, v in zip(dims, values, strict=True))]


_KPI_MATCHES = ("exclude_if", "event", "events", "relative_to")


_NONE: frozenset[str] = frozenset()


@dataclass
class Engine:
    dictionary: KpiDictionary
    rules: ClockRules
    registry: EventRegistry
    policies: dict[str, tuple[Version, ...]] = field(init=False)
    problems: list[str] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.policies = clk.compile_rules(self.rules)
        self._start_types = {
            name: {m.type for v in versions for m in v.start}
            for name, versions in self.policies.items()
        }
        self._stop_types = {
            name: {m.type for v in versions for m in v.stop}
            for name, versions in self.policies.items()
        }
        self._matchers: dict[tuple[str, str], tuple[Matcher, ...]] = {}
        self._cycles: dict[tuple[str, date], tuple[str, ...]] = {}
        self._keys: dict[tuple[str, str, tuple[str | None, ...]], list[Key]] = {}
        self._flow: dict[str, list[str]] = {}  # subject kind -> flow KPIs
        self._census = [kpi for kpi, k in self.dictionary.kpis.items() if k.census]
        self._spans: dict[str, list[str]] = {}  # subject kind -> span keys (clocks)
        self._capacity: dict[str, list[str]] = {}  # subject kind -> occupancy KPIs
        self._alerting: dict[str, list[str]] = {}  # subject kind -> alerting policies
        self._dims = {kpi: self.dictionary.breakdowns_of(kpi) for kpi in self.dictionary.kpis}
        self._flow_kinds = {
            kpi: [c for c in k.cycles if c != "current"] for kpi, k in self.dictionary.kpis.items()
        }
        for name in self.rules.alerting:
            self._alerting.setdefault(self.rules.subject_of(name), []).append(name)
        for kpi, k in self.dictionary.kpis.items():
            self._compile(kpi, k)
        self._excluders = {  # clock -> KPIs reading it that leave some subjects out
            policy: [
                kpi
                for kpi, k in self.dictionary.kpis.items()
                if getattr(k, "exclude_if", None) and policy in k.clocks
            ]
            for policy in self.policies
        }
        # span keys read only for the current position keep no closed spans
        self._history = {
            key
            for kpi in self._census
            if any(c != "current" for c in self.dictionary.kpis[kpi].cycles)
            for key in self.census_keys(kpi)
        }
        self._nullified_kept = {
            k.clock
            for k in self.dictionary.kpis.values()
            if isinstance(k, WaitingList) and k.include_nullified
        }

    # --- compiling ---------------------------------------------------------------------

    def _kind_of_type(self, kpi: str, event_type: str) -> str | None:
        spec = self.registry.specs.get(event_type)
        if spec is None:
            self.problems.append(f"{kpi}: no registered event type {event_type!r}")
            return None
        return spec.subject_kind

    def _compile(self, kpi: str, k: Any) -> None:
        matches: dict[str, list[Match]] = {}
        for name in _KPI_MATCHES:
            value = getattr(k, name, None)
            if isinstance(value, Match):
                matches[name] = [value]
            elif isinstance(value, list) and value and isinstance(value[0], Match):
                matches[name] = value
        for name in ("numerator", "denominator"):
            value = getattr(k, name, None)
            if value is not None and hasattr(value, "events"):
                matches[name] = value.events
        if isinstance(k, Occupancy):
            matches["capacity"] = [k.capacity.event]
        for name, ms in matches.items():
            self._matchers[(kpi, name)] = clk.compile_matches(ms)
        for c in k.clocks:
            if c not in self.policies:
                raise ValueError(f"KPI {kpi!r} reads the clock {c!r}, which clocks.yaml lacks")
        kinds: set[str] = set()
        if isinstance(k, CompletedWithin):
            kinds.add(self.rules.subject_of(k.clock))
        elif not k.census:
            for name, ms in matches.items():
                if name != "exclude_if":
                    kinds |= {x for m in ms if (x := self._kind_of_type(kpi, m.type)) is not None}
        for kind in sorted(kinds):
            self._flow.setdefault(kind, []).append(kpi)
        spans = list(k.clocks) if k.census or getattr(k, "outlook", None) else []
        for c in spans:
            keys = self._spans.setdefault(self.rules.subject_of(c), [])
            if c not in keys:
                keys.append(c)
        if isinstance(k, Occupancy):
            capacity_kind = self._kind_of_type(kpi, k.capacity.event.type)
            if capacity_kind:
                self._capacity.setdefault(capacity_kind, []).append(kpi)

    @property
    def fingerprint(self) -> str:
        """Everything that decides what the stored cells hold."""
        blob = json.dumps(
            {
                "kpis": {
                    kpi: k.model_dump(mode="json", include=set(type(k).model_fields) - _SHOWN)
                    for kpi, k in self.dictionary.kpis.items()
                },
                "breakdowns": self.dictionary.breakdowns,
                "start": self.dictionary.plan_year_start_month,
                **(
                    {"census_from": self.dictionary.census_from.isoformat()}
                    if self.dictionary.census_from
                    else {}
                ),
                "clocks": self.rules.model_dump(mode="json"),
            },
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:32]

    # --- what measure kinds ask ---------------------------------------------------------

    def clock(self, s: SubjectState, policy: str) -> Clock:
        memo = s.memo.get(policy)
        if memo is None:
            memo = s.memo[policy] = clk.evaluate(policy, self.policies[policy], s)
        assert isinstance(memo, Clock)
        return memo

    def may_stop(self, s: SubjectState, policy: str) -> bool:
        types = s.types
        return not types.keys().isdisjoint(self._stop_types[policy])

    def matchers(self, kpi: str, what: str) -> tuple[Matcher, ...]:
        return self._matchers.get((kpi, what), ())

    def breakdowns(self, kpi: str, attrs: Mapping[str, str]) -> list[str]:
        dims = self._dims[kpi]
        return breakdown_labels(dims, tuple(attrs.get(d) for d in dims))

    def at(self, kpi: str, when: date | str, s: SubjectState) -> Base:
        return (kpi, when, tuple(s.attrs.get(d) for d in self._dims[kpi]))

    def _cycles_of(self, kpi: str, when: date | str) -> tuple[str, ...]:
        """Each cycle of the KPI containing the day (or the one cycle named)."""
        if isinstance(when, str):
            return (when,)
        found = self._cycles.get((kpi, when))
        if found is None:
            if len(self._cycles) > 200_000:
                self._cycles.clear()
            start = self.dictionary.plan_year_start_month
            found = self._cycles[(kpi, when)] = tuple(
                c for kind in self._flow_kinds[kpi] for c in cycle_labels(kind, when, start)
            )
        return found

    def _cells_of(self, kpi: str, cycle: str, values: tuple[str | None, ...]) -> list[Key]:
        """Each breakdown's cell of one KPI and cycle (rolling years: all only)."""
        found = self._keys.get((kpi, cycle, values))
        if found is None:
            if len(self._keys) > 200_000:
                self._keys.clear()
            if cycle.startswith("R12-"):
                labels: Sequence[str] = ALL
            else:
                labels = breakdown_labels(self._dims[kpi], values)
            found = self._keys[(kpi, cycle, values)] = [(kpi, cycle, b) for b in labels]
        return found

    def spread(self, deltas: Mapping[Base, Vector]) -> dict[Key, Vector]:
        """Base-grain deltas spread over every (kpi, cycle, breakdown) they go to (zero
        cells dropped): each cycle of the KPI containing the day (or its one cycle),
        each breakdown (rolling years: all).  In two steps: the days are summed into
        their cycles first (a batch's days fall in a few months), then each cycle's
        sum is spread over its breakdowns."""
        by_cycle: dict[tuple[str, str, tuple[str | None, ...]], Vector] = {}
        for (kpi, when, values), vec in deltas.items():
            if any(vec):
                for cycle in self._cycles_of(kpi, when):
                    add(by_cycle, (kpi, cycle, values), vec)
        out: dict[Key, Vector] = {}
        for (kpi, cycle, values), vec in by_cycle.items():
            for key in self._cells_of(kpi, cycle, values):
                add(out, key, vec)
        return {k: v for k, v in out.items() if any(v)}

    # --- a subject ----------------------------------------------------------------------

    def contributions(self, s: SubjectState) -> dict[Base, Vector]:
        """Everything the subject adds to the flow KPIs' cells, at the base grain (see
        :meth:`expand`)."""
        out: dict[Base, Vector] = {}
        for kpi in self._flow.get(s.kind, ()):
            k = self.dictionary.kpis[kpi]
            out.update(FLOW[k.kind](kpi, k, s, self))
        return out

    def spans(self, s: SubjectState) -> dict[tuple[str, int], Span]:
        """The spans census KPIs count the subject in, by (key, sequence)."""
        out: dict[tuple[str, int], Span] = {}
        for policy in self._spans.get(s.kind, ()):
            if self.rules.policies[policy][0].episodes:
                out.update(self._episode_spans(policy, s))
                continue
            c = self.clock(s, policy)
            if not c.started or c.start is None:
                continue
            if c.nullified and not self._keeps_nullified(policy):
                continue
            if c.closed_on is not None and policy not in self._history:
                continue  # only its current position is counted
            out[(policy, 0)] = Span(
                policy,
                s.subject,
                0,
                c.start,
                c.closed_on,
                c.nullified,
                c.pauses,
                None,
                self._excluded(policy, s),
                dict(s.attrs),
            )
        for kpi in self._capacity.get(s.kind, ()):
            out.update(self._capacity_spans(kpi, s))
        return out

    def _episode_spans(self, policy: str, s: SubjectState) -> dict[tuple[str, int], Span]:
        out: dict[tuple[str, int], Span] = {}
        excluded = self._excluded(policy, s)
        for i, e in enumerate(episodes(self.policies[policy], s)):
            if e.close is not None and policy not in self._history:
                continue  # only its current position is counted
            out[(policy, i)] = Span(
                policy, s.subject, i, e.start, e.close, excluded=excluded, attrs=e.attrs
            )
        return out

    def _keeps_nullified(self, policy: str) -> bool:
        return policy in self._nullified_kept

    def _excluded(self, policy: str, s: SubjectState) -> frozenset[str]:
        excluders = self._excluders.get(policy)
        if not excluders:
            return _NONE
        return frozenset(kpi for kpi in excluders if any_match(s, self.matchers(kpi, "exclude_if")))

    def _capacity_spans(self, kpi: str, s: SubjectState) -> dict[tuple[str, int], Span]:
        k = self.dictionary.kpis[kpi]
        assert isinstance(k, Occupancy)
        by_day: dict[date, int] = {}
        for m in self.matchers(kpi, "capacity"):
            for f in m.facts(s):  # in order: the latest report of a day wins
                places = s.value(f, k.capacity.field)
                if isinstance(places, int) and not isinstance(places, bool):
                    by_day[f.day] = places
        days = sorted(by_day)
        key = capacity_key(kpi)
        return {
            (key, i): Span(
                key,
                s.subject,
                i,
                day,
                days[i + 1] if i + 1 < len(days) else None,
                value=by_day[day],
                attrs=dict(s.attrs),
            )
            for i, day in enumerate(days)
        }

    def alert_clocks(self, s: SubjectState) -> list[Clock]:
        """The subject's alerting clocks that have started (a clock none of whose start
        types the subject has cannot have started, and raises nothing)."""
        types = s.types
        return [
            self.clock(s, p)
            for p in self._alerting.get(s.kind, ())
            if not types.keys().isdisjoint(self._start_types[p])
        ]

    def running(self, s: SubjectState) -> bool:
        """A clock of the subject can still raise milestone alerts."""
        types = s.types
        for policy in self._alerting.get(s.kind, ()):
            if types.keys().isdisjoint(self._start_types[policy]):
                continue  # never started
            c = self.clock(s, policy)
            if c.start is not None and c.closed_on is None and milestones.alerting(c):
                return True
        return False

    def alerts_due(
        self, s: SubjectState, today: date, already: frozenset[str]
    ) -> list[milestones.MilestoneAlert]:
        return milestones.alerts_due(s.subject, self.alert_clocks(s), today, already)

    def next_alert_on(
        self, s: SubjectState, already: frozenset[str], today: date | None
    ) -> date | None:
        """The first day a tick needs to evaluate this subject (None: never)."""
        return milestones.next_alert_on(self.alert_clocks(s), already, today)

    # --- a census -----------------------------------------------------------------------

    @property
    def census_kpis(self) -> list[str]:
        return list(self._census)

    def census_keys(self, kpi: str) -> list[str]:
        """The span keys a census KPI reads."""
        k = self.dictionary.kpis[kpi]
        keys = list(k.clocks)
        if isinstance(k, Occupancy):
            keys.append(capacity_key(kpi))
        return keys

    def census(
        self,
        kpi: str,
        cycle: str,
        day: date,
        spans: Mapping[str, Iterable[Span]],
    ) -> dict[Key, Vector]:
        """The KPI's cells for ``cycle`` at census day ``day`` (``cycle`` 'current': the
        position by what is known, waits counted to ``day``)."""
        k = self.dictionary.kpis[kpi]
        cells = CENSUS[k.kind](kpi, k, At(day, cycle == "current", spans), self)
        if cycle.startswith("R12-"):
            cells = {b: v for b, v in cells.items() if b == "all"}
        return {(kpi, cycle, b): v for b, v in cells.items()}


# fields that only change how a value is shown or judged, not what a cell holds
_SHOWN = {
    "name",
    "ref",
    "description",
    "workstream",
    "owner",
    "baseline",
    "baseline_note",
    "standard",
    "trajectory",
    "goal_before_trajectory",
    "headline",
    "indicator",
    "escalation_policy",
    "amber_margin",
    "unit",
    "direction",
}
