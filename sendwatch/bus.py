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

Security: :func:`kafka_client_options` turns the ``SENDWATCH_KAFKA_SECURITY_PROTOCOL`` /
``_SASL_MECHANISM`` / ``_SASL_USERNAME`` / ``_SASL_PASSWORD`` settings into client
options, and every client here (the FastStream broker, the admin client that creates
topics, the lag monitor's admin client and consumer) is built with them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Iterable, Sequence
from typing import Any, Protocol

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
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from contracts.topics import TopicCatalogue, load_topics
from sendwatch.config import Settings
from sendwatch.health import ConsumerHealth
from sendwatch.observability import CONSUMER_LAG, get_logger

log = get_logger(__name__)

SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN")


class KafkaSecurityError(ValueError):
    """The Kafka security settings are incomplete or unknown (names the setting)."""


def kafka_client_options(settings: Settings) -> dict[str, Any]:
    """aiokafka client options for the configured security protocol and SASL login."""
    protocol = settings.kafka.security_protocol.strip().upper()
    if protocol not in SECURITY_PROTOCOLS:
        raise KafkaSecurityError(
            f"SENDWATCH_KAFKA_SECURITY_PROTOCOL must be one of {', '.join(SECURITY_PROTOCOLS)}"
        )
    options: dict[str, Any] = {"security_protocol": protocol}
    if protocol.endswith("SSL"):
        from aiokafka.helpers import create_ssl_context

        options["ssl_context"] = create_ssl_context()
    if protocol.startswith("SASL_"):
        mechanism = (settings.kafka.sasl_mechanism or "SCRAM-SHA-512").strip().upper()
        if mechanism not in SASL_MECHANISMS:
            raise KafkaSecurityError(
                f"SENDWATCH_KAFKA_SASL_MECHANISM must be one of {', '.join(SASL_MECHANISMS)}"
            )
        for name, value in (
            ("SENDWATCH_KAFKA_SASL_USERNAME", settings.kafka.sasl_username),
            ("SENDWATCH_KAFKA_SASL_PASSWORD", settings.kafka.sasl_password),
        ):
            if not value:
                raise KafkaSecurityError(f"{name} is required with {protocol}")
        options.update(
            sasl_mechanism=mechanism,
            sasl_plain_username=settings.kafka.sasl_username,
            sasl_plain_password=settings.kafka.sasl_password,
        )
    return options


def faststream_security(settings: Settings) -> BaseSecurity | None:
    """The same settings as FastStream's security object (it maps them back to the
    aiokafka options of :func:`kafka_client_options`)."""
    options = kafka_client_options(settings)
    protocol = options["security_protocol"]
    if protocol == "PLAINTEXT":
        return None
    ssl = options.get("ssl_context")
    if protocol == "SSL":
        return BaseSecurity(ssl_context=ssl, use_ssl=True)
    kind = {
        "SCRAM-SHA-512": SASLScram512,
        "SCRAM-SHA-256": SASLScram256,
        "PLAIN": SASLPlaintext,
    }[options["sasl_mechanism"]]
    return kind(
        options["sasl_plain_username"],
        options["sasl_plain_password"],
        ssl_context=ssl,
        use_ssl=protocol == "SASL_SSL",
    )


def make_broker(settings: Settings, service: str) -> KafkaBroker:
    return KafkaBroker(
        # A list: FastStream would take "a:1,b:2" for one host.
        [host.strip() for host in settings.kafka.bootstrap.split(",") if host.strip()],
        security=faststream_security(settings),
        client_id=f"sendwatch-{service}",
        acks="all",
        request_timeout_ms=settings.kafka.request_timeout_ms,
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
        group_id=settings.kafka.group_prefix + group_id,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        max_records=settings.kafka.batch_max_records,
        batch_timeout_ms=settings.kafka.batch_timeout_ms,
        fetch_max_wait_ms=settings.kafka.fetch_max_wait_ms,
        session_timeout_ms=settings.kafka.session_timeout_ms,
        heartbeat_interval_ms=max(500, settings.kafka.session_timeout_ms // 5),
        # Kafka's own default (5 min): a batch that closes many cycles at once (the first
        # tick after a long history) can take minutes on a busy machine, and a shorter
        # limit evicts the member mid-batch, fails its commit and repeats the batch.
        max_poll_interval_ms=max(300_000, settings.kafka.session_timeout_ms * 6),
        decoder=_undecoded,
        **kwargs,
    )


class BatchHandler(Protocol):
    """What a subscription hands each batch to (``ConsumerPipeline``)."""

    def handle(self, records: Sequence[Any]) -> Awaitable[Any]: ...


def subscribe(
    broker: KafkaBroker,
    settings: Settings,
    pipeline: BatchHandler,
    topic: str | Iterable[str],
    group_id: str,
    *,
    payload: Any,
    title: str,
    description: str,
) -> None:
    """Hand every batch of ``topic`` (one topic or several; consumer group ``group_id``)
    to ``pipeline``, through
    :func:`batch_subscriber`.  The handler reads the raw records (``current_records``);
    ``payload``, the contract of one message, only documents the channel in AsyncAPI."""

    async def handler(body: Any) -> None:
        await pipeline.handle(current_records(broker))

    handler.__annotations__ = {"body": list[payload], "return": None}
    handler.__name__ = handler.__qualname__ = f"on_{title.replace('-', '_')}"
    batch_subscriber(broker, settings, topic, group_id, title=title, description=description)(
        handler
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
    mode = settings.kafka.idempotence.lower()
    if mode in ("on", "true", "1"):
        enabled = True
    elif mode in ("off", "false", "0"):
        enabled = False
    else:
        enabled = await broker_supports_idempotence(
            settings.kafka.bootstrap, **kafka_client_options(settings)
        )
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


async def _replication(admin: AIOKafkaAdminClient, wanted: int) -> int:
    if wanted > 0:
        return wanted
    cluster = await admin.describe_cluster()
    return max(1, min(3, len(cluster.get("brokers", [])) or 1))


async def ensure_topics(
    bootstrap: str,
    catalogue: TopicCatalogue | None = None,
    client_options: dict[str, Any] | None = None,
    replication_factor: int = 0,
    wait_s: float | None = 30.0,
) -> list[str]:
    """Create every catalogue topic that is missing; return the names created.

    A broker that cannot be reached yet is retried with exponential back-off (0.25 s
    doubling to 10 s) for ``wait_s`` seconds, or for as long as it takes (``None``: the
    services, which may start before their broker).

    Replication factor ``0`` means min(3, brokers): 1 on a single broker, 3 with
    ``min.insync.replicas=2`` on a cluster of three or more, so one broker can be lost
    without losing an acknowledged event or refusing writes.
    """
    catalogue = catalogue or load_topics()
    admin = await _admin_when_reachable(bootstrap, client_options or {}, wait_s)
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


async def _admin_when_reachable(
    bootstrap: str, options: dict[str, Any], wait_s: float | None
) -> AIOKafkaAdminClient:
    loop = asyncio.get_running_loop()
    deadline = None if wait_s is None else loop.time() + wait_s
    delay = 0.25
    attempt = 0
    while True:
        admin = AIOKafkaAdminClient(
            bootstrap_servers=bootstrap, client_id="sendwatch-admin", **options
        )
        try:
            await admin.start()
            if attempt:
                log.info("broker_reachable", attempts=attempt + 1)
            return admin
        except KafkaError as exc:
            with contextlib.suppress(Exception):
                await admin.close()
            attempt += 1
            if deadline is not None and loop.time() + delay > deadline:
                raise
            log.warning(
                "broker_unreachable", error=type(exc).__name__, attempt=attempt, retry_in_s=delay
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)


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
        client_options: dict[str, Any] | None = None,
        health: Iterable[ConsumerHealth] = (),
    ) -> None:
        self.bootstrap = bootstrap
        self.service = service
        self.group_id = group_id
        self.topics = list(topics)
        self.interval_s = interval_s
        self.client_options = dict(client_options or {})
        self.health = list(health)
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
        offsets: dict[TopicPartition, int] = {}
        for tp in partitions:
            meta = committed.get(tp)
            done = meta.offset if meta is not None and meta.offset >= 0 else 0
            offsets[tp] = done
            lag[tp] = max(0, ends[tp] - done)
            CONSUMER_LAG.labels(self.service, self.group_id, tp.topic, str(tp.partition)).set(
                lag[tp]
            )
        for health in self.health:
            health.offsets_sampled(offsets, sum(lag.values()))
        return lag

    async def _run(self) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, **self.client_options)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, enable_auto_commit=False, **self.client_options
        )
        try:
            await admin.start()
            await consumer.start()
            while True:
                try:
                    await consumer._client.force_metadata_update()  # noqa: SLF001
                    await self.sample(admin, consumer)
                except KafkaError as exc:  # broker briefly away: keep the last values
                    log.warning("lag_sample_failed", error=type(exc).__name__)
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
