"""Tables owned by the timeliness service (prefix ``timeliness_``)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel


class CaseRow(SQLModel, table=True):
    __tablename__ = "timeliness_case"

    case_id: str = Field(primary_key=True, max_length=80)
    person_id: str = Field(max_length=80, index=True)
    locality: str = Field(max_length=41)
    age_band: str = Field(max_length=16)
    phase: str = Field(max_length=16)
    primary_need: str | None = Field(default=None, max_length=8)
    attrs_time: datetime
    received_at: datetime | None = None
    closed_at: datetime | None = None
    closed_reason: str | None = Field(default=None, max_length=32)


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
