"""One handler per message and command.  Each reads what it needs through the unit of
work, lets the domain decide (the rules, the escalation chain, people's actions) in
event time, writes the decision - alerts, audit and outbox - and commits once.
Handlers return domain objects; the entrypoint renders them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from contracts.escalation import EscalationConfig
from contracts.kpi_dictionary import KpiDictionary
from contracts.placements import SufficiencyAlerts
from contracts.snapshots import KpiSnapshot
from contracts.timeline import MilestoneAlert
from services.alerts.domain import actions, capacity, recovery_actions
from services.alerts.domain.escalation import Chain
from services.alerts.domain.ids import alert_id, milestone_fingerprint
from services.alerts.domain.ledger import Ledger
from services.alerts.domain.model import Alert, MilestoneInput, RecoveryPlan, Silence
from services.alerts.domain.rules import Rules
from services.alerts.domain.series import closed_values, cycle_result, merge
from services.alerts.service_layer.unit_of_work import AbstractUnitOfWork

Incoming = KpiSnapshot | MilestoneAlert


@dataclass(frozen=True)
class Context:
    """The configuration every decision is made under."""

    config: EscalationConfig
    dictionary: KpiDictionary
    horizon_days: int = 14
    base_url: str = "http://127.0.0.1:8000"
    capacity: SufficiencyAlerts | None = None  # placements.yaml: base full / under-used


def _decide(ctx: Context, uow: AbstractUnitOfWork, now: datetime) -> tuple[Ledger, Chain]:
    led = Ledger(
        config=ctx.config,
        dictionary=ctx.dictionary,
        now=now,
        lookup=uow.alerts.get,
        silences=uow.active_silences(now),
        horizon_days=ctx.horizon_days,
        base_url=ctx.base_url,
    )
    return led, Chain(led)


def _tick(
    uow: AbstractUnitOfWork, snaps: Sequence[KpiSnapshot], ms: Sequence[MilestoneAlert]
) -> datetime:
    """Move the event-time clock on; "now" for this batch."""
    clock = uow.clock().after(snaps, ms)
    now = clock.now or uow.wall_clock()
    uow.save_clock(replace(clock, now=now))
    return now


def _now(uow: AbstractUnitOfWork) -> datetime:
    return uow.clock().now or uow.wall_clock()


# --- messages ----------------------------------------------------------------------


def apply_snapshots(
    ctx: Context, uow: AbstractUnitOfWork, snapshots: Sequence[KpiSnapshot]
) -> list[Alert]:
    """Apply KPI snapshots idempotently: judge the closed cycles of the watched series,
    re-evaluate the pending escalations at the new event time, and queue notifications.
    Returns the alerts changed."""
    with uow:
        fresh = sorted(uow.claim_new(snapshots), key=lambda s: s.data.sequence)
        if not fresh:
            uow.commit()
            return []
        now = _tick(uow, fresh, [])
        uow.observe(fresh)
        led, chain = _decide(ctx, uow, now)
        rules = Rules(led, chain)
        start = ctx.dictionary.plan_year_start_month
        for series, results in sorted(closed_values(fresh, ctx.config, ctx.dictionary).items()):
            k = ctx.dictionary.kpis[series[0]]
            to_store, steps = merge(uow.cycle_values(series, k), results, start)
            uow.save_cycle_values(to_store.values(), now)
            for step in steps:
                rules.closed_cycle(step.cur, step.prev, restated=step.restated)
        if ctx.capacity is not None:
            _capacity(ctx, ctx.capacity, uow, fresh, led, chain, now)
        chain.advance(uow.alerts.due(now))
        changed = uow.record(led, applied=len(fresh))
        uow.commit()
        return changed


def _capacity(
    ctx: Context,
    cfg: SufficiencyAlerts,
    uow: AbstractUnitOfWork,
    fresh: Sequence[KpiSnapshot],
    led: Ledger,
    chain: Chain,
    now: datetime,
) -> None:
    """Capacity alerts (``domain/capacity.py``) on the closed cycles of occupancy KPIs."""
    d = ctx.dictionary
    found: dict[tuple[str, str, str], list[Any]] = {}
    for snap in fresh:
        for v in snap.data.values:
            k = d.kpis.get(v.kpi)
            if (
                k is None
                or not v.closed
                or not capacity.watched(cfg, k.kind, v.cycle_kind, v.breakdown)
            ):
                continue
            r = cycle_result(v, v.cycle_kind, k, d)
            if r is not None:
                found.setdefault((v.kpi, v.cycle_kind, v.breakdown), []).append(r)
    for series, results in sorted(found.items()):
        k = d.kpis[series[0]]
        to_store, steps = merge(uow.cycle_values(series, k), results, d.plan_year_start_month)
        uow.save_cycle_values(to_store.values(), now)
        capacity.apply(cfg, led, chain, steps)


def apply_milestones(
    ctx: Context, uow: AbstractUnitOfWork, milestones: Sequence[MilestoneAlert]
) -> list[Alert]:
    """Record milestone slips and early warnings (MS1 / MS2) idempotently and notify the
    slips; re-evaluate pending escalations at the new event time."""
    with uow:
        fresh = sorted(uow.claim_new(milestones), key=lambda m: m.time)
        if not fresh:
            uow.commit()
            return []
        now = _tick(uow, [], fresh)
        inputs = [milestone_input(m) for m in fresh]
        # One read for the batch's alerts, not one per milestone.
        uow.alerts.preload(
            alert_id(milestone_fingerprint(m.case, m.milestone, m.kind)) for m in inputs
        )
        led, chain = _decide(ctx, uow, now)
        rules = Rules(led, chain)
        for mi in inputs:
            rules.milestone(mi)
        chain.advance(uow.alerts.due(now))
        changed = uow.record(led, applied=len(fresh))
        uow.commit()
        return changed


def milestone_input(m: MilestoneAlert) -> MilestoneInput:
    return MilestoneInput(
        event_id=m.id,
        case=m.subject,
        at=m.time,
        milestone=m.data.milestone,
        kind=m.data.kind,
        kpi=m.data.kpi,
        start=m.data.start,
        due=m.data.due,
        day=m.data.day,
        locality=m.data.locality,
        age_band=m.data.age_band,
    )


Handler = Callable[[Context, AbstractUnitOfWork, Sequence[Any]], list[Alert]]
MESSAGE_HANDLERS: dict[type, Handler] = {
    KpiSnapshot: apply_snapshots,
    MilestoneAlert: apply_milestones,
}


def handle(ctx: Context, uow: AbstractUnitOfWork, items: Sequence[Incoming]) -> list[Alert]:
    """A consumed batch: each kind of message to its handler (one transaction each)."""
    changed: list[Alert] = []
    for kind, handler in MESSAGE_HANDLERS.items():
        batch = [x for x in items if isinstance(x, kind)]
        if batch:
            changed += handler(ctx, uow, batch)
    return changed


# --- commands ----------------------------------------------------------------------


def acknowledge(
    ctx: Context, uow: AbstractUnitOfWork, alert_id: str, actor: str, note: str | None = None
) -> Alert:
    with uow:
        led, _ = _decide(ctx, uow, _now(uow))
        a = actions.acknowledge(led, alert_id, actor, note)
        uow.record(led)
        uow.commit()
        return a


def record_plan(ctx: Context, uow: AbstractUnitOfWork, alert_id: str, plan: RecoveryPlan) -> Alert:
    """Record a recovery plan (on an overdue alert: on its escalation)."""
    with uow:
        now = _now(uow)
        led, chain = _decide(ctx, uow, now)
        a = actions.record_plan(led, chain, alert_id, plan)
        uow.add_plan(a, plan, now)
        uow.record(led)
        uow.commit()
        return a


def complete_action(
    ctx: Context, uow: AbstractUnitOfWork, alert_id: str, number: int, actor: str
) -> Alert:
    """Mark a recovery plan action done (R5); its overdue alert, if any, resolves."""
    with uow:
        led, chain = _decide(ctx, uow, _now(uow))
        a = recovery_actions.complete(chain, alert_id, number, actor)
        uow.record(led)
        uow.commit()
        return a


def create_silence(
    ctx: Context,
    uow: AbstractUnitOfWork,
    *,
    kpi: str | None,
    breakdown: str | None,
    until: datetime,
    reason: str,
    by: str,
) -> Silence:
    if kpi is not None and kpi not in ctx.dictionary.kpis:
        raise ValueError(f"unknown kpi {kpi!r}")
    with uow:
        now = _now(uow)
        draft = Silence.create(
            kpi=kpi,
            breakdown=breakdown,
            until=until,
            reason=reason,
            created_by=by,
            now=now,
            max_days=ctx.config.silence_max_days,
        )
        led, _ = _decide(ctx, uow, now)
        s = uow.add_silence(draft, created_at=now)
        actions.silence_created(led, s)
        uow.record(led)
        uow.commit()
        return s


def record_link_use(
    ctx: Context,
    uow: AbstractUnitOfWork,
    alert_id: str | None,
    kind: str,
    message: str,
    actor: str,
    detail: dict[str, Any],
) -> None:
    """Audit the use of a signed mail link (opened, refused, used again)."""
    with uow:
        led, _ = _decide(ctx, uow, _now(uow))
        a = led.get(alert_id) if alert_id else None
        led.log(a, kind, message, actor=actor, detail=detail)
        uow.record(led)
        uow.commit()
