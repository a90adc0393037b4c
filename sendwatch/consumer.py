"""The consume side of every service: validate a batch, dead-letter what is invalid,
apply the rest idempotently, then let FastStream commit.

The service supplies ``parse`` (consumer record -> contract model) and ``apply`` (a synchronous
unit of work that stores state and the inbox in one transaction and returns how many
events were new).  ``apply`` runs in a worker thread so the consumer's heartbeats keep
going while the database works.

Poison messages: when ``apply`` fails on a batch for a reason that belongs to the data
(anything but a database that is unreachable, locked or read-only), the batch is split
in halves and each half applied on its own, down to the single message that still fails
after ``max_tries`` tries.  That message goes to the dead-letter topic (reason
``unprocessable``, message = the exception class; never the payload) and the rest of the
batch, and everything after it, is applied.  Each half commits state and inbox together,
so exactly-once holds: after a crash the redelivered batch finds the applied halves in
the inbox.  A failure that is not the data's (the database is down) rewinds the batch
as before, and ``/healthz`` reports the consumer once it keeps failing.

A breaker bounds the damage of a failure that only looks like the data's (state broken
in a way every message trips over): after ``max_poison_streak`` messages dead-lettered in
a row with nothing applied in between, the pipeline stops dead-lettering and rewinds
instead (``PoisonStorm``), so ``/healthz`` reports it and the stream waits for a repair.
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

from contracts.dlq import DeadLetter, RejectReason, classify, dead_letter
from sendwatch.config import Settings
from sendwatch.health import ConsumerHealth
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


def not_the_datas_fault(exc: BaseException) -> bool:
    """True for failures that say nothing about the messages: the database is
    unreachable, locked, read-only or its schema is broken.  Those rewind the batch;
    everything else (a value the domain cannot handle, a constraint a row breaks) makes
    the pipeline look for the message that causes it."""
    from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, TimeoutError

    if isinstance(exc, IntegrityError | DataError):
        return False
    return isinstance(exc, DBAPIError | TimeoutError | ConnectionError)


def observe_batch(service: str, records: Sequence[ConsumerRecord[Any, Any]]) -> None:
    """Consumed counts and broker-append-to-processed latency, with each metric's label
    children looked up once per batch and topic, not per record."""
    now_ms = time.time() * 1000
    latency = PROCESSING_LATENCY.labels(service)
    per_topic: dict[str, int] = {}
    for record in records:
        per_topic[record.topic] = per_topic.get(record.topic, 0) + 1
        latency.observe(max(0.0, now_ms - record.timestamp) / 1000)
    for topic, count in per_topic.items():
        EVENTS_CONSUMED.labels(service, topic).inc(count)
    BATCH_SIZE.labels(service).observe(len(records))


class PoisonStorm(RuntimeError):
    """Too many messages in a row could not be applied: not the data, the state."""


@dataclass
class BatchOutcome:
    consumed: int
    applied: int
    duplicates: int
    rejected: int
    poisoned: int = 0


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
        group: str | None = None,
        max_tries: int = 3,
        retry_delay_s: float = 0.2,
        transient: Callable[[BaseException], bool] = not_the_datas_fault,
        health: ConsumerHealth | None = None,
        settings: Settings | None = None,
        max_poison_streak: int = 10,
    ) -> None:
        """``settings`` (when given) supplies ``max_tries`` and the health thresholds."""
        if settings is not None:
            max_tries = settings.consumer.poison_max_tries
            max_poison_streak = settings.consumer.poison_max_streak
            health = health or ConsumerHealth(
                group or service,
                settings.consumer.health_stall_s,
                settings.consumer.health_max_failures,
            )
        self.service = service
        self.broker = broker
        self.dlq_topic = dlq_topic
        self.parse = parse
        self.apply = apply
        self.after_commit = after_commit
        self.max_tries = max(1, max_tries)
        self.retry_delay_s = retry_delay_s
        self.transient = transient
        self.health = health or ConsumerHealth(group or service)
        self.max_poison_streak = max(1, max_poison_streak)
        self._poison_streak = 0  # dead-lettered in a row, nothing applied in between

    def _dead(self, record: ConsumerRecord[Any, Any], exc: Exception) -> DeadLetter:
        reason, field, message = classify(exc)
        return dead_letter(
            rejected_by=self.service,
            reason=reason,
            field=field,
            message=message,
            raw=record.value or b"",
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
        )

    def _poisoned(self, record: ConsumerRecord[Any, Any], model: Any, exc: Exception) -> DeadLetter:
        return dead_letter(
            rejected_by=self.service,
            reason=RejectReason.UNPROCESSABLE,
            field=None,
            message=f"{type(exc).__name__} while applying it ({self.max_tries} tries)",
            raw=record.value or b"",
            original_id=getattr(model, "id", None),
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
        )

    async def handle(self, records: Sequence[ConsumerRecord[Any, Any]]) -> BatchOutcome:
        try:
            outcome = await self._handle(records)
        except Exception as exc:
            # The batch is rewound and redelivered (nack); back off so a database outage
            # does not become a hot loop.  Only the exception class is logged: its text
            # can quote the data.
            self.health.batch_failed(exc)
            log.warning(
                "batch_failed",
                size=len(records),
                error=type(exc).__name__,
                failures=self.health.failures,
            )
            await asyncio.sleep(min(30.0, 0.5 * 2 ** min(self.health.failures, 6)))
            raise
        self.health.batch_succeeded()
        return outcome

    async def _handle(self, records: Sequence[ConsumerRecord[Any, Any]]) -> BatchOutcome:
        valid: list[tuple[ConsumerRecord[Any, Any], M]] = []
        dead: list[DeadLetter] = []
        for record in records:
            try:
                valid.append((record, self.parse(record)))
            except Exception as exc:  # noqa: BLE001 - every bad payload goes to the DLQ
                dead.append(self._dead(record, exc))
        if dead:
            await self.publish_dead(dead)
        poisoned: list[DeadLetter] = []
        applied = await self._apply(valid, poisoned) if valid else 0
        if poisoned:
            await self.publish_dead(poisoned)
        observe_batch(self.service, records)
        skipped = {(d.data.partition, d.data.offset) for d in poisoned}
        # One line per batch, not per message (a line per message was a tenth of the
        # consumer's CPU): the trace ids only, as the event id is the source's and may
        # hold personal data.
        traces = [
            trace_id(record, getattr(model, "id", None))
            for record, model in valid
            if (record.partition, record.offset) not in skipped
        ]
        if traces:
            first, last = records[0], records[-1]
            log.info(
                "batch_processed",
                size=len(records),
                topic=first.topic if first.topic == last.topic else None,
                first_offset=first.offset,
                last_offset=last.offset,
                trace_ids=traces,
            )
        good = len(valid) - len(poisoned)
        EVENTS_APPLIED.labels(self.service).inc(applied)
        EVENTS_DUPLICATE.labels(self.service).inc(good - applied)
        if self.after_commit is not None and applied:
            await self.after_commit(applied)
        return BatchOutcome(len(records), applied, good - applied, len(dead), len(poisoned))

    async def _apply(
        self, items: list[tuple[ConsumerRecord[Any, Any], M]], poisoned: list[DeadLetter]
    ) -> int:
        """Apply ``items`` in order; isolate and dead-letter what cannot be applied."""
        try:
            applied = await asyncio.to_thread(self.apply, [m for _, m in items])
            self._poison_streak = 0
            return applied
        except Exception as exc:
            if self.transient(exc):
                raise
            if len(items) > 1:
                log.warning("batch_split", size=len(items), error=type(exc).__name__)
                mid = len(items) // 2
                return await self._apply(items[:mid], poisoned) + await self._apply(
                    items[mid:], poisoned
                )
            last = exc
        # One message, failed once: try again (a cause outside it may pass), then give up.
        record, model = items[0]
        for _ in range(self.max_tries - 1):
            await asyncio.sleep(self.retry_delay_s)
            try:
                applied = await asyncio.to_thread(self.apply, [model])
                self._poison_streak = 0
                return applied
            except Exception as exc:
                if self.transient(exc):
                    raise
                last = exc
        if self._poison_streak >= self.max_poison_streak:
            raise PoisonStorm(
                f"{self._poison_streak} messages in a row could not be applied"
            ) from last
        self._poison_streak += 1
        letter = self._poisoned(record, model, last)
        log.error(
            "message_dead_lettered",
            reason=RejectReason.UNPROCESSABLE.value,
            error=type(last).__name__,
            trace_id=trace_id(record, getattr(model, "id", None)),
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            dlq_id=letter.id,
        )
        poisoned.append(letter)
        return 0

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
