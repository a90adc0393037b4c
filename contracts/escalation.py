"""Escalation policies and alert-rule settings (``escalation.yaml`` or
``SENDWATCH_ESCALATION_FILE``), read by the alerts service.

A policy is an ordered list of levels (a governance body or role, its recipients, what
is asked of it, the delay before the next level if nobody acknowledges, how many further
missed cycles move an acknowledged alert on, whether it is told together with the level
before it, and optionally a recovery plan due in working days).  Policies carry a
``version``; an open alert keeps the policy it started with, stored as JSON, so editing
the file never changes an alert already under way.
"""

from __future__ import annotations

import fnmatch
import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts.kpi_dictionary import CycleKind, KpiDictionary

_DEFAULT = Path(__file__).with_name("escalation.yaml")
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")

Channel = Literal["email", "webhook"]
MilestoneKind = Literal["slipped", "early_warning"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Recipient(_Strict):
    """One address: an email address or a webhook URL (JSON POST)."""

    email: str | None = None
    webhook: str | None = None
    name: str | None = None

    @model_validator(mode="after")
    def _one_address(self) -> Recipient:
        if (self.email is None) == (self.webhook is None):
            raise ValueError("a recipient has exactly one of `email` or `webhook`")
        if self.email is not None and not _EMAIL.match(self.email):
            raise ValueError(f"not an email address: {self.email!r}")
        if self.webhook is not None and not self.webhook.startswith(("http://", "https://")):
            raise ValueError(f"webhook must be an http(s) URL: {self.webhook!r}")
        return self

    @property
    def channel(self) -> Channel:
        return "email" if self.email is not None else "webhook"

    @property
    def address(self) -> str:
        return self.email if self.email is not None else str(self.webhook)


class RecoveryPlanRule(_Strict):
    working_days: int = Field(ge=1, le=120)
    document: str = "recovery plan"
    notify_next_level_when_overdue: bool = True


class Level(_Strict):
    body: str = Field(min_length=1, description="Governance body or role")
    role: str = ""
    ask: str = ""
    recipients: list[Recipient] = Field(min_length=1)
    escalate_after_days: float | None = Field(
        default=None, gt=0, description="Event-time delay before the next level; None = last"
    )
    escalate_if_still_missed_after: int | None = Field(
        default=None,
        ge=1,
        description="An acknowledgement at this level does not end the chain: if the series "
        "misses its goal in this many further closed cycles, the next level is notified",
    )
    notify_with_previous: bool = Field(
        default=False,
        description="Notify this level together with the level before it, as soon as that "
        "level is notified (it is still notified at most once per episode)",
    )
    requires_recovery_plan: RecoveryPlanRule | None = None
    ack_timeout_days: float | None = Field(
        default=None,
        gt=0,
        description="Acknowledgement timeout: an acknowledgement at this level lasts this "
        "many days (event time); with no recovery plan recorded by then the alert reopens "
        "and moves on to the next level",
    )


class Policy(_Strict):
    version: int = Field(ge=1)
    title: str
    rule: str = Field(pattern=r"^[A-Z]{1,3}[0-9]{1,3}[a-z]?$")
    levels: list[Level] = Field(min_length=1)

    @model_validator(mode="after")
    def _last_level_has_no_delay(self) -> Policy:
        last = self.levels[-1]
        if last.escalate_after_days is not None or last.escalate_if_still_missed_after:
            raise ValueError(
                "the last level has nowhere to escalate: drop escalate_after_days and "
                "escalate_if_still_missed_after"
            )
        if self.levels[0].notify_with_previous:
            raise ValueError("the first level has no previous level to be notified with")
        return self


class Watch(_Strict):
    kpi: str
    cycle_kinds: list[CycleKind] = Field(min_length=1)
    breakdowns: list[str] = Field(default_factory=lambda: ["all"], min_length=1)

    def matches(self, kpi: str, cycle_kind: str, breakdown: str) -> bool:
        return (
            kpi == self.kpi
            and cycle_kind in self.cycle_kinds
            and any(fnmatch.fnmatchcase(breakdown, p) for p in self.breakdowns)
        )


def _both() -> list[MilestoneKind]:
    return ["slipped", "early_warning"]


def _slipped() -> list[MilestoneKind]:
    return ["slipped"]


class MilestoneSettings(_Strict):
    record: list[MilestoneKind] = Field(default_factory=lambda: _both())
    notify: list[MilestoneKind] = Field(default_factory=lambda: _slipped())
    workstream_owners: dict[str, list[Recipient]] = Field(
        default_factory=dict,
        description="Where a workstream's milestone alerts go (kpis.yaml `workstream`); "
        "workstreams not listed use level 1 of the KPI's policy",
    )


# --- alerting: quiet hours and daily digests per recipient ---------------------------

_HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


class QuietHours(_Strict):
    """Local times (the delivery time zone): mail decided from ``start`` waits until
    ``end`` (a window may cross midnight, e.g. 19:00 to 08:00)."""

    start: str = Field(pattern=_HHMM)
    end: str = Field(pattern=_HHMM)

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("quiet hours start and end at the same time")
        return self


class RecipientDelivery(_Strict):
    quiet_hours: QuietHours | None = None
    digest_hour: int | None = Field(
        default=None,
        ge=0,
        le=23,
        description="Local hour at which the day's digest mails (digest_rules) go as one",
    )


class Bypass(_Strict):
    """A statutory breach at the board level reaches the board at once: notices of
    alerts on these KPIs to these governance bodies are never held."""

    statutory_kpis: list[str] = Field(default_factory=list)
    board_bodies: list[str] = Field(default_factory=list)


class Delivery(_Strict):
    timezone: Literal["Europe/London"] = "Europe/London"
    digest_rules: list[str] = Field(default_factory=list)
    defaults: RecipientDelivery = RecipientDelivery()
    recipients: dict[str, RecipientDelivery] = Field(default_factory=dict)
    bypass: Bypass = Bypass()

    def for_address(self, address: str) -> RecipientDelivery:
        own = self.recipients.get(address)
        if own is None:
            return self.defaults
        return RecipientDelivery(
            quiet_hours=own.quiet_hours or self.defaults.quiet_hours,
            digest_hour=own.digest_hour
            if own.digest_hour is not None
            else self.defaults.digest_hour,
        )


class EscalationConfig(_Strict):
    version: int
    horizon_days: int = Field(default=14, ge=0)
    silence_max_days: int = Field(
        default=90, ge=1, le=3660, description="The longest a silence may last, in days"
    )
    min_denominator: int = Field(
        default=1,
        ge=1,
        description="A closed cycle with fewer completions than this is too small to "
        "judge: it neither raises nor resolves an alert",
    )
    watch: list[Watch] = Field(default_factory=list)
    milestones: MilestoneSettings = MilestoneSettings()
    owners: dict[str, list[Recipient]] = Field(default_factory=dict)
    policies: dict[str, Policy]
    delivery: Delivery = Delivery()

    def watched(self, kpi: str, cycle_kind: str, breakdown: str) -> bool:
        return any(w.matches(kpi, cycle_kind, breakdown) for w in self.watch)

    def problems(self, dictionary: KpiDictionary) -> list[str]:
        """Cross-checks against the KPI dictionary (empty when consistent)."""
        out: list[str] = []
        for w in self.watch:
            k = dictionary.kpis.get(w.kpi)
            if k is None:
                out.append(f"watch: unknown kpi {w.kpi!r}")
                continue
            if k.escalation_policy is None:
                out.append(f"watch: kpi {w.kpi!r} has no escalation_policy in the dictionary")
            elif k.escalation_policy not in self.policies:
                out.append(f"watch: kpi {w.kpi!r} names unknown policy {k.escalation_policy!r}")
            for kind in w.cycle_kinds:
                if kind not in k.cycles:
                    out.append(f"watch: kpi {w.kpi!r} is not computed for {kind} cycles")
        for kpi_id, k in dictionary.kpis.items():
            if k.escalation_policy and k.escalation_policy not in self.policies:
                out.append(f"kpi {kpi_id!r} names unknown policy {k.escalation_policy!r}")
        for kpi_id in self.delivery.bypass.statutory_kpis:
            if kpi_id not in dictionary.kpis:
                out.append(f"delivery.bypass: unknown kpi {kpi_id!r}")
        bodies = {lv.body for p in self.policies.values() for lv in p.levels}
        for body in self.delivery.bypass.board_bodies:
            if body not in bodies:
                out.append(f"delivery.bypass: no policy level is the body {body!r}")
        return out


def horizon_days(config: EscalationConfig, override: int | None = None) -> int:
    """The backfill horizon: ``override`` (SENDWATCH_ALERTS_HORIZON_DAYS), else the file's."""
    return override if override is not None else config.horizon_days


@lru_cache(maxsize=4)
def load_escalation(path: str | Path | None = None) -> EscalationConfig:
    file = Path(path or _DEFAULT)
    return EscalationConfig.model_validate(yaml.safe_load(file.read_text()))
