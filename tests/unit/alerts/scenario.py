"""Alert scenarios in event time, run through the real handlers over a
``FakeUnitOfWork``: each step becomes the message or command the service would get.

- ``cycle``: a KPI snapshot closing one cycle (its watermark is the step's time);
- ``tick``: a snapshot with no values (time passes);
- ``ack`` / ``plan`` / ``silence``: time passes to the step, then the API command;
- ``milestone``: a milestone alert from the timeliness clocks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from contracts import cycles
from contracts.escalation import EscalationConfig, load_escalation
from contracts.kpi_dictionary import KpiDictionary, load_kpis
from contracts.snapshots import KpiSnapshot, KpiValue
from contracts.timeline import MilestoneAlert
from services.alerts.domain.model import LONDON, Alert, Notification, PlanAction, RecoveryPlan
from services.alerts.service_layer import handlers
from services.alerts.service_layer.handlers import Context
from services.alerts.service_layer.unit_of_work import AbstractUnitOfWork, FakeUnitOfWork

DICTIONARY = load_kpis()
CONFIG = load_escalation()

# Value fields a step may give (the rest: the KPI's standard, revision 1, closed).
VALUE_KEYS = ("value", "target", "numerator", "denominator", "goal", "direction", "unit")


def at(value: Any) -> datetime:
    """A date means the end of that day in England (as the simulator's ticks are)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    d = value if isinstance(value, date) else date.fromisoformat(str(value))
    return datetime.combine(d, time(23, 59, 59), tzinfo=LONDON).astimezone(UTC)


@dataclass
class Scenario:
    kpi: str = "ehcp_20wk"
    breakdown: str = "all"
    horizon_days: int = 14
    config: EscalationConfig = CONFIG
    dictionary: KpiDictionary = DICTIONARY
    uow: AbstractUnitOfWork = field(default_factory=FakeUnitOfWork)
    sequence: int = 0

    @property
    def ctx(self) -> Context:
        return Context(self.config, self.dictionary, horizon_days=self.horizon_days)

    # --- messages --------------------------------------------------------------------

    def value(self, step: dict[str, Any]) -> KpiValue:
        kpi = step.get("kpi", self.kpi)
        label = str(step["cycle"])
        fields = {k: step[k] for k in VALUE_KEYS if k in step}
        if "closes_on" in step:
            fields["closes_on"] = date.fromisoformat(str(step["closes_on"]))
        return KpiValue(
            kpi=kpi,
            cycle=label,
            cycle_kind=cycles.kind_of(label),
            breakdown=step.get("breakdown", self.breakdown),
            closed=True,
            revision=int(step.get("revision", 1)),
            standard=step.get("standard", self.dictionary.kpis[kpi].standard),
            **{"value": None, **fields},
        )

    def snapshot(self, when: datetime, values: list[KpiValue] | None = None) -> KpiSnapshot:
        self.sequence += 1
        return KpiSnapshot.model_validate(
            {
                "id": f"snap-{self.sequence:06d}",
                "source": "timeliness",
                "type": "sendwatch.kpi.snapshot",
                "subject": "kpi-set:timeliness",
                "time": when,
                "data": {
                    "producer": "timeliness",
                    "sequence": self.sequence,
                    "as_of": when,
                    "watermark": when,
                    "events_applied": self.sequence,
                    "values": [v.model_dump() for v in values or []],
                },
            }
        )

    def milestone_alert(self, when: datetime, m: dict[str, Any]) -> MilestoneAlert:
        kind = m.get("kind", "slipped")
        return MilestoneAlert.model_validate(
            {
                "id": f"ms-{m['case']}-{kind}",
                "source": "timeliness",
                "type": f"ehc.milestone.{'slipped' if kind == 'slipped' else 'early-warning'}",
                "subject": m["case"],
                "time": when,
                "data": {
                    "milestone": m.get("name", "decision_to_assess"),
                    "kind": kind,
                    "kpi": m.get("kpi", "decision_6wk"),
                    "start": "2026-04-01",
                    "due": "2026-05-13",
                    "day": 43,
                    "locality": "shrewsbury",
                    "age_band": "5-10",
                },
            }
        )

    # --- running steps ---------------------------------------------------------------

    def tick(self, when: datetime) -> None:
        handlers.apply_snapshots(self.ctx, self.uow, [self.snapshot(when)])

    def run(self, steps: list[dict[str, Any]]) -> None:
        for step in steps:
            when = at(step["at"])
            if "cycle" in step:
                snap = self.snapshot(when, [self.value(step)])
                handlers.apply_snapshots(self.ctx, self.uow, [snap])
            elif "tick" in step:
                self.tick(when)
            elif "ack" in step:
                self.tick(when)
                by = step.get("by", "Test User")
                handlers.acknowledge(self.ctx, self.uow, self.find(step["ack"]).id, by)
            elif "plan" in step:
                self.tick(when)
                plan = RecoveryPlan(
                    summary="Recovery plan",
                    actions=(
                        PlanAction("Recruit two locum EPs", "Principal EP", date(2027, 3, 1)),
                    ),
                    recorded_by=step.get("by", "Test User"),
                )
                handlers.record_plan(self.ctx, self.uow, self.find(step["plan"]).id, plan)
            elif "silence" in step:
                self.tick(when)
                spec = step["silence"]
                handlers.create_silence(
                    self.ctx,
                    self.uow,
                    kpi=spec.get("kpi"),
                    breakdown=spec.get("breakdown"),
                    until=at(spec["until"]),
                    reason=spec.get("reason", "test"),
                    by="Test User",
                )
            elif "milestone" in step:
                ms = self.milestone_alert(when, step["milestone"])
                handlers.apply_milestones(self.ctx, self.uow, [ms])
            else:
                raise AssertionError(f"unknown step {step}")

    # --- what happened ---------------------------------------------------------------

    @property
    def fake(self) -> FakeUnitOfWork:
        assert isinstance(self.uow, FakeUnitOfWork)
        return self.uow

    @property
    def alerts(self) -> dict[str, Alert]:
        return self.fake.committed.alerts

    @property
    def sent(self) -> list[Notification]:
        return self.fake.committed.outbox

    def find(self, rule: str) -> Alert:
        found = [a for a in self.alerts.values() if a.rule == rule]
        assert len(found) == 1, f"{len(found)} alerts with rule {rule}"
        return found[0]

    def mail(self) -> list[tuple[str, int, str, str]]:
        return [(n.recipient, n.level, n.notice, self.alerts[n.alert_id].rule) for n in self.sent]

    def timeline(self, rule: str) -> list[tuple[str, str]]:
        aid = self.find(rule).id
        return [(x.kind, x.message) for x in self.fake.committed.audit if x.alert_id == aid]


def check_case(h: Scenario, case: dict[str, Any]) -> None:
    """Run a table case and check its expected alerts (``exp_alerts``: attributes by
    rule), mail (``exp_mail``: recipient, level, notice, rule, in order) and phrases in
    the mail (``exp_text``)."""
    h.run(case["steps"])
    got = sorted(h.alerts.values(), key=lambda a: (a.rule, a.opened_at))
    assert [a.rule for a in got] == sorted(e["rule"] for e in case["exp_alerts"]), [
        (a.rule, a.status) for a in got
    ]
    for exp in case["exp_alerts"]:
        a = h.find(exp["rule"])
        for key, want in exp.items():
            if key == "rule":
                continue
            if key == "owner":
                have: Any = a.facts.get("owner")
            elif key == "plan_recorded":
                have = a.plan_recorded_at is not None
            elif key in ("follow_up_due", "plan_due"):
                have = getattr(a, key)
                want = date.fromisoformat(str(want)) if isinstance(want, str) else want
            elif key == "policy":
                have = a.policy_name
            elif key == "cycles":
                have = [c["cycle"] for c in a.facts["cycles"]]
            else:
                have = getattr(a, key)
            assert have == want, f"{exp['rule']}.{key}: {have!r} != {want!r}"
    if "exp_mail" in case:
        assert h.mail() == [tuple(m) for m in case["exp_mail"]]
    text = " ".join(" ".join(f"{n.subject} {n.body}".split()) for n in h.sent)
    for phrase in case.get("exp_text", []):
        assert phrase in text, f"{phrase!r} not in {text}"
