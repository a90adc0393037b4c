"""Programme delivery configuration, loaded from ``programme.yaml`` (or
``SENDWATCH_PROGRAMME_FILE``): milestones of the delivery plan, dependencies, risks, forums
with their meeting rules, escalation routes and the settings of rules R1-R4."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

_DEFAULT = Path(__file__).with_name("programme.yaml")
Weekday = Literal["mon", "tue", "wed", "thu", "fri"]
WEEKDAYS: dict[str, int] = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4}
ItemId = str


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Person(_M):
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    name: str


class Monthly(_M):
    weekday: Weekday
    nth: int = Field(ge=1, le=4)


class EveryWeeks(_M):
    weeks: int = Field(ge=1, le=26)
    anchor: date


class EveryMonths(_M):
    months: int = Field(ge=1, le=12)
    weekday: Weekday
    nth: int = Field(ge=1, le=4)
    anchor: str = Field(pattern=r"^\d{4}-\d{2}$")


def nth_weekday(year: int, month: int, weekday: str, nth: int) -> date:
    first = date(year, month, 1)
    offset = (WEEKDAYS[weekday] - first.weekday()) % 7
    return first + timedelta(days=offset + 7 * (nth - 1))


class Forum(_M):
    name: str
    email: str
    monthly: Monthly | None = None
    every_weeks: EveryWeeks | None = None
    every_months: EveryMonths | None = None
    dates: list[date] | None = None

    @model_validator(mode="after")
    def _one_rule(self) -> Forum:
        rules = [self.monthly, self.every_weeks, self.every_months, self.dates]
        if sum(r is not None for r in rules) != 1:
            raise ValueError(
                f"forum {self.name!r}: give exactly one of monthly, "
                "every_weeks, every_months or dates"
            )
        return self

    def meetings(self, start: date, end: date) -> Iterator[date]:
        """Meeting dates in [start, end], in order."""
        if self.dates is not None:
            yield from (d for d in sorted(self.dates) if start <= d <= end)
        elif self.every_weeks is not None:
            d = self.every_weeks.anchor
            step = timedelta(weeks=self.every_weeks.weeks)
            while d < start:
                d += step
            while d <= end:
                yield d
                d += step
        else:
            rule = self.monthly or self.every_months
            assert rule is not None
            every = self.every_months.months if self.every_months else 1
            y, m = start.year, start.month
            if self.every_months is not None:
                ay, am = (int(p) for p in self.every_months.anchor.split("-"))
                while (y * 12 + m - (ay * 12 + am)) % every:
                    y, m = (y + 1, 1) if m == 12 else (y, m + 1)
            while date(y, m, 1) <= end:
                d = nth_weekday(y, m, rule.weekday, rule.nth)
                if start <= d <= end:
                    yield d
                for _ in range(every):
                    y, m = (y + 1, 1) if m == 12 else (y, m + 1)

    def next_meeting(self, on_or_after: date) -> date | None:
        return next(self.meetings(on_or_after, on_or_after + timedelta(days=400)), None)

    def previous_meeting(self, on_or_before: date) -> date | None:
        found = list(self.meetings(on_or_before - timedelta(days=400), on_or_before))
        return found[-1] if found else None


class Workstream(_M):
    name: str
    forum: str
    lead: str


class Objective(_M):
    title: str
    workstream: str
    kpis: list[str] = []


class MilestoneDecl(_M):
    objective: str
    quarter: Literal["Q2", "Q3", "Q4"]
    title: str
    deps: list[str] = []


class Dependency(_M):
    title: str
    route: str
    owner: str


class Risk(_M):
    title: str
    impact: int = Field(ge=1, le=4)
    likelihood: int = Field(ge=1, le=4)
    workstream: str
    milestones: list[str] = []


class Pmo(_M):
    lead: str
    weekly_update: Monthly | dict[str, Weekday]


class RulesDecl(_M):
    R1: dict[str, int]
    R2: dict[str, int]
    R3: dict[str, int]
    R4: dict[str, int]


class Milestone(_M):
    """A milestone with what it inherits from its objective and workstream."""

    id: str
    objective: str
    objective_title: str
    workstream: str
    quarter: str
    title: str
    due: date
    owner: str
    forum: str
    kpis: tuple[str, ...]
    dependencies: tuple[str, ...]


class Programme(_M):
    version: int
    plan_year: str
    owners: dict[str, Person]
    pmo: Pmo
    rules: RulesDecl
    forums: dict[str, Forum]
    routes: dict[str, list[str]]
    workstreams: dict[str, Workstream]
    objectives: dict[str, Objective]
    quarters: dict[str, date]
    milestones: dict[str, MilestoneDecl]
    dependencies: dict[str, Dependency]
    risks: dict[str, Risk]

    @model_validator(mode="after")
    def _references(self) -> Programme:
        problems: list[str] = []
        for wid, w in self.workstreams.items():
            if w.lead not in self.owners:
                problems.append(f"workstream {wid}: unknown owner {w.lead!r}")
            if w.forum not in self.forums:
                problems.append(f"workstream {wid}: unknown forum {w.forum!r}")
        for oid, o in self.objectives.items():
            if o.workstream not in self.workstreams:
                problems.append(f"objective {oid}: unknown workstream {o.workstream!r}")
        for mid, m in self.milestones.items():
            if m.objective not in self.objectives:
                problems.append(f"milestone {mid}: unknown objective {m.objective!r}")
            if m.quarter not in self.quarters:
                problems.append(f"milestone {mid}: unknown quarter {m.quarter!r}")
            problems += [
                f"milestone {mid}: unknown dependency {d!r}"
                for d in m.deps
                if d not in self.dependencies
            ]
        for did, d in self.dependencies.items():
            if d.owner not in self.owners:
                problems.append(f"dependency {did}: unknown owner {d.owner!r}")
            if d.route not in self.routes:
                problems.append(f"dependency {did}: unknown route {d.route!r}")
        for route, ladder in self.routes.items():
            problems += [
                f"route {route}: unknown forum {f!r}" for f in ladder if f not in self.forums
            ]
        for rid, r in self.risks.items():
            problems += [
                f"risk {rid}: unknown milestone {m!r}"
                for m in r.milestones
                if m not in self.milestones
            ]
        if self.pmo.lead not in self.owners:
            problems.append(f"pmo: unknown owner {self.pmo.lead!r}")
        if "qag" not in self.forums:
            problems.append("forums: qag is required (R2)")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @cached_property
    def plan(self) -> dict[str, Milestone]:
        out: dict[str, Milestone] = {}
        for mid, m in self.milestones.items():
            o = self.objectives[m.objective]
            w = self.workstreams[o.workstream]
            out[mid] = Milestone(
                id=mid,
                objective=m.objective,
                objective_title=o.title,
                workstream=o.workstream,
                quarter=m.quarter,
                title=m.title,
                due=self.quarters[m.quarter],
                owner=w.lead,
                forum=w.forum,
                kpis=tuple(o.kpis),
                dependencies=tuple(m.deps),
            )
        return out

    def relying_on(self, dependency: str) -> list[Milestone]:
        return [m for m in self.plan.values() if dependency in m.dependencies]

    def kpi_problems(self, known: set[str]) -> list[str]:
        return [
            f"objective {oid}: unknown kpi {k!r}"
            for oid, o in self.objectives.items()
            for k in o.kpis
            if k not in known
        ]

    def r(self, rule: str, key: str) -> int:
        value: int = getattr(self.rules, rule)[key]
        return value

    def weekly_update_weekday(self) -> int:
        wu = self.pmo.weekly_update
        day = wu.weekday if isinstance(wu, Monthly) else wu["weekday"]
        return WEEKDAYS[day]


@lru_cache(maxsize=4)
def load_programme(path: str | Path | None = None) -> Programme:
    file = Path(path) if path else _DEFAULT
    return Programme.model_validate(yaml.safe_load(file.read_text()))


def mailbox(programme: Programme, who: str) -> str:
    """The address of an owner role or a forum id."""
    if who in programme.owners:
        return programme.owners[who].email
    return programme.forums[who].email
