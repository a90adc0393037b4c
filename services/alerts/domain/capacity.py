"""Capacity alerts (pure): an inclusion base that is full, or under-used a term after it
opened, from the closed cycles of every occupancy KPI (``contracts/placements.yaml``
``alerts``).  No KPI is named: the rule reads every KPI of kind ``occupancy``, per value
of the configured breakdown (``base=ib-001`` ...).

- CAP1 full: the cycle's occupancy is at or above ``full_percent``.
- CAP2 under-used: below ``underused_percent``, and the base already had places in the
  cycle before (a whole cycle has passed since it opened).

Each (KPI, base, cycle, rule) is raised once; the alert goes to the KPI's workstream
(``milestones.workstream_owners``), like a milestone exception.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from contracts import cycles
from contracts.placements import SufficiencyAlerts
from services.alerts.domain.capacity_messages import RULES
from services.alerts.domain.escalation import Chain
from services.alerts.domain.ids import alert_id
from services.alerts.domain.ledger import Ledger
from services.alerts.domain.model import Alert, CycleResult
from services.alerts.domain.series import Step


def watched(cfg: SufficiencyAlerts, kind: str, cycle_kind: str, breakdown: str) -> bool:
    return (
        kind == "occupancy"
        and cycle_kind == cfg.cycle_kind
        and breakdown.startswith(f"{cfg.breakdown}=")
    )


def verdict(cfg: SufficiencyAlerts, cur: CycleResult, prev: CycleResult | None) -> str | None:
    """CAP1, CAP2 or None for one closed cycle of one base."""
    if cur.value is None or not cur.denominator:
        return None
    if cur.value >= cfg.full_percent:
        return "CAP1"
    opened_before = prev is not None and bool(prev.denominator)
    if cur.value < cfg.underused_percent and opened_before:
        return "CAP2"
    return None


def apply(
    cfg: SufficiencyAlerts, ledger: Ledger, chain: Chain, steps: Iterable[Step]
) -> list[Alert]:
    """Raise (and deliver) the capacity alerts the closed cycles call for."""
    out: list[Alert] = []
    for step in steps:
        cur = step.cur
        rule = verdict(cfg, cur, step.prev)
        if rule is None:
            continue
        fp = f"{rule}|{cur.kpi}|{cur.breakdown}|{cur.cycle}"
        if ledger.get(alert_id(fp)) is not None:
            continue  # raised already (a restatement or a replay)
        k = ledger.dictionary.kpis.get(cur.kpi)
        label = cycles.describe(cur.cycle, ledger.start_month)
        hist = ledger.is_historical(cur.closed_on)
        base = cur.breakdown.split("=", 1)[1]
        facts: dict[str, Any] = {
            "kpi_name": k.name if k else cur.kpi,
            "kpi_ref": k.ref if k else None,
            "owner": k.owner if k else None,
            "workstream": k.workstream if k else None,
            "base": base,
            "cycle_label": label,
            "filled": cur.numerator,
            "places": cur.denominator,
            "value": cur.value,
            "full_percent": cfg.full_percent,
            "underused_percent": cfg.underused_percent,
        }
        a = ledger.raise_alert(fp, _maker(ledger, fp, rule, cur, facts, hist))
        if not hist:
            chain.deliver(a)
        out.append(a)
    return out


__all__ = ["RULES", "apply", "verdict", "watched"]


def _maker(
    ledger: Ledger, fp: str, rule: str, cur: CycleResult, facts: dict[str, Any], hist: bool
) -> Callable[[], Alert]:
    what = "full" if rule == "CAP1" else "under-used"

    def make() -> Alert:
        return Alert(
            id=alert_id(fp),
            fingerprint=fp,
            rule=rule,
            kind="milestone",
            kpi=cur.kpi,
            cycle_kind=cur.cycle_kind,
            breakdown=cur.breakdown,
            cycle=cur.cycle,
            title=f"Inclusion base {facts['base']} {what} in {facts['cycle_label']}",
            opened_at=ledger.now,
            updated_at=ledger.now,
            historical=hist,
            policy_name=None,
            policy=None,
            level=0 if hist else 1,
            level_at=None if hist else ledger.now,
            facts=facts,
        )

    return make
