"""Tables owned by the timeliness service (prefix ``timeliness_``)."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Field, SQLModel


class SubjectRow(SQLModel, table=True):
    """A subject state (case, referral, person ...) and the alerts it has raised."""

    __tablename__ = "timeliness_subject"

    subject: str = Field(primary_key=True, max_length=80)
    kind: str = Field(max_length=32)
    topic: str = Field(max_length=64)  # topic alias its events travel on
    partition: int
    running: bool = False  # a clock can still raise milestone alerts
    state: str  # SubjectState as JSON
    raised: str = "[]"  # milestone alerts already raised, as a JSON list
    # The first day a tick must evaluate it (None: the next tick); ticks read this index.
    next_due: date | None = Field(default=None, index=True)


class SpanRow(SQLModel, table=True):
    """A subject's time in a state, for census measures (see domain/measures/base.py)."""

    __tablename__ = "timeliness_span"

    key: str = Field(primary_key=True, max_length=96)
    subject: str = Field(primary_key=True, max_length=80)
    seq: int = Field(primary_key=True)
    start: date
    close: date | None = None
    nullified: bool = False
    value: int | None = None
    pauses: str = "[]"
    excluded: str = "[]"
    attrs: str = "{}"


class CellRow(SQLModel, table=True):
    """A KPI cell: (kpi, cycle, breakdown) and its vector of counts."""

    __tablename__ = "timeliness_cell"

    kpi: str = Field(primary_key=True, max_length=64)
    cycle: str = Field(primary_key=True, max_length=32)
    breakdown: str = Field(primary_key=True, max_length=96)
    counts: str  # JSON list of integers, laid out by the KPI's kind
    revision: int = 0


class CycleRow(SQLModel, table=True):
    __tablename__ = "timeliness_cycle"

    cycle: str = Field(primary_key=True, max_length=32)
    kind: str = Field(max_length=16)
    closes_on: date
    closed: bool = False


class OutboxRow(SQLModel, table=True):
    __tablename__ = "timeliness_outbox"

    id: int | None = Field(default=None, primary_key=True)
    topic: str = Field(max_length=80)
    key: str | None = Field(default=None, max_length=128)
    partition: int | None = None
    payload: str


class AuditRow(SQLModel, table=True):
    """Replays and configuration changes: what was recomputed, why, and what changed."""

    __tablename__ = "timeliness_audit"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime
    action: str = Field(max_length=32)
    reason: str
    from_day: date | None = None
    fingerprint: str = Field(max_length=64)
    detail: str = "{}"


class TimelinessInbox(SQLModel, table=True):
    """Keyed on (event id, source), in that order (migration t0006): it is looked up by
    event id; on SQLite one B-tree (no rowid), so each event costs one insert."""

    __tablename__ = "timeliness_inbox"
    __table_args__ = {"sqlite_with_rowid": False}

    event_id: str = Field(primary_key=True, max_length=128)
    source: str = Field(primary_key=True, default="", max_length=64)  # "" before t0005
    processed_at: datetime


class TimelinessState(SQLModel, table=True):
    __tablename__ = "timeliness_state"

    key: str = Field(primary_key=True, max_length=32)
    sequence: int = 0
    events_applied: int = 0
    as_of: datetime | None = None
    watermark: datetime | None = None
    fingerprint: str | None = Field(default=None, max_length=64)  # of the measure definitions
    census_from: date | None = None  # the earliest span start seen (census cycles from here)
    census_day: date | None = None  # the day the current census was last computed for
    subjects: int = 0
    running: int = 0
