"""Programme delivery in the alerts service: the consumer of the programme topic and the
API (``/v1/programme/...``).

Writes become programme events on the topic (source ``pmo``): the log, the rules and the
documents all come from those events.  Roles: ``pmo`` writes everything; ``owner`` writes
updates (milestone status, RAID updates, actions updated or completed, exception
reports, acknowledgements), not new items, closures or decisions; ``board``, ``read``,
``pmo`` and ``owner`` read.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any, Literal

from fastapi import Depends, FastAPI, Header, HTTPException, Query
from fastapi.responses import Response
from pydantic import ConfigDict, Field, ValidationError
from sqlalchemy.engine import Engine as DbEngine

from contracts.escalation import Delivery
from contracts.events import load_events
from contracts.programme import load_programme
from contracts.programme_events import TOPIC, ProgrammeEvent
from contracts.timeline import ClockTick
from contracts.tokens import Principal, TokenRegistry
from contracts.topics import TopicCatalogue
from sendwatch.bodies import GuardedBody
from sendwatch.bus import subscribe
from sendwatch.config import Settings
from sendwatch.consumer import ConsumerPipeline
from sendwatch.openapi import content
from sendwatch.service import Runtime
from services.alerts import programme_documents as docs
from services.alerts import programme_views as views
from services.alerts.service_layer.programme import (
    Item,
    ProgrammeContext,
    apply_programme,
    is_programme_item,
)

GROUP = "sendwatch-alerts-programme"
SOURCE = "pmo"
OWNER_TYPES = frozenset(
    {
        "programme.milestone.status",
        "programme.raid.updated",
        "programme.action.updated",
        "programme.action.completed",
        "programme.exception.recorded",
        "programme.escalation.acknowledged",
    }
)
READ_ROLES = ("read", "board", "pmo", "owner")
BEARER = {"WWW-Authenticate": "Bearer"}
RaidStatus = Literal["on_track", "at_risk", "off_track", "complete", "closed", "open"]
__all__ = ["GROUP", "TOPIC", "add_routes", "subscribe_programme"]


def _parse(raw: bytes) -> Item:
    item = load_events().parse(raw)
    if not is_programme_item(item):
        raise ValueError(f"{item.type} is not a programme event")
    return item  # type: ignore[return-value]


def subscribe_programme(
    broker: Any,
    settings: Settings,
    engine: DbEngine,
    topics: TopicCatalogue,
    horizon_days: int,
    base_url: str,
    after_commit: Callable[[int], Awaitable[None]],
    delivery: Delivery | None = None,
) -> ConsumerPipeline[Item]:
    ctx = ProgrammeContext(load_programme(), horizon_days, base_url, delivery or Delivery())

    def apply(items: list[Item]) -> int:
        return apply_programme(ctx, engine, items).applied

    pipeline: ConsumerPipeline[Item] = ConsumerPipeline(
        service="alerts",
        broker=broker,
        dlq_topic=topics.name("dead-letter"),
        parse=lambda record: _parse(record.value),
        apply=apply,
        after_commit=after_commit,
        group=GROUP,
        settings=settings,
    )
    subscribe(
        broker,
        settings,
        pipeline,
        topics.name(TOPIC),
        GROUP,
        payload=ProgrammeEvent,
        title=TOPIC,
        description="Milestone status, RAID log, actions and decisions (R1-R4)",
    )
    return pipeline


class EventBody(GuardedBody):
    model_config = ConfigDict(extra="forbid")

    type: str = Field(pattern=r"^programme\.[a-z.]+$", max_length=64)
    subject: str = Field(max_length=80)
    data: dict[str, Any]
    time: datetime | None = Field(default=None, description="Event time (default: now)")
    id: str | None = Field(default=None, max_length=128, description="Idempotency key")


def build_event(body: EventBody, now: datetime) -> ProgrammeEvent:
    raw = {
        "id": body.id or f"pmo-{uuid.uuid4().hex}",
        "source": SOURCE,
        "type": body.type,
        "subject": body.subject,
        "time": (body.time or now).isoformat(),
        "data": body.data,
    }
    event = load_events().parse_event(raw)
    if isinstance(event, ClockTick) or not event.type.startswith("programme."):
        raise ValueError(f"{body.type} is not a programme event")
    return event  # type: ignore[return-value]


def _errors(exc: ValidationError) -> list[dict[str, Any]]:
    return [{"field": ".".join(str(p) for p in e["loc"]), "error": e["msg"]} for e in exc.errors()]


def add_routes(app: FastAPI, runtime: Runtime[Any], tokens: TokenRegistry) -> None:
    db = runtime.engine
    assert db is not None
    topic = load_topics_name(runtime)
    chromium = runtime.settings.reporting.chromium

    def reader(authorization: str | None = Header(None)) -> Principal:
        who = tokens.from_header(authorization)
        if who is None:
            raise HTTPException(
                401, "missing or unknown token", headers={"WWW-Authenticate": "Bearer"}
            )
        if not any(who.allows(r) for r in READ_ROLES):
            raise HTTPException(403, "this token may not read the programme")
        return who

    def writer(authorization: str | None = Header(None)) -> Principal:
        who = tokens.from_header(authorization)
        if who is None:
            raise HTTPException(
                401, "missing or unknown token", headers={"WWW-Authenticate": "Bearer"}
            )
        if not (who.allows("pmo") or who.allows("owner")):
            raise HTTPException(403, "only the PMO and owners record programme events")
        return who

    read = Depends(reader)

    @app.post("/v1/programme/events", tags=["programme"], status_code=202)
    async def record(body: EventBody, who: Principal = Depends(writer)) -> dict[str, Any]:
        if not who.allows("pmo") and body.type not in OWNER_TYPES:
            raise HTTPException(403, f"owners may not record {body.type}; the PMO does")
        try:
            event = build_event(body, datetime.now(UTC))
        except ValidationError as exc:
            raise HTTPException(422, _errors(exc)) from exc
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from exc
        try:
            await runtime.broker.publish(
                event.model_dump_json().encode(), topic, key=event.subject.encode()
            )
        except Exception as exc:  # the broker is away: retry with the same id
            raise HTTPException(503, f"not recorded, retry with id {event.id}") from exc
        return {"id": event.id, "type": event.type, "subject": event.subject, "by": who.name}

    def _as_of(as_of: date | None) -> date:
        return as_of or views.today(db)

    @app.get("/v1/programme", tags=["programme"], dependencies=[read])
    async def overview(as_of: date | None = None) -> dict[str, Any]:
        return await asyncio.to_thread(views.overview, db, _as_of(as_of))

    @app.get("/v1/programme/raid", tags=["programme"], dependencies=[read])
    async def raid_log(
        as_of: date | None = None,
        kind: Literal["risk", "assumption", "issue", "dependency"] | None = None,
        status: Literal["on_track", "at_risk", "off_track", "complete", "closed", "open"]
        | None = None,
        owner: str | None = Query(None, max_length=40),
        milestone: str | None = Query(None, max_length=8),
    ) -> dict[str, Any]:
        return await asyncio.to_thread(
            views.raid_log,
            db,
            _as_of(as_of),
            kind=kind,
            status=status,
            owner=owner,
            milestone=milestone,
        )

    @app.get("/v1/programme/agenda/{forum}", tags=["programme"], dependencies=[read])
    async def agenda(forum: str, as_of: date | None = None) -> dict[str, Any]:
        if forum not in load_programme().forums:
            raise HTTPException(404, f"no forum {forum!r}")
        return await asyncio.to_thread(views.agenda, db, _as_of(as_of), forum)

    @app.get(
        "/v1/programme/documents/{kind}",
        tags=["programme"],
        dependencies=[read],
        responses=content("text/markdown", "text/csv", "text/html", "application/pdf"),
    )
    async def document(
        kind: Literal["exception-report", "highlight", "qag-pack"],
        format: Literal["md", "csv", "html", "pdf"] = "md",
        as_of: date | None = None,
        month: str | None = Query(None, pattern=r"^\d{4}-(0[1-9]|1[0-2])$"),
        meeting: date | None = None,
        raid: str | None = Query(None, pattern=r"^raid-\d{1,12}$"),
        milestone: str | None = Query(None, pattern=r"^o\d{2}-q\d$"),
    ) -> Response:
        try:
            doc = await asyncio.to_thread(
                views.document,
                db,
                kind,
                as_of,
                month=month,
                meeting=meeting,
                raid=raid,
                milestone=milestone,
                today=views.today(db),
            )
        except LookupError as exc:
            raise HTTPException(404, str(exc.args[0])) from exc
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from exc
        try:
            content, media = await asyncio.to_thread(docs.render, doc, format, chromium)
        except RuntimeError as exc:
            raise HTTPException(503, str(exc)) from exc
        return Response(content, media_type=media)


def load_topics_name(runtime: Runtime[Any]) -> str:
    from contracts.topics import load_topics

    return load_topics(runtime.settings.files.topics).name(TOPIC)
