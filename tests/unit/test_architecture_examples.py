"""The worked examples of ``docs/architecture.md`` work as written: the YAML and Python
blocks are read from the document itself, added to the real contracts, and events run
through the real handlers (in-memory unit of work) into values that reporting renders
on the overview, by headline metric, with their RAG and target."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml

import contracts
from contracts.clock_rules import ClockRules
from contracts.events import EventRegistry, load_events
from contracts.kpi_dictionary import KpiDictionary
from services.reporting.domain import dashboard
from services.reporting.domain.suppression import Published, unsuppressed
from services.timeliness import views
from services.timeliness.domain.engine import Engine
from services.timeliness.service_layer import handlers
from services.timeliness.service_layer.messages import Topics
from services.timeliness.service_layer.unit_of_work import FakeUnitOfWork
from tests import engine_fixture as fx

DOC = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"
CONTRACTS = Path(contracts.__file__).parent


def example(name: str) -> str:
    """The code block that follows ``<!-- example: name -->`` in the document."""
    after = DOC.read_text().split(f"<!-- example: {name} -->", 1)[1]
    found = re.search(r"```\w+\n(.*?)```", after, re.S)
    assert found is not None, name
    return found.group(1)


def raw(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((CONTRACTS / name).read_text())
    return data


def config(kpis: dict[str, Any], clocks: dict[str, Any], reg: EventRegistry) -> handlers.Config:
    engine = Engine(KpiDictionary.model_validate(kpis), ClockRules.model_validate(clocks), reg)
    assert engine.problems == []
    return handlers.Config(engine, reg, Topics("snapshots", "milestones"))


def run(cfg: handlers.Config, events: list[dict[str, Any]], ticks: list[date]) -> FakeUnitOfWork:
    uow = FakeUnitOfWork()
    items = [
        handlers.Incoming(cfg.registry.parse(json.dumps(e)), cfg.registry.topic_of(e["type"]), 0)
        for e in events
    ]
    handlers.apply_batch(uow, items, cfg)
    for day in ticks:
        handlers.apply_batch(uow, fx.incoming(cfg.registry, fx.tick(day)), cfg)
    return uow


def published(uow: FakeUnitOfWork, cfg: handlers.Config, kpi: str) -> dict[Any, Published]:
    values = views.kpi_values(uow, cfg.engine.dictionary, kpi)
    return {(v.cycle, v.breakdown): unsuppressed(v) for v in values}


def overview(uow: FakeUnitOfWork, cfg: handlers.Config, today: date) -> dict[str, Any]:
    d = cfg.engine.dictionary
    tiles = [
        dashboard.tile(kpi, k, published(uow, cfg, kpi), today)
        for kpi, k in d.kpis.items()
        if k.headline
    ]
    return {g.id: g for g in dashboard.headline_groups(d, tiles)}


def test_how_to_add_a_measure() -> None:
    kpis = raw("kpis.yaml")
    kpis["kpis"].update(yaml.safe_load(example("measure-kpi")))
    cfg = config(kpis, raw("clocks.yaml"), load_events())
    start = date(2026, 4, 1)
    later = start + timedelta(days=300)
    events = [
        fx.event("ehc.request.received", "case-00000001", start, **fx.case_data()),
        fx.event("ehc.request.received", "case-00000002", start, **fx.case_data(phase="secondary")),
        fx.event("ehc.request.received", "case-00000003", later, **fx.case_data()),
    ]
    today = start + timedelta(days=374)
    uow = run(cfg, events, [today])
    values = published(uow, cfg, "backlog_over_52wk")
    assert values[("current", "all")].value == 2.0  # two open past 364 days, one not
    assert values[("current", "phase=secondary")].value == 1.0
    groups = overview(uow, cfg, today)
    tile = next(t for t in groups["ehcp_timeliness"].leading if t.kpi == "backlog_over_52wk")
    assert (tile.value_text, tile.period, tile.rag) == ("2", "now", "amber")  # a cap of 0, margin 5
    k = cfg.engine.dictionary.kpis["backlog_over_52wk"]
    dims = cfg.engine.dictionary.breakdowns_of("backlog_over_52wk")
    tables = dashboard.breakdown_tables(k, values, "current", dims)
    assert [t.dimension for t in tables] == ["locality", "phase"]


def test_how_to_add_a_domain(tmp_path: Path) -> None:
    path = tmp_path / "shortbreak_events.py"
    path.write_text(example("domain-contract"))
    spec = importlib.util.spec_from_file_location("shortbreak_events_example", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        reg = EventRegistry()
        for s in [*load_events().specs.values(), *module.EVENTS]:
            reg.register(s)
        assert "shortbreak-events" in reg.topics
        clocks = raw("clocks.yaml")
        clocks["policies"].update(yaml.safe_load(example("domain-clock")))
        kpis = raw("kpis.yaml")
        added = yaml.safe_load(example("domain-kpis"))
        kpis["headlines"].update(added["headlines"])
        kpis["kpis"].update(added["kpis"])
        cfg = config(kpis, clocks, reg)
    finally:
        del sys.modules[spec.name]

    def ev(etype: str, n: int, day: date, **data: Any) -> dict[str, Any]:
        e = fx.event(etype, f"ref-{n:08d}", day, locality="ludlow", age_band="5-10", **data)
        return {**e, "source": "short-breaks"}

    may = date(2026, 5, 1)
    events = [
        ev("shortbreak.request.received", 1, may),
        ev("shortbreak.decision.made", 1, may + timedelta(days=20), outcome="offered"),
        ev("shortbreak.request.received", 2, may),
        ev("shortbreak.decision.made", 2, may + timedelta(days=35), outcome="declined"),
        ev("shortbreak.request.received", 3, may + timedelta(days=3)),
        ev("shortbreak.decision.made", 3, may + timedelta(days=13), outcome="offered"),
    ]
    today = date(2026, 6, 10)
    uow = run(cfg, events, [today])
    decided = published(uow, cfg, "short_break_28d")[("2026/27-Q1", "all")]
    assert (decided.numerator, decided.denominator, decided.value) == (2, 3, 66.7)
    assert decided.source.goal_basis == "to_be_established" and decided.rag == "none"
    offered = published(uow, cfg, "short_break_offered")[("2026/27-Q1", "all")]
    assert (offered.value, offered.rag) == (66.7, "red")  # against the 80% standard
    group = overview(uow, cfg, today)["short_breaks"]
    assert group.title == "Short breaks"
    (lagging,) = group.lagging
    (leading,) = group.leading
    assert (lagging.kpi, leading.kpi) == ("short_break_28d", "short_break_offered")
    assert lagging.value_text == "66.7%" and lagging.target_text == "To be established"
    assert lagging.rag_text == "No RAG: target to be established"
    assert lagging.baseline_text == "to be set in Q2"
    assert leading.rag_text == "Off target" and leading.detail.startswith("2 of 3")
