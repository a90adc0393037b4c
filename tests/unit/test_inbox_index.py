"""Timeliness's inbox is read by event id (which events of a batch are new, and the
applied API) with an index, not a scan: its primary key leads with the source, so before
migration t0006 every batch read every row the inbox had ever taken, a cost that grew
with the history (half a million events: about 0.1 s per 900 ids on SQLite)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event

from sendwatch.db import make_engine, migrate
from services.timeliness.service_layer.unit_of_work import SqlUnitOfWork


def _inbox_selects(engine: Any, work: Any) -> list[tuple[str, Any]]:
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "timeliness_inbox" in statement:
            seen.append((statement, params))

    event.listen(engine, "before_cursor_execute", record)
    try:
        work()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return seen


def test_the_inbox_is_searched_by_an_index_not_scanned(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'timeliness.db'}")
    migrate("timeliness", engine)
    keys = [("sen2", f"ev-{i:05d}") for i in range(50)] + [("placements", "ev-00001")]

    def work() -> None:
        with SqlUnitOfWork(engine) as uow:
            assert uow.repo.claim(keys) == set(keys)
            assert uow.repo.claim(keys) == set()  # the second time nothing is new
            assert uow.repo.applied(["ev-00003", "ev-99999"]) == {"ev-00003"}
            uow.commit()

    selects = _inbox_selects(engine, work)
    assert len(selects) >= 3  # both claims and the applied read were looked at
    raw = engine.raw_connection()
    try:
        for statement, params in selects:
            plan = raw.cursor().execute(f"EXPLAIN QUERY PLAN {statement}", params).fetchall()
            details = " | ".join(str(row[-1]) for row in plan)
            assert "SCAN timeliness_inbox" not in details, (statement, details)
            assert "timeliness_inbox USING" in details, (statement, details)
    finally:
        raw.close()
