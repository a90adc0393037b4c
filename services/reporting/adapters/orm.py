"""Tables owned by the reporting service (prefix ``reporting_``)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel


class KpiRevision(SQLModel, table=True):
    __tablename__ = "reporting_kpi_revision"

    id: int | None = Field(default=None, primary_key=True)
    kpi: str = Field(max_length=64, index=True)
    cycle: str = Field(max_length=32)
    breakdown: str = Field(max_length=80)
    revision: int
    sequence: int
    value: float | None = None
    numerator: int | None = None
    denominator: int | None = None
    as_of: datetime | None = None
    received_at: datetime
    detail: str | None = None  # the full KpiValue (target, RAG, closed, extra) as JSON


class ProducerState(SQLModel, table=True):
    __tablename__ = "reporting_producer_state"

    producer: str = Field(primary_key=True, max_length=32)
    sequence: int
    events_applied: int
    as_of: datetime | None = None
    watermark: datetime | None = None


class ReportingInbox(SQLModel, table=True):
    __tablename__ = "reporting_inbox"

    event_id: str = Field(primary_key=True, max_length=128)
    processed_at: datetime
