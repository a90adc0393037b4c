"""The programme event log the alerts service keeps (``alerts_programme_event``): every
programme event applied, so R1-R4 and the documents are decided from events alone."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

from services.alerts.adapters.orm import UtcDateTime


class ProgrammeEventRow(SQLModel, table=True):
    __tablename__ = "alerts_programme_event"

    id: str = Field(primary_key=True, max_length=128)
    type: str = Field(max_length=64, index=True)
    subject: str = Field(max_length=80, index=True)
    time: datetime = Field(sa_type=UtcDateTime, index=True)
    body: str = Field(sa_type=Text)
