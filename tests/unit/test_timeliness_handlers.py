"""The timeliness handlers over the in-memory unit of work: idempotent batches, milestone
alerts from ticks, closing and restating cycles, and how a change to the definitions
reaches stored values: never silently, only by an explicit, audited replay."""

from __future__ import annotations

import copy
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from contracts.clock_rules import ClockRules
from contracts.kpi_dictionary import KpiDictionary
from contracts.snapshots import KpiSnapshot
from contracts.timeline import MilestoneAlert
from services.timeliness import views
from services.timeliness.domain.engine import Engine
from services.timeliness.service_layer import handlers
from services.timeliness.service_layer.handlers import ReplayRequired
from services.timeliness.service_layer.unit_of_work import FakeUnitOfWork
from tests import engine_fixture as fx
from tests.helpers import BASE_TIME, case_event
from tests.unit.test_timeliness_property import CFG as CASE_CFG

CFG = fx.config()
REG = CFG.registry
D0 = BASE_TIME.date()
KPIS_FILE = Path(__file__).resolve().parents[2] / "contracts" / "kpis.yaml"


def items(cfg: handlers.Config, *raws: dict[str, Any]) -> list[handlers.Incoming]:
    return [i for raw in raws for i in fx.incoming(cfg.registry, raw)]


def kpi(uow: FakeUnitOfWork, cfg: handlers.Config, name: str, cycle: str) -> Any:
    (v,) = views.kpi_values(uow, cfg.engine.dictionary, name, cycle, "all")
    return v


def with_kpis(change: Any) -> handlers.Config:
    """The case configuration with the dictionary changed by ``change(raw)``."""
    raw = yaml.safe_load(KPIS_FILE.read_text())
    change(raw)
    d = KpiDictionary.model_validate(raw)
    return handlers.Config(
        Engine(d, CASE_CFG.engine.rules, CASE_CFG.registry), CASE_CFG.registry, CASE_CFG.topics
    )


def plans(*days_to_issue: int) -> list[dict[str, Any]]:
    """Cases requested ``d`` days before 2026-04-01 with a final plan that day."""
    out = []
    for n, d in enumerate(days_to_issue, start=1):
        out.append(case_event(2 * n, case=n, day=-d))
        out.append(case_event(2 * n + 1, "ehc.plan.final-issued", case=n))
    return out


# --- batches ---------------------------------------------------------------------------


def test_a_batch_is_applied_once_and_a_fact_sent_again_changes_nothing() -> None:
    uow = FakeUnitOfWork()
    raws = plans(100, 150)
    assert handlers.apply_batch(uow, items(CASE_CFG, *raws, raws[0]), CASE_CFG) == 4
    assert handlers.apply_batch(uow, items(CASE_CFG, *raws), CASE_CFG) == 0
    cells = copy.deepcopy(uow.committed.cells)
    again = {**raws[1], "id": "evt-final-again-00000001"}  # the same fact, another id
    assert handlers.apply_batch(uow, items(CASE_CFG, again), CASE_CFG) == 1
    assert uow.committed.cells == cells
    assert views.caseload(uow).events_applied == 5
    v = kpi(uow, CASE_CFG, "ehcp_20wk", "2026-04")
    assert (v.numerator, v.denominator) == (1, 2)


def test_ticks_raise_each_milestone_alert_once() -> None:
    uow = FakeUnitOfWork()
    handlers.apply_batch(uow, items(CASE_CFG, case_event(1, case=1)), CASE_CFG)
    for d in range(0, 50):
        handlers.apply_batch(uow, items(CASE_CFG, fx.tick(D0 + timedelta(days=d))), CASE_CFG)
    for d in range(30, 50):  # ticks again: nothing new
        handlers.apply_batch(
            uow,
            items(CASE_CFG, {**fx.tick(D0 + timedelta(days=d)), "id": f"again-{d:06d}"}),
            CASE_CFG,
        )
    alerts = [
        MilestoneAlert.model_validate_json(m.payload) for m in uow.take_outbox() if m.topic == "ms"
    ]
    assert [(a.data.milestone, a.data.kind, a.data.day) for a in alerts] == [
        ("decision_to_assess", "early_warning", 35),
        ("decision_to_assess", "slipped", 43),
    ]
    assert alerts[0].data.kpi == "decision_6wk" and alerts[0].data.locality == "shrewsbury"
    at_risk = views.cases_at_risk(uow, CASE_CFG.engine, 10)
    (row,) = at_risk["cases"]  # the milestone due soonest, even when already slipped
    assert (row["milestone"], row["days_left"], row["day"]) == ("decision_to_assess", -7, 49)


def test_a_late_event_restates_a_closed_cycle_as_a_new_revision() -> None:
    uow = FakeUnitOfWork()
    handlers.apply_batch(uow, items(CASE_CFG, *plans(100, 150)), CASE_CFG)
    handlers.apply_batch(uow, items(CASE_CFG, fx.tick(date(2026, 5, 15))), CASE_CFG)
    v = kpi(uow, CASE_CFG, "ehcp_20wk", "2026-04")
    assert (v.closed, v.revision, v.numerator, v.denominator) == (True, 1, 1, 2)
    late = [case_event(20, case=9, day=-20), case_event(21, "ehc.plan.final-issued", case=9)]
    handlers.apply_batch(uow, items(CASE_CFG, *late), CASE_CFG)
    v = kpi(uow, CASE_CFG, "ehcp_20wk", "2026-04")
    assert (v.revision, v.numerator, v.denominator) == (2, 2, 3)


# --- definitions change ------------------------------------------------------------------


def test_a_new_database_records_its_definitions_and_an_unchanged_one_carries_on() -> None:
    uow = FakeUnitOfWork()
    assert handlers.reconcile(uow, CASE_CFG) == "new"
    handlers.apply_batch(uow, items(CASE_CFG, *plans(100)), CASE_CFG)
    assert handlers.reconcile(uow, CASE_CFG) == "unchanged"
    # a new target changes how values are judged, not what is stored
    retarget = with_kpis(lambda raw: raw["kpis"]["ehcp_20wk"].update(standard=95.0))
    assert handlers.reconcile(uow, retarget) == "unchanged"


def test_a_change_that_would_restate_values_holds_until_an_audited_replay() -> None:
    uow = FakeUnitOfWork()
    handlers.apply_batch(uow, items(CASE_CFG, *plans(100, 150)), CASE_CFG)
    handlers.apply_batch(uow, items(CASE_CFG, fx.tick(date(2026, 5, 15))), CASE_CFG)
    uow.take_outbox()
    stricter = with_kpis(lambda raw: raw["kpis"]["ehcp_20wk"].update(thresholds=[{"days": 90}]))
    with pytest.raises(ReplayRequired):
        handlers.reconcile(uow, stricter)
    with pytest.raises(ReplayRequired):  # consumption waits: nothing is restated silently
        handlers.apply_batch(uow, items(stricter, case_event(90, case=90)), stricter)
    assert kpi(uow, CASE_CFG, "ehcp_20wk", "2026-04").numerator == 1
    with pytest.raises(ValueError):
        handlers.replay(uow, stricter, reason=" ")
    report = handlers.replay(uow, stricter, reason="K1 measured against 90 days (test)")
    assert report.closed_restated > 0 and "ehcp_20wk 2026-04 all" in report.restated
    v = kpi(uow, stricter, "ehcp_20wk", "2026-04")
    assert (v.numerator, v.denominator, v.revision) == (0, 2, 2)
    (entry,) = uow.committed.audits
    assert (entry.action, entry.reason) == ("replay", "K1 measured against 90 days (test)")
    assert entry.fingerprint == stricter.engine.fingerprint
    published = [
        v
        for m in uow.take_outbox()
        for v in KpiSnapshot.model_validate_json(m.payload).data.values
        if (v.kpi, v.cycle, v.breakdown) == ("ehcp_20wk", "2026-04", "all")
    ]
    assert published and published[-1].revision == 2
    assert handlers.apply_batch(uow, items(stricter, case_event(90, case=90)), stricter) == 1


def test_a_replay_closes_the_cycles_it_writes_first_that_the_clock_has_passed() -> None:
    """A replay that writes cells of a cycle never written before (here: a weekly cycle
    added to a KPI) closes it when the clock has passed its close, as a batch does.
    (A week before the census horizon: no census has opened it already.)"""
    uow = FakeUnitOfWork()
    history = [
        case_event(1, case=1, day=-300),
        case_event(2, "ehc.plan.final-issued", case=1, day=-200),  # 2025-09-13
    ]
    handlers.apply_batch(uow, items(CASE_CFG, *history), CASE_CFG)
    handlers.apply_batch(uow, items(CASE_CFG, fx.tick(date(2026, 5, 15))), CASE_CFG)
    weekly = with_kpis(lambda raw: raw["kpis"]["ehcp_20wk"]["cycles"].append("week"))
    handlers.replay(uow, weekly, reason="weekly figures (test)")
    v = kpi(uow, weekly, "ehcp_20wk", "2025-W37")
    assert (v.closed, v.revision, v.numerator, v.denominator) == (True, 1, 1, 1)
    published = [
        v
        for m in uow.take_outbox()
        if m.topic == weekly.topics.snapshots
        for v in KpiSnapshot.model_validate_json(m.payload).data.values
        if (v.kpi, v.cycle, v.breakdown) == ("ehcp_20wk", "2025-W37", "all")
    ]
    assert published and published[-1].closed


def test_a_replay_from_a_day_leaves_earlier_cycles_as_they_were() -> None:
    uow = FakeUnitOfWork()
    raws = plans(100) + [
        case_event(40, case=40, day=60),
        case_event(41, "ehc.plan.final-issued", case=40, day=160),  # issued in September
    ]
    handlers.apply_batch(uow, items(CASE_CFG, *raws), CASE_CFG)
    stricter = with_kpis(lambda raw: raw["kpis"]["ehcp_20wk"].update(thresholds=[{"days": 90}]))
    handlers.replay(uow, stricter, reason="from September (test)", from_day=date(2026, 9, 1))
    assert kpi(uow, stricter, "ehcp_20wk", "2026-04").numerator == 1  # left as it was
    assert kpi(uow, stricter, "ehcp_20wk", "2026-09").numerator == 0  # 100 days > 90


def test_a_clock_change_from_a_future_date_restates_nothing() -> None:
    """A new version of a policy applies to clocks started on or after its date only."""
    uow = FakeUnitOfWork()
    handlers.apply_batch(uow, items(CASE_CFG, *plans(100, 150)), CASE_CFG)
    raw = CASE_CFG.engine.rules.model_dump(mode="json")
    final = raw["policies"]["final_plan"][0]
    raw["policies"]["final_plan"].append(
        {**final, "effective_from": "2027-04-01", "stop": [{"type": "ehc.plan.draft-issued"}]}
    )
    rules = ClockRules.model_validate(raw)
    reg = CASE_CFG.registry
    later = handlers.Config(Engine(CASE_CFG.engine.dictionary, rules, reg), reg, CASE_CFG.topics)
    assert handlers.reconcile(uow, later) == "accepted"
    assert uow.committed.audits[-1].action == "accepted"
    assert kpi(uow, later, "ehcp_20wk", "2026-04").numerator == 1


def test_topics_come_from_the_registry() -> None:
    assert CASE_CFG.registry.topics[0] == "case-events"
    # every contracts/*_events.py module's topic, found by name
    assert {"referral-events", "programme-events"} <= set(CASE_CFG.registry.topics)
    assert REG.topics[0] == "case-events"
    assert {"referral-events", "placement-events", "programme-events"} <= set(REG.topics)
    assert "fixture.referral.received" in json.loads(json.dumps(REG.types_on("referral-events")))


def test_the_inbox_keys_on_source_and_id() -> None:
    """Reliability: a second source cannot pre-empt another's id (both are applied)."""
    uow = FakeUnitOfWork()
    mine = case_event(1, case=1)
    theirs = {**case_event(2, case=2), "id": mine["id"], "source": "sen2-import"}
    assert handlers.apply_batch(uow, items(CASE_CFG, mine), CASE_CFG) == 1
    assert handlers.apply_batch(uow, items(CASE_CFG, theirs), CASE_CFG) == 1
    assert handlers.apply_batch(uow, items(CASE_CFG, mine, theirs), CASE_CFG) == 0
    assert views.caseload(uow).events_applied == 2


def test_a_tick_evaluates_only_the_cases_due(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reliability: open cases are indexed by their next alert day, so a tick reads and
    evaluates only those due; the alerts are the same as evaluating every case."""
    uow = FakeUnitOfWork()
    n = 200
    handlers.apply_batch(
        uow, items(CASE_CFG, *[case_event(c, case=c) for c in range(1, n + 1)]), CASE_CFG
    )
    evaluated: list[str] = []
    real = CASE_CFG.engine.alerts_due

    def counting(s: Any, today: date, already: frozenset[str]) -> Any:
        evaluated.append(s.subject)
        return real(s, today, already)

    monkeypatch.setattr(CASE_CFG.engine, "alerts_due", counting)
    raised = []
    for d in range(1, 50):
        evaluated.clear()
        handlers.apply_batch(uow, items(CASE_CFG, fx.tick(D0 + timedelta(days=d))), CASE_CFG)
        raised += [m for m in uow.take_outbox() if m.topic == "ms"]
        if d not in (35, 43):  # the warning day and the day after the due day
            assert evaluated == [], d
        else:
            assert len(evaluated) == n, d
    assert len(raised) == 2 * n  # an early warning and a slip for every case
