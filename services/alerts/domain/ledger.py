"""The bookkeeping of one decision (a consumed batch or a person's action): the alerts it
has read and changed, and the effects it produces - audit entries, notifications for
the outbox and the rules that fired - which the unit of work writes in one transaction.

The rules (``rules.py``), the escalation chain (``escalation.py``) and people's actions
(``actions.py``) all work through one ``Ledger``, built with the service's "now" (event
time), the configuration, the active silences and a ``lookup`` for stored alerts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from contracts.escalation import EscalationConfig, Policy
from contracts.kpi_dictionary import KpiDef, KpiDictionary
from services.alerts.domain import audit, recovery_actions
from services.alerts.domain.ids import alert_id
from services.alerts.domain.model import (
    Alert,
    AuditEntry,
    Notification,
    Silence,
    local_date,
)

# What an overdue alert shares with its parent: the KPI cycle and the policy.
_FROM_PARENT = ("kpi", "cycle_kind", "breakdown", "cycle", "policy_name", "policy")


@dataclass
class Ledger:
    config: EscalationConfig
    dictionary: KpiDictionary
    now: datetime
    lookup: Callable[[str], Alert | None]
    silences: Sequence[Silence] = ()
    horizon_days: int = 14
    base_url: str = "http://127.0.0.1:8000"
    alerts: dict[str, Alert] = field(default_factory=dict)
    changed: set[str] = field(default_factory=set)
    audit: list[AuditEntry] = field(default_factory=list)
    outbox: list[Notification] = field(default_factory=list)
    fired: list[str] = field(default_factory=list)

    @property
    def start_month(self) -> int:
        return self.dictionary.plan_year_start_month

    def get(self, aid: str) -> Alert | None:
        if aid not in self.alerts:
            found = self.lookup(aid)
            if found is None:
                return None
            self.alerts[aid] = found
        return self.alerts[aid]

    def open_ids(self) -> set[str]:
        return {i for i, a in self.alerts.items() if a.is_open}

    def changed_alerts(self) -> list[Alert]:
        """The alerts to write, with their next check time brought up to date."""
        out = []
        for aid in sorted(self.changed):
            a = self.alerts[aid]
            a.next_check_at = self.next_check(a)
            out.append(a)
        return out

    def touch(self, a: Alert) -> None:
        a.updated_at = self.now
        self.alerts[a.id] = a
        self.changed.add(a.id)

    def log(self, a: Alert | None, kind: str, message: str, **kw: Any) -> None:
        self.audit.append(
            AuditEntry(
                alert_id=a.id if a else None,
                episode=a.episode if a else None,
                at=self.now,
                kind=kind,
                message=message,
                **kw,
            )
        )

    def raise_alert(self, fingerprint: str, make: Callable[[], Alert]) -> Alert:
        """Open a new alert, or a new episode of a resolved one (a re-trigger)."""
        old = self.get(alert_id(fingerprint))
        a = make()
        if old is not None:
            a.episode = old.episode + 1
        self.touch(a)
        self.fired.append(a.rule)
        if old is None:
            self.log(a, "opened", audit.opened(a))
        else:
            self.log(a, "retriggered", audit.retriggered(a))
        if a.historical:
            self.log(a, "historical", audit.historical(self.horizon_days))
        return a

    def raise_overdue(
        self, parent: Alert, fingerprint: str, rule: str, title: str, level: int, **facts: Any
    ) -> Alert:
        """Open an overdue alert under ``parent`` (its plan, or one of its actions, is
        past due): the parent's KPI, cycle, breakdown and policy, with the facts every
        overdue alert carries of its parent around the ``facts`` of this one."""
        parent_facts = parent.facts
        carried = {
            "kpi_name": parent_facts.get("kpi_name"),
            "kpi_ref": parent_facts.get("kpi_ref"),
            "unit": parent_facts.get("unit"),
            "owner": parent_facts.get("owner"),
            "document": parent.plan_document,
            **facts,
            "parent_id": parent.id,
            "parent_rule": parent.rule,
            "parent_title": parent.title,
            "parent_episode": parent.episode,
        }
        now = self.now

        def overdue() -> Alert:
            return Alert(
                **{name: getattr(parent, name) for name in _FROM_PARENT},
                parent_id=parent.id,
                facts=carried,
                rule=rule,
                title=title,
                level=level,
                id=alert_id(fingerprint),
                fingerprint=fingerprint,
                kind="overdue",
                opened_at=now,
                updated_at=now,
                level_at=now,
            )

        return self.raise_alert(fingerprint, overdue)

    def is_historical(self, day: date) -> bool:
        """Cycles (or milestones) that closed before now minus the horizon notify nobody."""
        return day < local_date(self.now) - timedelta(days=self.horizon_days)

    def policy(self, k: KpiDef | None) -> Policy | None:
        if k is None or k.escalation_policy is None:
            return None
        return self.config.policies.get(k.escalation_policy)

    def silence_for(self, a: Alert) -> Silence | None:
        for s in self.silences:
            if s.mutes(a.kpi, a.breakdown, self.now):
                return s
        return None

    def next_check(self, a: Alert) -> datetime | None:
        if not a.is_open or a.historical:
            return None
        times: list[datetime] = []
        if a.level_muted and a.status == "open":
            s = self.silence_for(a)
            times.append(s.until if s is not None else self.now)
        for t in (
            a.next_escalation_at(),
            a.plan_overdue_from(),
            a.ack_expires_at(),
            recovery_actions.next_due(a),
        ):
            if t is not None:
                times.append(t)
        return min(times) if times else None
