"""Ingest service process: ``POST /v1/events`` on port 8001.

Authenticates the source system, validates each event against its contract, publishes
accepted events to the case-events topic (keyed by case) and rejected ones to the
dead-letter topic, and answers only after the broker has confirmed both.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from contracts.dlq import DeadLetter, RejectReason, dead_letter
from contracts.envelope import Envelope
from contracts.events import load_events
from contracts.sources import SourceRegistry, load_sources
from contracts.timeline import ClockTick, TimelineMessage, tick_copies
from contracts.topics import load_topics
from sendwatch.bus import FATAL_PRODUCER_ERRORS, ProducerReset, make_broker
from sendwatch.config import Settings, get_settings
from sendwatch.consumer import trace_of, traceparent
from sendwatch.observability import INGEST_EVENTS, INGEST_REQUEST_LATENCY, get_logger
from sendwatch.service import Runtime, create_service_app
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


def bootstrap(settings: Settings | None = None) -> Runtime:
    settings = settings or get_settings()
    return Runtime(name=SERVICE, settings=settings, broker=make_broker(settings, SERVICE))


def create_app(runtime: Runtime | None = None, sources: SourceRegistry | None = None) -> FastAPI:
    runtime = runtime or bootstrap()
    settings = runtime.settings
    registry = sources or load_sources()
    topics = load_topics()
    events = load_events()
    publishers = {  # one per topic that carries a registered event type
        alias: runtime.broker.publisher(
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
    dlq = runtime.broker.publisher(
        topics.name("dead-letter"),
        title="dead-letter",
        description="Rejected input with a machine-readable reason and the offending field.",
        schema=DeadLetter,
    )
    app = create_service_app(
        runtime,
        title="sendwatch ingest",
        description="Event intake for source systems. Send `Authorization: Bearer <key>`.",
    )

    lanes = {alias: topics[alias].partitions for alias in events.topics}
    reset_producer = ProducerReset(runtime.broker)

    async def publish(accepted: list[Envelope], dead: list[DeadLetter]) -> None:  # type: ignore[type-arg]
        futures = []
        for ev in accepted:
            if isinstance(ev, ClockTick):
                for alias, p, copy in tick_copies(ev, lanes):
                    futures.append(
                        await publishers[alias].publish(
                            copy.model_dump_json().encode(), partition=p, no_confirm=True
                        )
                    )
                continue
            futures.append(
                await publishers[events.topic_of(ev.type)].publish(
                    ev.model_dump_json().encode(),
                    key=ev.partition_key(),
                    headers={"traceparent": traceparent(ev.id)},
                    no_confirm=True,
                )
            )
        futures += [
            await dlq.publish(d.model_dump_json().encode(), key=d.source.encode(), no_confirm=True)
            for d in dead
        ]
        await asyncio.gather(*futures)

    async def store(accepted: list[Envelope], dead: list[DeadLetter]) -> None:  # type: ignore[type-arg]
        """Publish and wait for the brokers, within the request timeout.  An idempotent
        producer retries a broker that is away for ever; the source gets a bounded
        answer instead: 503 (retry with the same ids), never a false 200."""
        await asyncio.wait_for(
            publish(accepted, dead), timeout=settings.kafka_request_timeout_ms / 1000
        )

    def to_dead(source_id: str, verdict: Verdict, raw: Any) -> DeadLetter:
        assert verdict.reason is not None
        return dead_letter(
            rejected_by=SERVICE,
            reason=verdict.reason,
            field=verdict.field,
            message=verdict.message or "",
            raw=json.dumps(raw, default=str),
            original_id=verdict.event_id,
            original_source=source_id,
            topic=topics.name("case-events"),
        )

    @app.post("/v1/events", tags=["ingest"])
    async def post_events(request: Request) -> JSONResponse:
        started = time.perf_counter()
        auth = request.headers.get("authorization", "")
        if not auth.lower().startswith("bearer ") or not auth[7:].strip():
            return _error(401, "unauthenticated", "send 'Authorization: Bearer <api key>'")
        source_id = registry.authenticate(auth[7:].strip())
        if source_id is None:
            return _error(401, "unauthenticated", "unknown API key")
        try:
            body = await _read_body(request, settings.ingest_max_body_bytes)
        except BodyTooLarge:
            return _error(
                413,
                "payload_too_large",
                f"request body over {settings.ingest_max_body_bytes} bytes",
            )
        try:
            payload = json.loads(body)
        except ValueError as exc:
            letter = dead_letter(
                rejected_by=SERVICE,
                reason=RejectReason.MALFORMED_JSON,
                field=None,
                message=str(exc),
                raw=body,
                original_source=source_id,
                topic=topics.name("case-events"),
            )
            try:
                await store([], [letter])
            except Exception as exc:  # noqa: BLE001 - broker down
                log.error("publish_failed", error=str(exc), events=1)
                return _error(503, "broker_unavailable", "not stored; retry")
            INGEST_EVENTS.labels(source_id, "rejected").inc()
            return _error(
                400, RejectReason.MALFORMED_JSON.value, f"body is not JSON: {exc}", dlq_id=letter.id
            )
        items = payload["events"] if isinstance(payload, dict) and "events" in payload else payload
        items = items if isinstance(items, list) else [items]
        if len(items) > settings.ingest_max_batch:
            return _error(
                413,
                "batch_too_large",
                f"{len(items)} events; at most {settings.ingest_max_batch} per request",
            )
        verdicts = check_batch(
            items, source_id, registry.sources[source_id], datetime.now(UTC), events
        )
        generation = reset_producer.generation
        accepted = [v.event for v in verdicts if v.event is not None]
        dead = [to_dead(source_id, v, items[v.index]) for v in verdicts if not v.accepted]
        try:
            # An idempotent producer retries a broker that is away for ever; the source
            # gets a bounded answer: 503 (retry with the same ids), never a false 200.
            await store(accepted, dead)
        except Exception as exc:  # noqa: BLE001 - broker down: tell the source to retry
            log.error("publish_failed", error=str(exc), events=len(items))
            if isinstance(exc, FATAL_PRODUCER_ERRORS):
                await reset_producer(generation)
            return _error(503, "broker_unavailable", "events not stored; retry with the same ids")
        for v in verdicts:
            log.info(
                "event_accepted" if v.accepted else "event_rejected",
                event_id=v.event_id,
                trace_id=trace_of(v.event_id or ""),
                source=source_id,
                reason=v.reason.value if v.reason else None,
            )
        INGEST_EVENTS.labels(source_id, "accepted").inc(len(accepted))
        INGEST_EVENTS.labels(source_id, "rejected").inc(len(dead))
        INGEST_REQUEST_LATENCY.observe(time.perf_counter() - started)
        rejected = len(verdicts) - len(accepted)
        if all_foreign(verdicts):
            status = 403
        elif rejected == 0:
            status = 200
        elif accepted:
            status = 207
        else:
            status = 422
        return JSONResponse(
            {
                "source": source_id,
                "accepted": len(accepted),
                "rejected": rejected,
                "results": [v.as_result() for v in verdicts],
            },
            status_code=status,
        )

    return app
