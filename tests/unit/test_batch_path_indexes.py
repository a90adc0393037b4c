"""Timeliness's batch path reads and deletes its rows through their indexes, never by
scanning a table that grows with the history.

- The inbox is read by event id (which events of a batch are new, and the applied API).
  Its primary key leads with the source, so before migration t0006 every batch read
  every row the inbox had ever taken (half a million events: about 0.1 s per 900 ids on
  SQLite).
- KPI cells were read, and spans deleted, with a row-value ``IN`` of their keys, which
  SQLite answers by scanning the whole table once per chunk of 300 keys.

Every statement the batches issue on those tables is explained (SQLite's ``EXPLAIN
QUERY PLAN``): none may scan them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import event

from cli.bench import bench_events
from sendwatch.db import make_engine, migrate
from services.timeliness.service_layer import handlers
from services.timeliness.service_layer.unit_of_work import SqlUnitOfWork
from tests.unit.test_timeliness_property import CFG, REGISTRY

TABLES = ("timeliness_inbox", "timeliness_cell", "timeliness_span")


def _statements(engine: Any, work: Any) -> list[tuple[str, Any]]:
    seen: list[tuple[str, Any]] = []

    def record(_c: Any, _cur: Any, statement: str, params: Any, _ctx: Any, many: bool) -> None:
        verb = statement.lstrip().split(None, 1)[0].upper()
        if verb in ("SELECT", "DELETE", "UPDATE") and any(t in statement for t in TABLES):
            seen.append((statement, params[0] if many else params))

    event.listen(engine, "before_cursor_execute", record)
    try:
        work()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return seen


def _scans(engine: Any, statements: list[tuple[str, Any]]) -> list[tuple[str, str]]:
    raw = engine.raw_connection()
    try:
        out = []
        for statement, params in statements:
            plan = raw.cursor().execute(f"EXPLAIN QUERY PLAN {statement}", params).fetchall()
            details = " | ".join(str(row[-1]) for row in plan)
            if any(f"SCAN {t}" in details for t in TABLES):
                out.append((statement, details))
        return out
    finally:
        raw.close()


def test_batches_search_the_inbox_cells_and_spans_by_index(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'timeliness.db'}")
    migrate("timeliness", engine)
    # requests, then (in the next batch) their final plans: spans are replaced
    events = bench_events(400)
    first = [e for e in events if e["type"] == "ehc.request.received"]
    second = [e for e in events if e["type"] != "ehc.request.received"]

    def incoming(raw: list[dict[str, Any]]) -> list[handlers.Incoming]:
        return [handlers.Incoming(REGISTRY.parse(json.dumps(e)), "case-events", 0) for e in raw]

    def work() -> None:
        for batch in (first, second, second):  # the last one is all redelivered
            handlers.apply_batch(SqlUnitOfWork(engine), incoming(batch), CFG)
        with SqlUnitOfWork(engine) as uow:
            assert uow.repo.applied([first[0]["id"], "no-such-event"]) == {first[0]["id"]}

    statements = _statements(engine, work)
    verbs = {s.lstrip().split(None, 1)[0].upper() for s, _ in statements}
    touched = {t for s, _ in statements for t in TABLES if t in s}
    # not vacuous: every table was read, and spans were deleted
    assert touched == set(TABLES) and {"SELECT", "DELETE"} <= verbs
    assert _scans(engine, statements) == []
    with SqlUnitOfWork(engine) as uow:
        assert uow.repo.state().events_applied == len(first) + len(second)
