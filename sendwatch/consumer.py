"""The consume side of every service: validate a batch, dead-letter what is invalid,
apply the rest idempotently, then let FastStream commit.

The service supplies ``parse`` (consumer record -> contract model) and ``apply`` (a synchronous
unit of work that stores state and the inbox in one transaction and returns how many
events were new).  ``apply`` runs in a worker thread so the consumer's heartbeats keep
going while the database works.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from aiokafka.structs import ConsumerRecord
from faststream.kafka import KafkaBroker

from contracts.dlq import DeadLetter, classify, dead_letter
from sendwatch.observability import (
    BATCH_SIZE,
    EVENTS_APPLIED,
    EVENTS_CONSUMED,
    EVENTS_DUPLICATE,
    EVENTS_REJECTED,
    PROCESSING_LATENCY,
    get_logger,
)

log = get_logger(__name__)
M = TypeVar("M")


def trace_id(record: ConsumerRecord[Any, Any], event_id: str | None) -> str:
    """The W3C trace id of a message: from its ``traceparent`` header (ingest sets one),
    else derived from the event id, so every service logs the same id for an event."""
    for key, value in record.headers or ():
        if key == "traceparent" and value:
            parts = value.decode(errors="replace").split("-")
            if len(parts) >= 3 and len(parts[1]) == 32:
                return str(parts[1])
    return trace_of(event_id or "")


def trace_of(event_id: str) -> str:
    return hashlib.sha256(event_id.encode()).hexdigest()[:32]


def traceparent(event_id: str) -> str:
    """A W3C ``traceparent`` header for an event (trace and span derived from its id)."""
    trace = trace_of(event_id)
    return f"00-{trace}-{trace[:16]}-01"


@dataclass
class BatchOutcome:
    consumed: int
    applied: int
    duplicates: int
    rejected: int


class ConsumerPipeline(Generic[M]):
    def __init__(
        self,
        *,
        service: str,
        broker: KafkaBroker,
        dlq_topic: str,
        parse: Callable[[ConsumerRecord[Any, Any]], M],
        apply: Callable[[list[M]], int],
        after_commit: Callable[[int], Any] | None = None,
    ) -> None:
        self.service = service
        self.broker = broker
        self.dlq_topic = dlq_topic
        self.parse = parse
        self.apply = apply
        self.after_commit = after_commit

    def _dead(self, record: ConsumerRecord[Any, Any], exc: Exception) -> DeadLetter:
        reason, field, message = classify(exc)
        return dead_letter(
            rejected_by=self.service,
            reason=reason,
            field=field,
            message=message,
            raw=record.value or b"",
            topic=record.topic,
        )

    async def handle(self, records: Sequence[ConsumerRecord[Any, Any]]) -> BatchOutcome:
        valid: list[M] = []
        records_ok: list[ConsumerRecord[Any, Any]] = []
        dead: list[DeadLetter] = []
        for record in records:
            try:
                valid.append(self.parse(record))
                records_ok.append(record)
            except Exception as exc:  # noqa: BLE001 - every bad payload goes to the DLQ
                dead.append(self._dead(record, exc))
        if dead:
            await self.publish_dead(dead)
        try:
            applied = await asyncio.to_thread(self.apply, valid) if valid else 0
        except Exception:
            # The batch is rewound and redelivered (nack); pause so a database outage
            # does not become a hot loop.
            log.exception("batch_failed", size=len(records))
            await asyncio.sleep(1.0)
            raise
        now_ms = time.time() * 1000
        for record in records:
            EVENTS_CONSUMED.labels(self.service, record.topic).inc()
            PROCESSING_LATENCY.labels(self.service).observe(
                max(0.0, now_ms - record.timestamp) / 1000
            )
        BATCH_SIZE.labels(self.service).observe(len(records))
        for record, model in zip(records_ok, valid, strict=True):
            event_id = getattr(model, "id", None)
            log.info(
                "message_processed",
                event_id=event_id,
                trace_id=trace_id(record, event_id),
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
            )
        EVENTS_APPLIED.labels(self.service).inc(applied)
        EVENTS_DUPLICATE.labels(self.service).inc(len(valid) - applied)
        if self.after_commit is not None and applied:
            await self.after_commit(applied)
        return BatchOutcome(len(records), applied, len(valid) - applied, len(dead))

    async def publish_dead(self, dead: list[DeadLetter]) -> None:
        futures = []
        for letter in dead:
            EVENTS_REJECTED.labels(self.service, letter.data.reason.value).inc()
            log.warning(
                "dead_lettered",
                reason=letter.data.reason.value,
                field=letter.data.field,
                dlq_id=letter.id,
            )
            futures.append(
                await self.broker.publish(
                    letter.model_dump_json().encode(),
                    self.dlq_topic,
                    key=self.service.encode(),
                    no_confirm=True,
                )
            )
        await asyncio.gather(*futures)
