"""The repository: what the timeliness service loads and saves, nothing else.

The records and the abstract :class:`Repository` are what the handlers use; ``sql.py``
implements it inside the unit of work's session (``service_layer/unit_of_work.py``),
``FakeUnitOfWork`` in memory for unit tests.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from services.timeliness.domain.measures.base import Key, Span, Vector
from services.timeliness.domain.subjects import SubjectState


@dataclass
class StoredSubject:
    state: SubjectState
    topic: str
    partition: int
    raised: frozenset[str]
    running: bool
    next_due: date | None = None  # None: evaluate at the next tick


@dataclass
class Cell:
    counts: Vector
    revision: int


@dataclass
class Cycle:
    label: str
    kind: str
    closes_on: date  # last day before it counts as closed (end + grace)
    closed: bool


@dataclass
class ServiceState:
    sequence: int = 0
    events_applied: int = 0
    as_of: datetime | None = None
    watermark: datetime | None = None
    fingerprint: str | None = None
    census_from: date | None = None
    census_day: date | None = None
    subjects: int = 0
    running: int = 0


@dataclass(frozen=True)
class Audit:
    at: datetime
    action: str
    reason: str
    from_day: date | None
    fingerprint: str
    detail: dict[str, Any]


class Repository(ABC):
    """Everything the handlers load and save."""

    # inbox and the service state
    @abstractmethod
    def claim(self, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        """Record these (source, event id) keys as applied; return those not seen
        before.  Two sources may use the same id for different events."""

    @abstractmethod
    def applied(self, ids: Sequence[str]) -> set[str]:
        """Which of these event ids were applied (reads only)."""

    @abstractmethod
    def state(self) -> ServiceState: ...

    @abstractmethod
    def save_state(self, st: ServiceState) -> None: ...

    @abstractmethod
    def audit(self, entry: Audit) -> None: ...

    # subjects
    @abstractmethod
    def subjects(self, ids: Iterable[str]) -> dict[str, StoredSubject]: ...

    @abstractmethod
    def running_in(self, lanes: Iterable[tuple[str, int]] | None) -> dict[str, StoredSubject]:
        """Subjects with a running clock in these lanes (None: in every lane)."""

    @abstractmethod
    def due_in(self, lanes: Iterable[tuple[str, int]], day: date) -> dict[str, StoredSubject]:
        """Running subjects in these lanes whose next alert day is ``day`` or earlier (or
        unknown): all a tick on ``day`` needs to evaluate (indexed by that day)."""

    @abstractmethod
    def clear_due(self) -> None:
        """Forget every subject's next alert day (after a replay: evaluate all again)."""

    @abstractmethod
    def save_subjects(self, new: list[StoredSubject], changed: list[StoredSubject]) -> None: ...

    @abstractmethod
    def all_subjects(self, kind: str | None = None) -> Iterator[StoredSubject]: ...

    # spans
    @abstractmethod
    def replace_spans(self, gone: list[tuple[str, str, int]], spans: list[Span]) -> None:
        """Delete the spans ``gone`` (key, subject, seq), then add ``spans``."""

    @abstractmethod
    def spans(self, keys: Iterable[str], day: date | None) -> dict[str, list[Span]]:
        """Spans of these keys in force at the end of ``day``; ``day`` None: open ones."""

    @abstractmethod
    def min_span_start(self) -> date | None: ...

    @abstractmethod
    def clear_spans(self) -> None: ...

    # cells and cycles
    @abstractmethod
    def cells(self, keys: Iterable[Key]) -> dict[Key, Cell]: ...

    @abstractmethod
    def cells_where(
        self, kpi: str | None = None, cycle: str | None = None, breakdown: str | None = None
    ) -> dict[Key, Cell]: ...

    @abstractmethod
    def put_cells(self, cells: dict[Key, Cell], new: set[Key]) -> None: ...

    @abstractmethod
    def cycles(self, labels: Iterable[str]) -> dict[str, Cycle]: ...

    @abstractmethod
    def add_cycles(self, cycles: list[Cycle]) -> None: ...

    @abstractmethod
    def due_cycles(self, today: date) -> list[str]:
        """Open cycles whose end + grace is before ``today``."""

    @abstractmethod
    def close_cycles(self, labels: list[str]) -> None:
        """Mark closed; their cells at revision 0 become revision 1."""

    @abstractmethod
    def closed_cycles(self, kinds: Iterable[str]) -> list[str]: ...
