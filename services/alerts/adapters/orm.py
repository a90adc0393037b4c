"""Tables owned by the alerts service (prefix ``alerts_``)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel


class KpiObservation(SQLModel, table=True):
    __tablename__ = "alerts_kpi_observation"

    kpi: str = Field(primary_key=True, max_length=64)
    cycle: str = Field(primary_key=True, max_length=32)
    breakdown: str = Field(primary_key=True, max_length=80)
    sequence: int
    value: float | None = None
    updated_at: datetime


class AlertsInbox(SQLModel, table=True):
    __tablename__ = "alerts_inbox"

    event_id: str = Field(primary_key=True, max_length=128)
    processed_at: datetime
