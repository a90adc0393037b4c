"""Units of work: one transaction holding the inbox, the state and the outbox.

``with uow:`` opens it; ``uow.commit()`` makes everything inside durable at once;
leaving the block without a commit rolls back.  ``SqlUnitOfWork`` runs on SQLite or
PostgreSQL (the service-state row is locked ``FOR UPDATE``, which serialises batches);
``FakeUnitOfWork`` keeps everything in memory, for unit tests of the handlers.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from types import TracebackType
from typing import Self

from sqlalchemy.engine import Engine
from sqlmodel import Session

from services.timeliness.adapters.outbox import Message, Outbox, SqlOutbox
from services.timeliness.adapters.repository import (
    Audit,
    Cell,
    Cycle,
    Repository,
    ServiceState,
    StoredSubject,
)
from services.timeliness.adapters.sql import SqlRepository
from services.timeliness.domain.measures.base import Key, Span


class AbstractUnitOfWork(ABC):
    repo: Repository
    outbox: Outbox

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.rollback()
        self.close()

    @abstractmethod
    def close(self) -> None:
        """Release what the unit of work holds (a database session)."""

    @abstractmethod
    def commit(self) -> None: ...

    @abstractmethod
    def rollback(self) -> None: ...


class SqlUnitOfWork(AbstractUnitOfWork):
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.session: Session | None = None

    def __enter__(self) -> Self:
        self.session = Session(self.engine)
        self.repo = SqlRepository(self.session)
        self.outbox = SqlOutbox(self.session)
        return self

    def close(self) -> None:
        assert self.session is not None
        self.session.close()
        self.session = None

    def commit(self) -> None:
        assert self.session is not None
        self.session.commit()

    def rollback(self) -> None:
        if self.session is not None:
            self.session.rollback()


# --- in memory ------------------------------------------------------------------------


@dataclass
class _Data:
    inbox: set[tuple[str, str]] = field(default_factory=set)
    state: ServiceState = field(default_factory=ServiceState)
    audits: list[Audit] = field(default_factory=list)
    subjects: dict[str, StoredSubject] = field(default_factory=dict)
    spans: dict[tuple[str, str, int], Span] = field(default_factory=dict)
    cells: dict[Key, Cell] = field(default_factory=dict)
    cycles: dict[str, Cycle] = field(default_factory=dict)
    outbox: list[Message] = field(default_factory=list)


class FakeRepository(Repository):
    def __init__(self, data: _Data) -> None:
        self.d = data

    def applied(self, ids: Sequence[str]) -> set[str]:
        known = {i for _, i in self.d.inbox}
        return {i for i in ids if i in known}

    def claim(self, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        fresh = {k for k in keys if k not in self.d.inbox}
        self.d.inbox |= fresh
        return fresh

    def state(self) -> ServiceState:
        return copy.copy(self.d.state)

    def save_state(self, st: ServiceState) -> None:
        self.d.state = copy.copy(st)

    def audit(self, entry: Audit) -> None:
        self.d.audits.append(entry)

    def subjects(self, ids: Iterable[str]) -> dict[str, StoredSubject]:
        return {i: copy.copy(self.d.subjects[i]) for i in set(ids) if i in self.d.subjects}

    def running_in(self, lanes: Iterable[tuple[str, int]] | None) -> dict[str, StoredSubject]:
        wanted = None if lanes is None else set(lanes)
        return {
            i: copy.copy(s)
            for i, s in self.d.subjects.items()
            if s.running and (wanted is None or (s.topic, s.partition) in wanted)
        }

    def due_in(self, lanes: Iterable[tuple[str, int]], day: date) -> dict[str, StoredSubject]:
        wanted = set(lanes)
        return {
            i: copy.copy(s)
            for i, s in self.d.subjects.items()
            if s.running
            and (s.topic, s.partition) in wanted
            and (s.next_due is None or s.next_due <= day)
        }

    def clear_due(self) -> None:
        for s in self.d.subjects.values():
            s.next_due = None

    def save_subjects(self, new: list[StoredSubject], changed: list[StoredSubject]) -> None:
        for s in new:
            assert s.state.subject not in self.d.subjects, s.state.subject
            self.d.subjects[s.state.subject] = copy.copy(s)
        for s in changed:
            assert s.state.subject in self.d.subjects, s.state.subject
            self.d.subjects[s.state.subject] = copy.copy(s)

    def all_subjects(self, kind: str | None = None) -> Iterator[StoredSubject]:
        for _, s in sorted(self.d.subjects.items()):
            if kind is None or s.state.kind == kind:
                yield copy.copy(s)

    def replace_spans(self, gone: list[tuple[str, str, int]], spans: list[Span]) -> None:
        for key in gone:
            self.d.spans.pop(key, None)
        for s in spans:
            self.d.spans[(s.key, s.subject, s.seq)] = s

    def spans(self, keys: Iterable[str], day: date | None) -> dict[str, list[Span]]:
        out: dict[str, list[Span]] = {k: [] for k in keys}
        for (key, _, _), s in sorted(self.d.spans.items()):
            if key in out and (s.close is None if day is None else s.member(day, False)):
                out[key].append(s)
        return out

    def min_span_start(self) -> date | None:
        return min((s.start for s in self.d.spans.values()), default=None)

    def clear_spans(self) -> None:
        self.d.spans.clear()

    def cells(self, keys: Iterable[Key]) -> dict[Key, Cell]:
        return {k: copy.deepcopy(self.d.cells[k]) for k in keys if k in self.d.cells}

    def cells_where(
        self, kpi: str | None = None, cycle: str | None = None, breakdown: str | None = None
    ) -> dict[Key, Cell]:
        return {
            k: copy.deepcopy(c)
            for k, c in self.d.cells.items()
            if (kpi is None or k[0] == kpi)
            and (cycle is None or k[1] == cycle)
            and (breakdown is None or k[2] == breakdown)
        }

    def put_cells(self, cells: dict[Key, Cell], new: set[Key]) -> None:
        for k, c in cells.items():
            assert (k in self.d.cells) == (k not in new), k
            self.d.cells[k] = copy.deepcopy(c)

    def cycles(self, labels: Iterable[str]) -> dict[str, Cycle]:
        return {c: copy.copy(self.d.cycles[c]) for c in set(labels) if c in self.d.cycles}

    def add_cycles(self, cycles: list[Cycle]) -> None:
        for c in cycles:
            assert c.label not in self.d.cycles
            self.d.cycles[c.label] = copy.copy(c)

    def due_cycles(self, today: date) -> list[str]:
        return sorted(
            c.label for c in self.d.cycles.values() if not c.closed and c.closes_on < today
        )

    def close_cycles(self, labels: list[str]) -> None:
        for label in labels:
            self.d.cycles[label].closed = True
        wanted = set(labels)
        for k, c in self.d.cells.items():
            if k[1] in wanted and c.revision == 0:
                c.revision = 1

    def closed_cycles(self, kinds: Iterable[str]) -> list[str]:
        wanted = set(kinds)
        return sorted(c.label for c in self.d.cycles.values() if c.closed and c.kind in wanted)


class FakeOutbox(Outbox):
    def __init__(self, data: _Data) -> None:
        self.d = data

    def add(self, messages: list[Message]) -> None:
        self.d.outbox.extend(messages)


class FakeUnitOfWork(AbstractUnitOfWork):
    """Everything in memory; ``committed`` is what a commit made durable."""

    def __init__(self) -> None:
        self.committed = _Data()
        self.commits = 0

    def __enter__(self) -> Self:
        self._working = copy.deepcopy(self.committed)
        self.repo = FakeRepository(self._working)
        self.outbox = FakeOutbox(self._working)
        return self

    def commit(self) -> None:
        self.committed = copy.deepcopy(self._working)
        self.commits += 1

    def rollback(self) -> None:
        self._working = copy.deepcopy(self.committed)
        self.repo = FakeRepository(self._working)
        self.outbox = FakeOutbox(self._working)

    def close(self) -> None:
        return None  # nothing held: the working copy is replaced on the next entry

    def take_outbox(self) -> list[Message]:
        """What the relay would publish (and then delete)."""
        out, self.committed.outbox = self.committed.outbox, []
        return out
