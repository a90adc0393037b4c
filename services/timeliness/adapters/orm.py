"""Tables owned by the timeliness service (prefix ``timeliness_``)."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Field, SQLModel


class CaseRow(SQLModel, table=True):
    __tablename__ = "timeliness_case"

    case_id: str = Field(primary_key=True, max_length=80)
    partition: int
    received: date | None = None
    final_issued: date | None = None
    closed_on: date | None = None
    historical: bool = False
    locality: str | None = Field(default=None, max_length=41)
    has_exception: bool = False
    state: str  # CaseState as JSON
    raised: str = "[]"  # milestone alerts already raised, as a JSON list


class KpiAgg(SQLModel, table=True):
    __tablename__ = "timeliness_kpi_agg"

    kpi: str = Field(primary_key=True, max_length=64)
    cycle: str = Field(primary_key=True, max_length=32)
    breakdown: str = Field(primary_key=True, max_length=80)
    num: int = 0
    den: int = 0
    days: int = 0
    over_year: int = 0
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


class TimelinessInbox(SQLModel, table=True):
    __tablename__ = "timeliness_inbox"

    event_id: str = Field(primary_key=True, max_length=128)
    processed_at: datetime


class TimelinessState(SQLModel, table=True):
    __tablename__ = "timeliness_state"

    key: str = Field(primary_key=True, max_length=32)
    sequence: int = 0
    events_applied: int = 0
    as_of: datetime | None = None
    watermark: datetime | None = None
