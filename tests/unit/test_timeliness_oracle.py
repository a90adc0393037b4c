"""The EHCNA KPIs, re-expressed as clock policies and measure kinds, give exactly the
values of the computation they replace (``tests/oracle_v1.py``, the code of the release
before), on generated case histories: every cell's value, numerator, denominator and
extras, the targets, the current caseload, backlog and outlook, and the case states the
DfE exports read.  A database of that release upgrades to the same values."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from hypothesis import HealthCheck, given, settings
from sqlalchemy import text

from contracts.case_events import parse_case_event
from contracts.cycles import local_date
from contracts.snapshots import KpiValue
from sendwatch.db import SERVICES_DIR, make_engine
from services.timeliness import views
from services.timeliness.domain import fold as batch
from services.timeliness.domain import subjects
from services.timeliness.domain.case import CaseState, from_subject
from services.timeliness.domain.values import kpi_value
from services.timeliness.service_layer import handlers
from services.timeliness.service_layer.unit_of_work import FakeUnitOfWork, SqlUnitOfWork
from tests import oracle_v1 as oracle
from tests.engine_fixture import tick
from tests.unit.test_timeliness_property import CFG, histories

V1 = oracle.load_v1()
ENGINE = CFG.engine
NEW_BREAKDOWNS = ("phase=",)  # breakdowns the re-expressed KPIs add (ehcp_20wk by phase)


def old_and_new(raws: list[dict[str, Any]]) -> tuple[dict[str, CaseState], dict[str, Any]]:
    old: dict[str, CaseState] = {}
    new: dict[str, subjects.SubjectState] = {}
    for raw in raws:
        event = parse_case_event(raw)
        old[event.subject] = oracle.apply(old.get(event.subject), event)
        new[event.subject] = subjects.fold(new.get(event.subject), CFG.registry.observe(event))
    return old, new


def compare_cells(old_states: Iterable[CaseState], new_states: Iterable[Any]) -> None:
    old = oracle.recompute(old_states, V1)
    new = batch.recompute(ENGINE, new_states)
    # KPIs the first release did not have (other domains' measures over case events)
    # are not compared
    extra_keys = {k for k in new if k not in old and k[0] in V1.kpis}
    assert all(any(b in k[2] for b in NEW_BREAKDOWNS) for k in extra_keys), extra_keys
    for key, agg in old.items():
        k1 = V1.kpis[key[0]]
        v = kpi_value(ENGINE.dictionary, key, new[key], closed=False, revision=0)
        assert (v.value, v.numerator, v.denominator) == (agg.percent, agg.num, agg.den), key
        assert v.extra == oracle.extra(k1, agg), key
        assert v.target == oracle.target_for(k1, key[1]), key
        if v.goal_basis in ("trajectory", "standard"):
            old_goal = v.target if v.target is not None else k1.standard
            assert v.goal == old_goal, key


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(raws=histories())
def test_the_engine_gives_the_old_values_on_generated_histories(raws: list[dict[str, Any]]) -> None:
    old, new = old_and_new(raws)
    # the case states the DfE exports read: derived from the subject states, unchanged
    assert {c: from_subject(s) for c, s in new.items()} == old
    compare_cells(old.values(), new.values())


def current_values(uow: FakeUnitOfWork) -> dict[tuple[str, str], KpiValue]:
    return {
        (v.kpi, v.breakdown): v for v in views.kpi_values(uow, ENGINE.dictionary, cycle="current")
    }


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(raws=histories())
def test_the_current_caseload_backlog_and_outlook_are_the_old_ones(
    raws: list[dict[str, Any]],
) -> None:
    latest = max(datetime.fromisoformat(r["time"]) for r in raws)
    today = local_date(latest)
    uow = FakeUnitOfWork()
    messages = [*raws, tick(today)]
    items = [
        handlers.Incoming(CFG.registry.parse(json.dumps(m)), "case-events", 0) for m in messages
    ]
    handlers.apply_batch(uow, items, CFG)
    old_states, _ = old_and_new(raws)
    expected = oracle.point_in_time(
        V1, old_states.values(), today, oracle.recompute(old_states.values(), V1)
    )
    got = current_values(uow)
    for (kpi, breakdown), (value, num, den, extra) in expected.items():
        v = got[(kpi, breakdown)]
        assert (v.value, v.numerator, v.denominator) == (value, num, den), (kpi, breakdown)
        assert {k: x for k, x in v.extra.items() if k != "summary"} == extra
    gone = {k for k, v in got.items() if k not in expected}
    assert all(got[k].numerator == 0 for k in gone)  # localities no longer open: zero


# --- upgrading a database of the release before -----------------------------------------


def _alembic(url: str) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(SERVICES_DIR / "timeliness" / "migrations"))
    cfg.attributes["version_table"] = "alembic_version_timeliness"
    return cfg


def _upgrade(engine: Any, to: str) -> None:
    cfg = _alembic("")
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, to)


def test_a_database_of_the_release_before_upgrades_to_the_same_values() -> None:
    from hypothesis import find

    raws = find(histories(), lambda r: len({e["subject"] for e in r}) >= 6)
    old, _ = old_and_new(raws)
    aggs = oracle.recompute(old.values(), V1)
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 't.db'}")
        _upgrade(engine, "t0003")
        first = sorted(old)[0]
        with engine.begin() as conn:
            for cid, c in old.items():
                conn.execute(
                    text(
                        "INSERT INTO timeliness_case (case_id, partition, received, final_issued,"
                        " closed_on, historical, state, raised, locality, has_exception) VALUES"
                        " (:id, 0, :r, :f, :c, :h, :s, :raised, :l, :e)"
                    ),
                    {
                        "id": cid,
                        "r": c.received,
                        "f": c.final_issued,
                        "c": c.closed_on,
                        "h": c.historical,
                        "s": c.model_dump_json(),
                        "l": c.locality,
                        "e": c.has_exception,
                        "raised": '["final_plan:slipped"]' if cid == first else "[]",
                    },
                )
            for (kpi, cycle, b), agg in aggs.items():
                conn.execute(
                    text(
                        "INSERT INTO timeliness_kpi_agg VALUES (:k, :c, :b, :n, :d, :days, :o, 3)"
                    ),
                    {
                        "k": kpi,
                        "c": cycle,
                        "b": b,
                        "n": agg.num,
                        "d": agg.den,
                        "days": agg.days,
                        "o": agg.over_year,
                    },
                )
            conn.execute(
                text(
                    "INSERT INTO timeliness_state (key, sequence, events_applied) VALUES "
                    "('caseload', 7, 0)"
                )
            )
        _upgrade(engine, "head")
        assert handlers.reconcile(SqlUnitOfWork(engine), CFG) == "rebuilt"
        states = {c.case_id: c for c in views.case_states(SqlUnitOfWork(engine))}
        assert states.keys() == old.keys()
        for cid, c in old.items():
            assert states[cid].model_dump(exclude={"attrs_time", "attr_times"}) == c.model_dump(
                exclude={"attrs_time", "attr_times"}
            )
        values = {
            (v.kpi, v.cycle, v.breakdown): v
            for v in views.kpi_values(SqlUnitOfWork(engine), ENGINE.dictionary)
            if v.cycle != "current"
        }
        for key, agg in aggs.items():
            v = values[key]
            assert (v.numerator, v.denominator, v.value) == (agg.num, agg.den, agg.percent)
            assert v.revision == 3  # carried over: nothing was restated
        with SqlUnitOfWork(engine) as uow:  # alerts already raised stay raised
            assert uow.repo.subjects([first])[first].raised == {"final_plan:slipped"}
        view = views.caseload(SqlUnitOfWork(engine))
        assert view.cases == len(old)
        assert view.open_caseload == sum(1 for c in old.values() if c.is_open)
        assert view.fingerprint == ENGINE.fingerprint
        engine.dispose()
