"""The repository on SQLite or PostgreSQL: bulk statements throughout (a batch is
thousands of events), rows mapped to the records of ``repository.py``."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, insert, or_, select, update
from sqlmodel import Session

from services.timeliness.adapters import repository as records
from services.timeliness.adapters.orm import (
    AuditRow,
    CellRow,
    CycleRow,
    SpanRow,
    SubjectRow,
    TimelinessInbox,
    TimelinessState,
)
from services.timeliness.domain import subjects as subj
from services.timeliness.domain.measures.base import Key, Span

_SUBJECTS = SubjectRow.__table__  # type: ignore[attr-defined]
_SPANS = SpanRow.__table__  # type: ignore[attr-defined]
_CELLS = CellRow.__table__  # type: ignore[attr-defined]
_CYCLES = CycleRow.__table__  # type: ignore[attr-defined]
_INBOX = TimelinessInbox.__table__  # type: ignore[attr-defined]
CHUNK = 900  # stays under SQLite's bound-parameter limit
# Statements of the batch path, built once (SQLAlchemy caches their compiled form).
_CELLS_IN = select(_CELLS.c.breakdown, _CELLS.c.counts, _CELLS.c.revision).where(
    (_CELLS.c.kpi == bindparam("kpi"))
    & (_CELLS.c.cycle == bindparam("cycle"))
    & _CELLS.c.breakdown.in_(bindparam("bds", expanding=True))
)
_DELETE_SPAN = delete(_SPANS).where(
    (_SPANS.c.key == bindparam("g_key"))
    & (_SPANS.c.subject == bindparam("g_subject"))
    & (_SPANS.c.seq == bindparam("g_seq"))
)
STATE_KEY = "caseload"


_NO_KPIS: frozenset[str] = frozenset()
_EXCLUDED: dict[str, frozenset[str]] = {}


def _span(row: Any) -> Span:
    """A stored span.  A census reads every open span of a clock on each batch, so the
    objects are kept small: attribute names and values shared (``sys.intern``; only the
    person id is the span's own), and the common empty pauses and exclusions not parsed."""
    pauses = row.pauses
    excluded = row.excluded
    kpis = _NO_KPIS if excluded == "[]" else _EXCLUDED.get(excluded)
    if kpis is None:
        kpis = frozenset(json.loads(excluded))
        if len(_EXCLUDED) < 1000:
            _EXCLUDED[excluded] = kpis
    return Span(
        row.key,
        row.subject,
        row.seq,
        row.start,
        row.close,
        row.nullified,
        ()
        if pauses == "[]"
        else tuple(
            (date.fromisoformat(a), date.fromisoformat(b) if b else None)
            for a, b in json.loads(pauses)
        ),
        row.value,
        kpis,
        {
            sys.intern(k): v if k == "person_id" or not isinstance(v, str) else sys.intern(v)
            for k, v in json.loads(row.attrs).items()
        },
    )


_ATTRS_JSON: dict[tuple[tuple[str, str], ...], str] = {}


def _attrs_json(attrs: Mapping[str, str]) -> str:
    key = tuple(sorted(attrs.items()))
    found = _ATTRS_JSON.get(key)
    if found is None:
        if len(_ATTRS_JSON) > 5_000:  # bounded: attrs hold the person id
            _ATTRS_JSON.clear()
        found = _ATTRS_JSON[key] = json.dumps(dict(key), sort_keys=True)
    return found


_SPAN_COLUMNS = ("key", "subject", "seq", "start", "close", "nullified", "value")


def _span_row(s: Span) -> dict[str, Any]:
    return {
        **{name: getattr(s, name) for name in _SPAN_COLUMNS},
        "pauses": (
            json.dumps([[a.isoformat(), b.isoformat() if b else None] for a, b in s.pauses])
            if s.pauses
            else "[]"
        ),
        "excluded": json.dumps(sorted(s.excluded)) if s.excluded else "[]",
        "attrs": _attrs_json(s.attrs),
    }


def _subject_row(s: records.StoredSubject) -> dict[str, Any]:
    return {
        "subject": s.state.subject,
        "kind": s.state.kind,
        "topic": s.topic,
        "partition": s.partition,
        "running": s.running,
        "state": subj.to_json(s.state),
        "raised": json.dumps(sorted(s.raised)),
        "next_due": s.next_due,
    }


def _stored(row: Any) -> records.StoredSubject:
    return records.StoredSubject(
        subj.from_json(row.subject, row.kind, row.state),
        row.topic,
        row.partition,
        frozenset(json.loads(row.raised)),
        row.running,
        row.next_due,
    )


def insert_rows(session: Session, table: Any, rows: list[dict[str, Any]]) -> None:
    """One INSERT ... executemany, when there is anything to insert."""
    if rows:
        session.execute(insert(table), rows)


class SqlRepository(records.Repository):
    def __init__(self, session: Session) -> None:
        self.session = session

    def _rows_in(self, table: Any, column: Any, values: Iterable[Any]) -> Iterator[Any]:
        """Rows whose ``column`` is one of ``values`` (in chunks the databases accept)."""
        wanted = sorted(set(values))
        for n in range(0, len(wanted), CHUNK):
            yield from self.session.execute(select(table).where(column.in_(wanted[n : n + CHUNK])))

    def applied(self, ids: Sequence[str]) -> set[str]:
        unique = list(dict.fromkeys(ids))
        seen: set[str] = set()
        for n in range(0, len(unique), CHUNK):
            chunk = unique[n : n + CHUNK]
            rows = self.session.execute(
                select(_INBOX.c.event_id).where(_INBOX.c.event_id.in_(chunk))
            )
            seen.update(rows.scalars())
        return seen

    def claim(self, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        unique = list(dict.fromkeys(keys))
        seen: set[tuple[str, str]] = set()
        legacy: set[str] = set()  # rows from before the source was kept: any source
        ids = list(dict.fromkeys(i for _, i in unique))
        for n in range(0, len(ids), CHUNK):
            rows = self.session.execute(
                select(_INBOX.c.source, _INBOX.c.event_id).where(
                    _INBOX.c.event_id.in_(ids[n : n + CHUNK])
                )
            )
            for source, event_id in rows:
                seen.add((source, event_id))
                if source == "":
                    legacy.add(event_id)
        fresh = [k for k in unique if k not in seen and k[1] not in legacy]
        if fresh:
            now = datetime.now(UTC)
            self.session.execute(
                insert(_INBOX),
                [{"source": s, "event_id": i, "processed_at": now} for s, i in fresh],
            )
        return set(fresh)

    def _state_row(self) -> TimelinessState:
        row = self.session.get(TimelinessState, STATE_KEY, with_for_update=True)
        if row is None:
            row = TimelinessState(key=STATE_KEY)
            self.session.add(row)
        return row

    def state(self) -> records.ServiceState:
        r = self._state_row()
        return records.ServiceState(
            r.sequence,
            r.events_applied,
            r.as_of,
            r.watermark,
            r.fingerprint,
            r.census_from,
            r.census_day,
            r.subjects,
            r.running,
        )

    def save_state(self, st: records.ServiceState) -> None:
        r = self._state_row()
        for name, value in st.__dict__.items():
            setattr(r, name, value)

    def audit(self, entry: records.Audit) -> None:
        self.session.add(
            AuditRow(
                at=entry.at,
                action=entry.action,
                reason=entry.reason,
                from_day=entry.from_day,
                fingerprint=entry.fingerprint,
                detail=json.dumps(entry.detail, default=str, sort_keys=True),
            )
        )

    def subjects(self, ids: Iterable[str]) -> dict[str, records.StoredSubject]:
        return {r.subject: _stored(r) for r in self._rows_in(_SUBJECTS, _SUBJECTS.c.subject, ids)}

    def running_in(
        self, lanes: Iterable[tuple[str, int]] | None
    ) -> dict[str, records.StoredSubject]:
        stmt = select(_SUBJECTS).where(_SUBJECTS.c.running.is_(True))
        if lanes is not None:
            wanted = sorted(set(lanes))
            if not wanted:
                return {}
            stmt = stmt.where(
                or_(*(and_(_SUBJECTS.c.topic == t, _SUBJECTS.c.partition == p) for t, p in wanted))
            )
        return {r.subject: _stored(r) for r in self.session.execute(stmt)}

    def due_in(
        self, lanes: Iterable[tuple[str, int]], day: date
    ) -> dict[str, records.StoredSubject]:
        wanted = sorted(set(lanes))
        if not wanted:
            return {}
        stmt = select(_SUBJECTS).where(
            _SUBJECTS.c.running.is_(True),
            or_(_SUBJECTS.c.next_due.is_(None), _SUBJECTS.c.next_due <= day),
            or_(*(and_(_SUBJECTS.c.topic == t, _SUBJECTS.c.partition == p) for t, p in wanted)),
        )
        return {r.subject: _stored(r) for r in self.session.execute(stmt)}

    def clear_due(self) -> None:
        self.session.execute(update(_SUBJECTS).values(next_due=None))

    def save_subjects(
        self, new: list[records.StoredSubject], changed: list[records.StoredSubject]
    ) -> None:
        insert_rows(self.session, _SUBJECTS, [_subject_row(s) for s in new])
        if changed:
            rows = [_subject_row(s) for s in changed]
            cols = [c for c in rows[0] if c != "subject"]
            self.session.execute(
                update(_SUBJECTS)
                .where(_SUBJECTS.c.subject == bindparam("b_subject"))
                .values({c: bindparam(c) for c in cols}),
                [{**r, "b_subject": r["subject"]} for r in rows],
            )

    def all_subjects(self, kind: str | None = None) -> Iterator[records.StoredSubject]:
        stmt = select(_SUBJECTS).order_by(_SUBJECTS.c.subject)
        if kind is not None:
            stmt = stmt.where(_SUBJECTS.c.kind == kind)
        for r in self.session.execute(stmt.execution_options(yield_per=2000)):
            yield _stored(r)

    def replace_spans(self, gone: list[tuple[str, str, int]], spans: list[Span]) -> None:
        # One key lookup per row (executemany): a row-value IN is a scan of the whole
        # span table on SQLite, once per chunk.
        if gone:
            self.session.execute(
                _DELETE_SPAN, [{"g_key": k, "g_subject": s, "g_seq": q} for k, s, q in gone]
            )
        insert_rows(self.session, _SPANS, [_span_row(s) for s in spans])

    def spans(self, keys: Iterable[str], day: date | None) -> dict[str, list[Span]]:
        keys = sorted(set(keys))
        out: dict[str, list[Span]] = {k: [] for k in keys}
        if not keys:
            return out
        if day is None:
            where = _SPANS.c.close.is_(None)
        else:
            where = (_SPANS.c.start <= day) & (_SPANS.c.close.is_(None) | (_SPANS.c.close > day))
        rows = self.session.execute(select(_SPANS).where(_SPANS.c.key.in_(keys) & where))
        for r in rows:
            out[r.key].append(_span(r))
        return out

    def min_span_start(self) -> date | None:
        value = self.session.execute(select(func.min(_SPANS.c.start))).scalar_one_or_none()
        return value if isinstance(value, date) else None

    def clear_spans(self) -> None:
        self.session.execute(delete(_SPANS))

    def cells(self, keys: Iterable[Key]) -> dict[Key, records.Cell]:
        # By KPI and cycle, then breakdowns IN (...): the key's index all the way (a
        # row-value IN of the three is a scan of every cell on SQLite, once per chunk).
        groups: dict[tuple[str, str], list[str]] = {}
        for kpi, cycle, breakdown in dict.fromkeys(keys):
            groups.setdefault((kpi, cycle), []).append(breakdown)
        out: dict[Key, records.Cell] = {}
        for (kpi, cycle), breakdowns in groups.items():
            for n in range(0, len(breakdowns), CHUNK):
                rows = self.session.execute(
                    _CELLS_IN, {"kpi": kpi, "cycle": cycle, "bds": breakdowns[n : n + CHUNK]}
                )
                out.update(
                    ((kpi, cycle, b), records.Cell(json.loads(counts), revision))
                    for b, counts, revision in rows
                )
        return out

    def cells_where(
        self, kpi: str | None = None, cycle: str | None = None, breakdown: str | None = None
    ) -> dict[Key, records.Cell]:
        stmt = select(_CELLS)
        for col, value in (
            (_CELLS.c.kpi, kpi),
            (_CELLS.c.cycle, cycle),
            (_CELLS.c.breakdown, breakdown),
        ):
            if value is not None:
                stmt = stmt.where(col == value)
        return {
            (r.kpi, r.cycle, r.breakdown): records.Cell(json.loads(r.counts), r.revision)
            for r in self.session.execute(stmt)
        }

    def put_cells(self, cells: dict[Key, records.Cell], new: set[Key]) -> None:
        inserts = [
            {
                "kpi": k[0],
                "cycle": k[1],
                "breakdown": k[2],
                "counts": json.dumps(c.counts),
                "revision": c.revision,
            }
            for k, c in cells.items()
            if k in new
        ]
        updates = [
            {
                "b_kpi": k[0],
                "b_cycle": k[1],
                "b_breakdown": k[2],
                "counts": json.dumps(c.counts),
                "revision": c.revision,
            }
            for k, c in cells.items()
            if k not in new
        ]
        insert_rows(self.session, _CELLS, inserts)
        if updates:
            self.session.execute(
                update(_CELLS)
                .where(
                    (_CELLS.c.kpi == bindparam("b_kpi"))
                    & (_CELLS.c.cycle == bindparam("b_cycle"))
                    & (_CELLS.c.breakdown == bindparam("b_breakdown"))
                )
                .values(counts=bindparam("counts"), revision=bindparam("revision")),
                updates,
            )

    def cycles(self, labels: Iterable[str]) -> dict[str, records.Cycle]:
        rows = self._rows_in(_CYCLES, _CYCLES.c.cycle, labels)
        return {r.cycle: records.Cycle(r.cycle, r.kind, r.closes_on, r.closed) for r in rows}

    def add_cycles(self, cycles: list[records.Cycle]) -> None:
        rows = [
            {"cycle": c.label, "kind": c.kind, "closes_on": c.closes_on, "closed": c.closed}
            for c in cycles
        ]
        insert_rows(self.session, _CYCLES, rows)

    def due_cycles(self, today: date) -> list[str]:
        rows = self.session.execute(
            select(_CYCLES.c.cycle).where(
                _CYCLES.c.closed.is_(False) & (_CYCLES.c.closes_on < today)
            )
        )
        return sorted(rows.scalars())

    def close_cycles(self, labels: list[str]) -> None:
        for n in range(0, len(labels), CHUNK):
            chunk = labels[n : n + CHUNK]
            self.session.execute(
                update(_CYCLES).where(_CYCLES.c.cycle.in_(chunk)).values(closed=True)
            )
            self.session.execute(
                update(_CELLS)
                .where(_CELLS.c.cycle.in_(chunk) & (_CELLS.c.revision == 0))
                .values(revision=1)
            )

    def closed_cycles(self, kinds: Iterable[str]) -> list[str]:
        kinds = sorted(set(kinds))
        if not kinds:
            return []
        rows = self.session.execute(
            select(_CYCLES.c.cycle).where(_CYCLES.c.closed.is_(True) & _CYCLES.c.kind.in_(kinds))
        )
        return sorted(rows.scalars())
