"""The transactional outbox: messages written in the same transaction as the state they
come from, published by a relay after the commit, then deleted.  A crash can delay a
message but never lose it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from services.timeliness.adapters.orm import OutboxRow
from services.timeliness.adapters.sql import insert_rows

_OUTBOX = OutboxRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Message:
    topic: str  # topic name
    key: str | None
    payload: str
    partition: int | None = None


class Outbox(ABC):
    @abstractmethod
    def add(self, messages: list[Message]) -> None: ...


class SqlOutbox(Outbox):
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, messages: list[Message]) -> None:
        insert_rows(self.session, _OUTBOX, [m.__dict__ for m in messages])


def pending_outbox(engine: Engine, limit: int = 5000) -> list[OutboxRow]:
    with Session(engine) as session:
        rows = session.execute(select(OutboxRow).order_by(OutboxRow.id).limit(limit))  # type: ignore[arg-type]
        return list(rows.scalars())


def mark_published(engine: Engine, ids: list[int]) -> None:
    with Session(engine) as session:
        session.execute(delete(_OUTBOX).where(_OUTBOX.c.id.in_(ids)))
        session.commit()
