"""The alerts service's domain objects: closed-cycle results, alerts and their episodes,
silences, recovery plans, and the effects a decision produces (audit entries and
notifications to put in the outbox).  Plain dataclasses; no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from contracts.escalation import Policy

LONDON = ZoneInfo("Europe/London")

AlertKind = Literal["deterioration", "escalation", "milestone", "overdue"]
Status = Literal["open", "acknowledged", "resolved", "superseded"]
Verdict = Literal["met", "missed", "no_data"]
Notice = Literal["alert", "resolved"]
OPEN_STATUSES: tuple[Status, ...] = ("open", "acknowledged")


def local_date(at: datetime) -> date:
    """The calendar date in England of an event-time instant."""
    return at.astimezone(LONDON).date()


def start_of_day(d: date) -> datetime:
    """Midnight at the start of ``d`` in England, as an aware UTC datetime."""
    return datetime.combine(d, time(0, 0), tzinfo=LONDON).astimezone(UTC)


def judged_goal(
    *,
    target: float | None,
    standard: float | None,
    carried: bool = False,
    goal: float | None = None,
    to_be_established: bool = False,
) -> tuple[float | None, str]:
    """The goal a closed cycle is judged against, and what to call it.

    The goal the producer published with the value (``carried``) wins: it may be an
    interim goal before the first trajectory point, or none (no verdict).  Otherwise the
    cycle's trajectory target, else the standard; a target "to be established" gives
    no goal, so no verdict and no alert."""
    if carried:
        if goal is None:
            return None, "target to be established" if to_be_established else "no goal"
        if target is not None and goal == target:
            return goal, "trajectory target"
        if standard is not None and goal == standard:
            return goal, "standard"
        return goal, "interim goal"
    if to_be_established:
        return None, "target to be established"
    if target is not None:
        return target, "trajectory target"
    if standard is not None:
        return standard, "standard"
    return None, "no goal"


@dataclass(frozen=True)
class CycleResult:
    """A closed cycle of a watched KPI series, with the goal, direction and unit it is
    judged in (resolved once, when the value arrives: see ``series.cycle_result``)."""

    kpi: str
    cycle_kind: str
    breakdown: str
    cycle: str
    revision: int
    value: float | None
    target: float | None
    standard: float | None
    numerator: int | None
    denominator: int | None
    closed_on: date  # the first day the cycle counted as closed
    goal: float | None
    goal_label: str  # trajectory target | standard | interim goal | ... (see judged_goal)
    direction: str  # higher | lower | none
    unit: str  # percent | count | days | rate | score

    def verdict(self, min_denominator: int = 1) -> Verdict:
        """Met or missed against the goal in the KPI's direction: 'higher' is met at or
        above the goal, 'lower' (a cap) at or below it; no goal, no value, direction
        'none' or too few completions to judge give no verdict."""
        if self.value is None or self.goal is None or self.direction == "none":
            return "no_data"
        if self.denominator is not None and self.denominator < min_denominator:
            return "no_data"  # too few completions to judge
        if self.direction == "lower":
            return "met" if self.value <= self.goal else "missed"
        return "met" if self.value >= self.goal else "missed"

    def fact(self, label: str) -> dict[str, Any]:
        return {
            "cycle": self.cycle,
            "label": label,
            "revision": self.revision,
            "value": self.value,
            "target": self.target,
            "standard": self.standard,
            "goal": self.goal,
            "goal_label": self.goal_label,
            "numerator": self.numerator,
            "denominator": self.denominator,
        }


@dataclass(frozen=True)
class MilestoneInput:
    event_id: str
    case: str
    at: datetime  # event time it fired
    milestone: str
    kind: Literal["slipped", "early_warning"]
    kpi: str
    start: date
    due: date
    day: int
    locality: str
    age_band: str


def silence_until(until: datetime | date) -> datetime:
    """The end of a silence: an instant, or a date meaning the end of that day in
    England."""
    if isinstance(until, datetime):
        return until.astimezone(UTC)
    return datetime.combine(until, time(23, 59, 59), tzinfo=LONDON).astimezone(UTC)


@dataclass(frozen=True)
class Silence:
    """Mutes notifications for a KPI, a breakdown or both until a time (alerts are still
    recorded; an escalation waits for the silence to end)."""

    id: int
    kpi: str | None
    breakdown: str | None
    until: datetime
    reason: str
    created_by: str

    @classmethod
    def create(
        cls,
        *,
        kpi: str | None,
        breakdown: str | None,
        until: datetime,
        reason: str,
        created_by: str,
        now: datetime,
        max_days: int | None = None,
    ) -> Silence:
        """A new silence (id 0 until stored); it needs a scope, must end after now and
        (with ``max_days``) at most that many days after it."""
        if kpi is None and breakdown is None:
            raise ValueError("a silence needs a kpi, a breakdown or both")
        if until <= now:
            raise ValueError(
                f"`until` must be after the service's current time ({now.isoformat()})"
            )
        if max_days is not None and until > now + timedelta(days=max_days):
            raise ValueError(
                f"a silence lasts at most {max_days} days after the service's current "
                f"time ({now.isoformat()})"
            )
        return cls(0, kpi, breakdown, until, reason, created_by[:200])

    def covers(self, kpi: str, breakdown: str) -> bool:
        return (self.kpi is None or self.kpi == kpi) and (
            self.breakdown is None or self.breakdown == breakdown
        )

    def mutes(self, kpi: str, breakdown: str, now: datetime) -> bool:
        return now < self.until and self.covers(kpi, breakdown)


@dataclass(frozen=True)
class PlanAction:
    action: str
    owner: str
    due: date


@dataclass(frozen=True)
class RecoveryPlan:
    summary: str
    actions: tuple[PlanAction, ...]
    recorded_by: str


@dataclass(frozen=True)
class Sent:
    """A recipient notified in an episode (the basis of 'at most once per level' and of
    who receives the resolved notice)."""

    level: int
    channel: str
    address: str
    notice: Notice


@dataclass
class Alert:
    id: str
    fingerprint: str
    rule: str
    kind: AlertKind
    kpi: str
    cycle_kind: str
    breakdown: str
    cycle: str | None
    title: str
    opened_at: datetime
    updated_at: datetime
    status: Status = "open"
    episode: int = 1
    historical: bool = False
    policy_name: str | None = None
    policy: Policy | None = None
    level: int = 0
    level_at: datetime | None = None
    level_muted: bool = False
    resolved_at: datetime | None = None
    resolution: str | None = None
    acked_by: str | None = None
    acked_at: datetime | None = None
    ack_note: str | None = None
    follow_up_due: date | None = None
    plan_due: date | None = None
    plan_asked_on: date | None = None
    plan_level: int | None = None
    plan_document: str | None = None
    plan_recorded_at: datetime | None = None
    plan_overdue_at: datetime | None = None
    parent_id: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    notified: list[Sent] = field(default_factory=list)
    next_check_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def policy_version(self) -> int | None:
        return self.policy.version if self.policy else None

    def next_escalation_at(self) -> datetime | None:
        """When the next level is due if nobody acknowledges (None: nothing pending)."""
        if (
            self.status != "open"
            or self.kind != "escalation"
            or self.historical
            or self.policy is None
            or self.level < 1
            or self.level_muted
            or self.level_at is None
            or self.level >= len(self.policy.levels)
        ):
            return None
        delay = self.policy.levels[self.level - 1].escalate_after_days
        return None if delay is None else self.level_at + timedelta(days=delay)

    def ack_expires_at(self) -> datetime | None:
        """When an acknowledgement without a recovery plan runs out (the level's
        ``ack_timeout_days``): the alert then reopens and moves on.  None: no timeout."""
        if (
            self.status != "acknowledged"
            or self.kind != "escalation"
            or self.historical
            or self.policy is None
            or self.acked_at is None
            or self.plan_recorded_at is not None
            or not 1 <= self.level <= len(self.policy.levels)
        ):
            return None
        days = self.policy.levels[self.level - 1].ack_timeout_days
        return None if days is None else self.acked_at + timedelta(days=days)

    def plan_overdue_from(self) -> datetime | None:
        """The instant the recovery plan becomes overdue (the day after it is due)."""
        if (
            self.plan_due is None
            or self.plan_recorded_at is not None
            or self.plan_overdue_at is not None
            or not self.is_open
        ):
            return None
        return start_of_day(self.plan_due + timedelta(days=1))


@dataclass(frozen=True)
class AuditEntry:
    alert_id: str | None
    episode: int | None
    at: datetime  # event time
    kind: str
    message: str
    actor: str = "sendwatch"
    channel: str | None = None
    recipient: str | None = None
    outcome: str | None = None
    level: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Notification:
    """A message to deliver, created in the same transaction as the decision."""

    alert_id: str
    episode: int
    level: int
    notice: Notice
    channel: str
    recipient: str
    subject: str
    body: str
    payload: dict[str, Any]
    decided_at: datetime  # event time
    # Held until (event time): the recipient's quiet hours or daily digest (delivery.py).
    hold_until: datetime | None = None
    hold_reason: str | None = None
