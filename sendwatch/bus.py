"""Kafka adapter shared by the services (FastStream over aiokafka).

Delivery rules, from the platform notes:
- subscribers join a consumer group, start from the earliest offset, consume in batches,
  and commit only after the batch's effects are stored (``AckPolicy.NACK_ON_ERROR``: on an
  exception the batch is rewound and redelivered, never skipped);
- effects are idempotent (each service stores the event ids it applied in the same
  database transaction as the state), so a redelivery after a crash changes nothing;
- producers are idempotent (``enable_idempotence=True, acks=all``) where the broker
  supports it (Apache Kafka; detected at start, or ``SENDWATCH_KAFKA_IDEMPOTENCE``); Tansu
  does not, and exactly-once never depends on it: the database inbox does that;
- no Kafka transactions (Tansu shows aborted messages to read_committed consumers).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    InvalidProducerEpoch,
    KafkaConnectionError,
    KafkaError,
    OutOfOrderSequenceNumber,
    ProducerFenced,
    TopicAlreadyExistsError,
    UnknownProducerId,
)
from faststream import AckPolicy
from faststream.kafka import KafkaBroker

from contracts.topics import TopicCatalogue, load_topics
from sendwatch.config import Settings
from sendwatch.observability import CONSUMER_LAG, get_logger

log = get_logger(__name__)


def make_broker(settings: Settings, service: str) -> KafkaBroker:
    return KafkaBroker(
        # A list: FastStream would take "a:1,b:2" for one host.
        [host.strip() for host in settings.kafka_bootstrap.split(",") if host.strip()],
        client_id=f"sendwatch-{service}",
        acks="all",
        request_timeout_ms=settings.kafka_request_timeout_ms,
        linger_ms=5,
        max_batch_size=1024 * 1024,
        # FastStream logs every message at INFO; that halves throughput, so keep it at DEBUG.
        log_level=logging.DEBUG,
        graceful_timeout=15.0,
        # Handlers read the raw records (to validate, dead-letter and dedupe themselves);
        # the annotations only document the payload in the AsyncAPI files.
        apply_types=False,
    )


def current_records(broker: KafkaBroker) -> tuple[Any, ...]:
    """The raw aiokafka records of the batch being handled."""
    message = broker.context.get_local("message")
    raw = message.raw_message
    return raw if isinstance(raw, tuple) else (raw,)


def batch_subscriber(
    broker: KafkaBroker,
    settings: Settings,
    topic: str | Iterable[str],
    group_id: str,
    **kwargs: Any,
) -> Any:
    """The one safe subscriber configuration: group, earliest, batches, ack after effects.
    ``topic`` may be several topics, consumed by one group."""
    topics = [topic] if isinstance(topic, str) else list(topic)
    return broker.subscriber(
        *topics,
        batch=True,
        group_id=group_id,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        max_records=settings.batch_max_records,
        batch_timeout_ms=settings.batch_timeout_ms,
        session_timeout_ms=settings.session_timeout_ms,
        heartbeat_interval_ms=max(500, settings.session_timeout_ms // 5),
        max_poll_interval_ms=max(60_000, settings.session_timeout_ms * 6),
        decoder=_undecoded,
        **kwargs,
    )


async def _undecoded(message: Any) -> Any:
    """Skip FastStream's JSON decoding: handlers validate the raw bytes themselves."""
    return message.body


async def broker_supports_idempotence(bootstrap: str, **client: Any) -> bool:
    """Whether an idempotent producer can start here (it needs InitProducerId, which
    Apache Kafka answers and Tansu refuses with UnknownError).  A broker that cannot be
    reached yet is retried, never taken for "unsupported"."""
    for attempt in range(120):
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", **client
        )
        try:
            await producer.start()
            return True
        except KafkaConnectionError:
            if attempt == 119:
                raise
            await asyncio.sleep(0.5)
        except KafkaError:
            return False
        finally:
            await producer.stop()
    return False


async def configure_idempotence(broker: KafkaBroker, settings: Settings) -> bool:
    """Turn on the idempotent producer before the broker connects (auto | on | off)."""
    mode = settings.kafka_idempotence
    if mode in ("on", "true", "1"):
        enabled = True
    elif mode in ("off", "false", "0"):
        enabled = False
    else:
        client = {k: v for k, v in broker._connection_kwargs.items() if k in _CLIENT_KEYS}  # noqa: SLF001
        enabled = await broker_supports_idempotence(settings.kafka_bootstrap, **client)
    broker._connection_kwargs["enable_idempotence"] = enabled  # noqa: SLF001
    log.info("producer_configured", idempotent=enabled)
    return enabled


# An idempotent aiokafka producer whose batches expired while the broker was away has a
# gap in its sequence numbers, and the broker refuses everything after it for ever
# (aiokafka, unlike the Java client, does not bump the epoch).  The cure is a new
# producer (a new producer id); the refused events were answered 503 and are resent.
FATAL_PRODUCER_ERRORS = (
    OutOfOrderSequenceNumber,
    UnknownProducerId,
    InvalidProducerEpoch,
    ProducerFenced,
)


class ProducerReset:
    """Replaces the broker's producer with a fresh one (a new producer id), once for
    all the requests that failed on the same producer."""

    def __init__(self, broker: KafkaBroker) -> None:
        self.broker = broker
        self.generation = 0
        self._lock = asyncio.Lock()

    async def __call__(self, seen_generation: int) -> None:
        async with self._lock:
            if seen_generation != self.generation:
                return  # another request already replaced it
            await _replace_producer(self.broker)
            self.generation += 1


async def _replace_producer(broker: KafkaBroker, timeout_s: float = 5.0) -> None:
    fast = broker.config.broker_config.producer
    serializer, codec = fast.serializer, fast.codec  # type: ignore[attr-defined]
    with contextlib.suppress(Exception):
        await asyncio.wait_for(fast.disconnect(), timeout_s)
    await fast.connect(
        AIOKafkaProducer(**broker._connection_kwargs),  # noqa: SLF001
        serializer=serializer,
        codec=codec,
    )
    log.warning("producer_reset")


# Connection settings a side client (probe, admin, lag monitor) shares with the broker.
_CLIENT_KEYS = (
    "security_protocol",
    "sasl_mechanism",
    "sasl_plain_username",
    "sasl_plain_password",
    "ssl_context",
    "request_timeout_ms",
)


async def _replication(admin: AIOKafkaAdminClient, wanted: int) -> int:
    if wanted > 0:
        return wanted
    cluster = await admin.describe_cluster()
    return max(1, min(3, len(cluster.get("brokers", [])) or 1))


async def ensure_topics(
    bootstrap: str, catalogue: TopicCatalogue | None = None, replication_factor: int = 0
) -> list[str]:
    """Create every catalogue topic that is missing; return the names created.

    Replication factor ``0`` means min(3, brokers): 1 on a single broker, 3 with
    ``min.insync.replicas=2`` on a cluster of three or more, so one broker can be lost
    without losing an acknowledged event or refusing writes.
    """
    catalogue = catalogue or load_topics()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="sendwatch-admin")
    for attempt in range(60):
        try:
            await admin.start()
            break
        except KafkaError:
            if attempt == 59:
                raise
            await asyncio.sleep(0.5)
    created: list[str] = []
    try:
        existing = set(await admin.list_topics())
        rf = await _replication(admin, replication_factor)
        configs = {"min.insync.replicas": "2"} if rf >= 3 else {}
        missing = [
            NewTopic(spec.name, spec.partitions, rf, topic_configs=configs)
            for spec in catalogue.topics.values()
            if spec.name not in existing
        ]
        for topic in missing:
            try:
                await admin.create_topics([topic])
                created.append(topic.name)
            except TopicAlreadyExistsError:
                pass
    finally:
        await admin.close()
    if created:
        log.info("topics_created", topics=created)
    return created


class LagMonitor:
    """Exports consumer lag per partition: high-water mark minus committed offset.

    FastStream's Prometheus middleware has no lag metric, so this polls the group's
    committed offsets and the log-end offsets on a side connection.
    """

    def __init__(
        self,
        bootstrap: str,
        service: str,
        group_id: str,
        topics: Iterable[str],
        interval_s: float = 5.0,
    ) -> None:
        self.bootstrap = bootstrap
        self.service = service
        self.group_id = group_id
        self.topics = list(topics)
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    async def sample(
        self, admin: AIOKafkaAdminClient, consumer: AIOKafkaConsumer
    ) -> dict[TopicPartition, int]:
        partitions = [
            TopicPartition(t, p)
            for t in self.topics
            for p in sorted(consumer.partitions_for_topic(t) or ())
        ]
        if not partitions:
            return {}
        ends = await consumer.end_offsets(partitions)
        committed = await admin.list_consumer_group_offsets(self.group_id, partitions=partitions)
        lag: dict[TopicPartition, int] = {}
        for tp in partitions:
            meta = committed.get(tp)
            done = meta.offset if meta is not None and meta.offset >= 0 else 0
            lag[tp] = max(0, ends[tp] - done)
            CONSUMER_LAG.labels(self.service, self.group_id, tp.topic, str(tp.partition)).set(
                lag[tp]
            )
        return lag

    async def _run(self) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        try:
            await admin.start()
            await consumer.start()
            while True:
                try:
                    await consumer._client.force_metadata_update()  # noqa: SLF001
                    await self.sample(admin, consumer)
                except KafkaError as exc:  # broker briefly away: keep the last values
                    log.warning("lag_sample_failed", error=str(exc))
                await asyncio.sleep(self.interval_s)
        finally:
            await consumer.stop()
            await admin.close()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"lag-{self.service}")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
