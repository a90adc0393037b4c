"""Ingest service process: ``POST /v1/events`` on port 8001.

Authenticates the source system, validates each event against its contract, publishes
accepted events to the case-events topic (keyed by case) and rejected ones to the
dead-letter topic, and answers only after the broker has confirmed both.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from faststream.kafka import KafkaBroker
from faststream.kafka.publisher.usecase import DefaultPublisher

from contracts.dlq import DeadLetter, RejectReason, dead_letter
from contracts.envelope import Envelope
from contracts.events import EventRegistry, load_events
from contracts.sources import SourceRegistry, load_sources
from contracts.timeline import ClockTick, TimelineMessage, tick_copies
from contracts.topics import TopicCatalogue, load_topics
from sendwatch.bus import FATAL_PRODUCER_ERRORS, ProducerReset, make_broker
from sendwatch.config import Settings, get_settings
from sendwatch.consumer import trace_of, traceparent
from sendwatch.db import make_engine
from sendwatch.observability import INGEST_EVENTS, INGEST_REQUEST_LATENCY, get_logger
from sendwatch.service import Runtime, create_service_app, deps_of
from services.ingest import openapi as ingest_openapi
from services.ingest.adapters.publisher import Record, publish_batches, publish_each, raw_producer
from services.ingest.adapters.seen import SeenStore
from services.ingest.domain.batch import TooDeep, Unreadable, decode_batch
from services.ingest.domain.idempotency import Claimed, conflicts, serialise
from services.ingest.domain.intake import Verdict, all_foreign, check_batch

SERVICE = "ingest"
log = get_logger(__name__)


def _error(status: int, reason: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": reason, "message": message, **extra}, status_code=status)


class BodyTooLarge(Exception):
    pass


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


@dataclass(frozen=True)
class Deps:
    """What the route needs (``Runtime.deps``): the settings, the source registry, the
    topics and their publishers."""

    settings: Settings
    sources: SourceRegistry
    topics: TopicCatalogue
    events: EventRegistry
    publishers: dict[str, DefaultPublisher]  # one per topic a registered event type uses
    lanes: dict[str, int]  # partitions per event topic (ticks go to every one)
    dlq: DefaultPublisher
    reset_producer: ProducerReset
    seen: SeenStore | None = None  # accepted (source, id) keys and content digests
    broker: KafkaBroker | None = None  # its aiokafka producer publishes in batches


IngestDeps = Annotated[Deps, Depends(deps_of)]
router = APIRouter()


def bootstrap(settings: Settings | None = None) -> Runtime[Deps]:
    settings = settings or get_settings()
    broker = make_broker(settings, SERVICE)
    topics = load_topics(settings.files.topics)
    events = load_events()
    engine = make_engine(settings.db_url_for(SERVICE))
    publishers = {
        alias: broker.publisher(
            topics.name(alias),
            title=alias,
            description=(
                "Validated, pseudonymous EHC case events, keyed by case id."
                if alias == "case-events"
                else topics[alias].description
            ),
            schema=TimelineMessage if alias == "case-events" else None,
        )
        for alias in events.topics
    }
    dlq = broker.publisher(
        topics.name("dead-letter"),
        title="dead-letter",
        description="Rejected input with a machine-readable reason and the offending field.",
        schema=DeadLetter,
    )
    deps = Deps(
        settings=settings,
        sources=load_sources(settings.files.sources),
        topics=topics,
        events=events,
        publishers=publishers,
        lanes={alias: topics[alias].partitions for alias in events.topics},
        dlq=dlq,
        reset_producer=ProducerReset(broker),
        seen=SeenStore(engine),
        broker=broker,
    )
    return Runtime(name=SERVICE, settings=settings, broker=broker, deps=deps, engine=engine)


def create_app(runtime: Runtime[Deps] | None = None) -> FastAPI:
    runtime = runtime or bootstrap()
    app = create_service_app(
        runtime,
        title="sendwatch ingest",
        description="Event intake for source systems. Send `Authorization: Bearer <key>`.",
        openapi=ingest_openapi.extras,
    )
    app.include_router(router)
    return app


@dataclass(frozen=True)
class Prepared:
    """A decoded, checked and serialised request: what to answer and what to publish."""

    verdicts: list[Verdict]
    records: list[list[Record]]  # per verdict
    claimed: list[Claimed]  # accepted events (not ticks): key and content digest
    too_many: int | None = None  # the batch's size when over the limit

    @property
    def accepted(self) -> int:
        return sum(1 for v in self.verdicts if v.accepted)

    def all_records(self) -> list[Record]:
        return [r for rs in self.records for r in rs]


OFFLOAD_BYTES = 32 * 1024  # bodies above this are decoded and checked in a thread


def prepare(deps: Deps, source_id: str, body: bytes) -> Prepared:
    """Decode, check and serialise a request (pure CPU work, run off the event loop for
    large bodies).  Every item gets a verdict; one that cannot be serialised (text that
    is not valid Unicode) is dead-lettered like any other bad item, so the answer never
    depends on a publish failing half-way.  Raises ValueError for a body that is not
    JSON."""
    settings = deps.settings
    items = decode_batch(body, settings.ingest.max_depth)
    if len(items) > settings.ingest.max_batch:
        return Prepared([], [], [], too_many=len(items))
    verdicts = check_batch(
        items, source_id, deps.sources.sources[source_id], datetime.now(UTC), deps.events
    )
    records: list[list[Record]] = []
    final: list[Verdict] = []
    claimed: list[Claimed] = []
    for v in verdicts:
        if v.event is not None:
            try:
                if isinstance(v.event, ClockTick):
                    records.append(tick_records(deps, v.event))
                else:
                    value, digest = serialise(v.event)
                    records.append([event_record(deps, v.event, value)])
                    claimed.append(Claimed(v.index, (source_id, v.event.id), digest))
                final.append(v)
                continue
            except (ValueError, UnicodeError):  # incl. pydantic's serialisation error
                v = replace(
                    v,
                    event=None,
                    reason=RejectReason.INVALID_VALUE,
                    message="text that is not valid Unicode",
                )
        final.append(v)
        records.append([dead_record(deps, source_id, v, items[v.index])])
    return Prepared(final, records, claimed)


def dead_record(deps: Deps, source_id: str, v: Verdict, raw: Any) -> Record:
    letter = to_dead(deps, source_id, v, raw)
    return Record(None, letter.model_dump_json().encode(), key=source_id.encode())


def settle_conflicts(deps: Deps, source_id: str, p: Prepared) -> tuple[Prepared, list[Claimed]]:
    """Turn each event whose (source, id) was accepted before (or earlier in this
    batch) with other content into a ``conflict`` (409 for that item, dead-lettered);
    returns the request and the new keys to remember once it is stored."""
    if deps.seen is None or not p.claimed:
        return p, p.claimed
    known = deps.seen.known([c.key for c in p.claimed])
    bad, new = conflicts(p.claimed, known)
    if not bad:
        return p, new
    verdicts, records = list(p.verdicts), list(p.records)
    for i in bad:
        v = verdicts[i]
        assert v.event is not None
        raw = v.event.model_dump_json()
        v = replace(
            v,
            event=None,
            reason=RejectReason.CONFLICT,
            field="id",
            message="this source already sent an event with this id and other content",
        )
        verdicts[i] = v
        records[i] = [dead_record(deps, source_id, v, raw)]
    return Prepared(verdicts, records, [c for c in p.claimed if c.index not in bad]), new


def tick_records(deps: Deps, tick: ClockTick) -> list[Record]:
    """A tick goes to every partition of every event topic, so each partition's
    subjects see it after the events published before it."""
    return [
        Record(alias, copy.model_dump_json().encode(), partition=p)
        for alias, p, copy in tick_copies(tick, deps.lanes)
    ]


def event_record(deps: Deps, ev: Envelope, value: bytes) -> Record:  # type: ignore[type-arg]
    return Record(
        deps.events.topic_of(ev.type),
        value,
        key=ev.partition_key(),
        headers={"traceparent": traceparent(ev.id)},
    )


async def publish(deps: Deps, records: list[Record]) -> None:
    producer = raw_producer(deps.broker) if deps.broker is not None else None
    if producer is None:
        await publish_each(records, deps.publishers, deps.dlq)
        return
    names: dict[str | None, str] = {None: deps.topics.name("dead-letter")}
    names.update({alias: deps.topics.name(alias) for alias in deps.publishers})
    await publish_batches(producer, records, names.__getitem__)


async def store(deps: Deps, records: list[Record]) -> None:
    """Publish and wait for the brokers, within the request timeout.  An idempotent
    producer retries a broker that is away for ever; the source gets a bounded
    answer instead: 503 (retry with the same ids), never a false 200."""
    await asyncio.wait_for(
        publish(deps, records), timeout=deps.settings.kafka.request_timeout_ms / 1000
    )


def to_dead(deps: Deps, source_id: str, verdict: Verdict, raw: Any) -> DeadLetter:
    assert verdict.reason is not None
    text = raw.raw if isinstance(raw, TooDeep | Unreadable) else json.dumps(raw, default=str)
    return dead_letter(
        rejected_by=SERVICE,
        reason=verdict.reason,
        field=verdict.field,
        message=verdict.message or "",
        raw=text,
        original_id=verdict.event_id,
        original_source=source_id,
        topic=deps.topics.name("case-events"),
    )


def authenticate(request: Request, registry: SourceRegistry) -> str | JSONResponse:
    """The source system the request's API key belongs to, or the 401 to answer."""
    auth = request.headers.get("authorization", "")
    if not auth.lower().startswith("bearer ") or not auth[7:].strip():
        return _error(401, "unauthenticated", "send 'Authorization: Bearer <api key>'")
    source_id = registry.authenticate(auth[7:].strip())
    if source_id is None:
        return _error(401, "unauthenticated", "unknown API key")
    return source_id


async def malformed(deps: Deps, source_id: str, body: bytes, exc: ValueError) -> JSONResponse:
    """A body that is not JSON: dead-lettered (its digest only), answered 400."""
    # The decoder's position only: its text may quote the body.
    where = (
        f"line {exc.lineno}, column {exc.colno}"
        if isinstance(exc, json.JSONDecodeError)
        else "not UTF-8"
    )
    letter = dead_letter(
        rejected_by=SERVICE,
        reason=RejectReason.MALFORMED_JSON,
        field=None,
        message=f"body is not JSON ({where})",
        raw=body,
        original_source=source_id,
        topic=deps.topics.name("case-events"),
    )
    try:
        await store(deps, [Record(None, letter.model_dump_json().encode(), key=source_id.encode())])
    except Exception as error:  # noqa: BLE001 - broker down
        log.error("publish_failed", error=str(error), events=1)
        return _error(503, "broker_unavailable", "not stored; retry")
    INGEST_EVENTS.labels(source_id, "rejected").inc()
    return _error(
        400, RejectReason.MALFORMED_JSON.value, f"body is not JSON ({where})", dlq_id=letter.id
    )


@router.post("/v1/events", tags=["ingest"])
async def post_events(request: Request, deps: IngestDeps) -> JSONResponse:
    started = time.perf_counter()
    settings = deps.settings
    source_id = authenticate(request, deps.sources)
    if isinstance(source_id, JSONResponse):
        return source_id
    try:
        body = await _read_body(request, settings.ingest.max_body_bytes)
    except BodyTooLarge:
        return _error(
            413,
            "payload_too_large",
            f"request body over {settings.ingest.max_body_bytes} bytes",
        )
    try:
        prepared = (
            await asyncio.to_thread(prepare, deps, source_id, body)
            if len(body) > OFFLOAD_BYTES
            else prepare(deps, source_id, body)
        )
    except ValueError as exc:
        return await malformed(deps, source_id, body, exc)
    if prepared.too_many is not None:
        return _error(
            413,
            "batch_too_large",
            f"{prepared.too_many} events; at most {settings.ingest.max_batch} per request",
        )
    try:
        prepared, new = await asyncio.to_thread(settle_conflicts, deps, source_id, prepared)
    except Exception as exc:  # noqa: BLE001 - database down: tell the source to retry
        log.error("idempotency_check_failed", error=type(exc).__name__)
        return _error(503, "database_unavailable", "events not stored; retry with the same ids")
    verdicts = prepared.verdicts
    accepted = prepared.accepted
    generation = deps.reset_producer.generation
    try:
        # An idempotent producer retries a broker that is away for ever; the source
        # gets a bounded answer: 503 (retry with the same ids), never a false 200.
        await store(deps, prepared.all_records())
    except Exception as exc:  # noqa: BLE001 - broker down: tell the source to retry
        log.error("publish_failed", error=type(exc).__name__, events=len(verdicts))
        if isinstance(exc, FATAL_PRODUCER_ERRORS):
            await deps.reset_producer(generation)
        return _error(503, "broker_unavailable", "events not stored; retry with the same ids")
    if deps.seen is not None and new:
        try:
            await asyncio.to_thread(deps.seen.remember, [(*c.key, c.digest) for c in new])
        except Exception as exc:  # noqa: BLE001 - stored all the same: say so
            log.error("idempotency_record_failed", error=type(exc).__name__, events=len(new))
    log_verdicts(source_id, verdicts)
    INGEST_EVENTS.labels(source_id, "accepted").inc(accepted)
    INGEST_EVENTS.labels(source_id, "rejected").inc(len(verdicts) - accepted)
    INGEST_REQUEST_LATENCY.observe(time.perf_counter() - started)
    return JSONResponse(
        {
            "source": source_id,
            "accepted": accepted,
            "rejected": len(verdicts) - accepted,
            "results": [v.as_result() for v in verdicts],
        },
        status_code=status_of(verdicts, accepted),
    )


def log_verdicts(source_id: str, verdicts: list[Verdict]) -> None:
    """One line per request, not per event (a line per event was a seventh of ingest's
    CPU): the trace ids (hashes of the event ids, never the ids: a source may have put
    personal data in them) of the accepted events, and each rejection's reason."""
    accepted = [trace_of(v.event_id) for v in verdicts if v.accepted and v.event_id]
    rejected = [
        {
            "trace_id": trace_of(v.event_id) if v.event_id else None,
            "index": v.index,
            "reason": v.reason.value if v.reason else None,
        }
        for v in verdicts
        if not v.accepted
    ]
    log.info(
        "events_received",
        source=source_id,
        accepted=len(accepted),
        rejected=len(rejected),
        trace_ids=accepted,
        rejections=rejected,
    )


def status_of(verdicts: list[Verdict], accepted: int) -> int:
    """200 all accepted, 207 some, 422 none, 403 every event from a foreign source, 409
    every event a conflict."""
    if all_foreign(verdicts):
        return 403
    if verdicts and all(v.reason is RejectReason.CONFLICT for v in verdicts):
        return 409
    if accepted == len(verdicts):
        return 200
    return 207 if accepted else 422
