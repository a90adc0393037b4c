"""``sendwatch bench``: pipeline throughput as a ratio to raw aiokafka, same broker, same run.

1. raw produce: aiokafka producer, pipelined ``send`` with linger, to a scratch topic;
2. raw consume: aiokafka ``getmany`` + contract validation of every message;
3. ingest: events/s accepted and published through ``POST /v1/events`` (the ingest
   service as a real process: HTTP, validation, publication, broker acks);
4. consume-to-state: events/s the timeliness service applies to its database
   (batch validation, inbox dedupe, case upserts, commit) from a pre-filled topic.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from cli.kafka import KafkaCluster, start_kafka
from cli.stack import Stack
from cli.tansu import TansuBroker, free_port, start_tansu
from contracts.case_events import parse_case_event
from sendwatch.config import get_settings

KEY = "dev-case-management-key"


# The benchmark runs its own development stack (Stack sets SENDWATCH_DEV=1).
DEV_OPS_TOKEN = "dev-operational-token"
DEV_OPS = {"Authorization": f"Bearer {DEV_OPS_TOKEN}"}


def bench_events(n: int) -> list[dict[str, Any]]:
    """n valid case events: a request and a final plan per case."""
    base = datetime(2026, 4, 1, tzinfo=UTC)
    out = []
    for i in range(n):
        case = i // 2
        etype = "ehc.request.received" if i % 2 == 0 else "ehc.plan.final-issued"
        out.append(
            {
                "id": f"bench-{i:09d}",
                "source": "case-management",
                "type": etype,
                "subject": f"case-{case:09d}",
                "time": (base + timedelta(days=(case % 300) + (i % 2) * 120)).isoformat(),
                "data": {
                    "person_id": f"p-{case:09d}",
                    "locality": "shrewsbury",
                    "age_band": "5-10",
                    "phase": "primary",
                    "primary_need": "ASD",
                },
            }
        )
    return out


def start_broker(engine: str, tmp: Path) -> TansuBroker | KafkaCluster:
    """The broker the whole run uses: Tansu (in memory) or single-node Apache Kafka."""
    if engine == "kafka":
        return start_kafka(1, base_dir=tmp / "kafka", log_file=tmp / "kafka.log")
    return start_tansu()


def broker_label(broker: TansuBroker | KafkaCluster) -> str:
    if broker.engine == "kafka":
        from cli.kafka import kafka_version

        return f"Apache Kafka {kafka_version()}, idempotent producers"
    return "Tansu, in memory"


async def raw_produce(
    bootstrap: str, topic: str, payloads: list[bytes], idempotent: bool = False
) -> float:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        linger_ms=5,
        acks="all",
        max_batch_size=1024 * 1024,
        enable_idempotence=idempotent,
    )
    await producer.start()
    try:
        started = time.perf_counter()
        futures = [
            await producer.send(topic, p, key=str(i % 997).encode()) for i, p in enumerate(payloads)
        ]
        await asyncio.gather(*futures)
        return len(payloads) / (time.perf_counter() - started)
    finally:
        await producer.stop()


async def raw_consume(bootstrap: str, topic: str, n: int) -> float:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id="bench-raw",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=5000,
    )
    await consumer.start()
    try:
        seen = 0
        started: float | None = None
        while seen < n:
            batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
            if batch and started is None:
                started = time.perf_counter()
            for records in batch.values():
                for r in records:
                    parse_case_event(r.value)
            seen += sum(len(r) for r in batch.values())  # once per getmany, not per partition
            if batch:
                await consumer.commit()
        assert started is not None
        return n / (time.perf_counter() - started)
    finally:
        await consumer.stop()


async def via_ingest(url: str, events: list[dict[str, Any]], batch: int) -> float:
    async with httpx.AsyncClient(timeout=300) as client:
        sem = asyncio.Semaphore(2)  # two source systems posting at once

        async def post(chunk: list[dict[str, Any]]) -> None:
            async with sem:
                r = await client.post(
                    f"{url}/v1/events", json=chunk, headers={"Authorization": f"Bearer {KEY}"}
                )
                r.raise_for_status()
                assert r.json()["accepted"] == len(chunk), r.text[:500]

        started = time.perf_counter()
        await asyncio.gather(*(post(events[i : i + batch]) for i in range(0, len(events), batch)))
        return len(events) / (time.perf_counter() - started)


POLL_SECONDS = 0.25


async def consume_to_state(port: int, n: int) -> float:
    async with httpx.AsyncClient(timeout=10) as client:
        first: tuple[float, int] | None = None
        while True:
            try:
                v = (
                    await client.get(f"http://127.0.0.1:{port}/v1/caseload", headers=DEV_OPS)
                ).json()
            except httpx.HTTPError:
                await asyncio.sleep(0.05)
                continue
            applied = v["events_applied"]
            now = time.perf_counter()
            if applied and first is None:
                first = (now, applied)
            if applied >= n:
                assert first is not None
                return (n - first[1]) / max(1e-9, now - first[0])
            # A slow poll: each read costs the service CPU, which a 20 ms poll took from
            # the very path it measures.  The rate is taken between two reads, so the
            # poll interval bounds the error, not the rate.
            await asyncio.sleep(POLL_SECONDS)


async def run_sen2_bench(
    requests: int, echo: Callable[..., Any] = print, engine: str = "tansu"
) -> int:
    """Import and process a synthetic SEN2 file of ``requests`` requests end to end
    (parse, pseudonymise, ingest, timeliness state and KPIs), against raw aiokafka
    consumption of the same case-events topic on the same broker.  The figures, where
    the time went and the memory: ``cli.bench_scale.sen2_figures``."""
    from cli.bench_scale import _sen2, print_sen2

    figures = await _sen2(requests, engine=engine, batch=5000, in_flight=3, echo=echo, keep=None)
    print_sen2(figures, echo)
    return 0 if figures["complete"] and not figures["rejected"] else 1


async def run_bench(
    events: int = 50_000,
    batch: int = 5_000,
    echo: Callable[..., Any] = print,
    engine: str = "tansu",
) -> int:
    data = bench_events(events)
    payloads = [json.dumps(e).encode() for e in data]
    tmp = Path(tempfile.mkdtemp(prefix="sendwatch-bench-"))
    broker = start_broker(engine, tmp)
    os.environ.setdefault("SENDWATCH_KAFKA_SESSION_TIMEOUT_MS", "6000")
    stack = Stack(
        var_dir=tmp,
        bootstrap=broker.bootstrap,
        ports={n: free_port() for n in ("ingest", "timeliness", "alerts", "reporting")},
    )
    (tmp / "logs").mkdir(parents=True)
    db = get_settings().database.url
    try:
        admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
        await admin.start()
        await admin.create_topics([NewTopic("bench-raw", 3, 1)])
        await admin.close()
        echo(
            f"broker {broker.bootstrap} ({broker_label(broker)}); "
            f"{events} events of ~{len(payloads[0])} bytes; "
            f"database {'PostgreSQL' if db else 'SQLite'}"
        )
        produce = await raw_produce(
            broker.bootstrap, "bench-raw", payloads, idempotent=broker.supports_idempotence
        )
        consume = await raw_consume(broker.bootstrap, "bench-raw", events)
        stack.start_service("ingest")
        await asyncio.to_thread(stack.wait_healthy)
        ingest = await via_ingest(f"http://127.0.0.1:{stack.ports['ingest']}", data, batch)
        stack.start_service("timeliness")
        state = await consume_to_state(stack.ports["timeliness"], events)
    finally:
        stack.stop()
        broker.stop()
    rows = [
        ("raw aiokafka produce (pipelined send)", produce, None),
        ("raw aiokafka consume + validation", consume, None),
        ("ingest: HTTP -> validate -> publish", ingest, ingest / produce),
        ("timeliness: consume -> DB state", state, state / consume),
    ]
    echo(f"{'path':42} {'events/s':>10} {'ratio to raw':>13}")
    for name, rate, ratio in rows:
        echo(f"{name:42} {rate:10,.0f} {'' if ratio is None else f'{ratio:13.2f}'}")
    return 0
