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
import contextlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
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
                if first[1] >= n:  # all applied by the first reading: no rate to take
                    raise SystemExit(
                        f"timeliness applied all {n} events before the bench's first "
                        "reading: too few to measure a rate; give more --events"
                    )
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


def versions() -> dict[str, str]:
    """Versions of what the figures depend on."""
    import platform
    from importlib.metadata import version

    out = {"python": platform.python_version()}
    for name in ("sendwatch", "aiokafka", "faststream", "pydantic", "sqlalchemy", "uvicorn"):
        try:
            out[name] = version(name)
        except Exception:  # noqa: BLE001 - not installed as a distribution
            out[name] = "unknown"
    return out


@contextlib.contextmanager
def scratch_database() -> Iterator[str]:
    """A fresh database for one service run: a SQLite file per service under the
    stack's directory (nothing to do), or a new PostgreSQL database on the server
    SENDWATCH_DATABASE_URL names, dropped afterwards."""
    url = os.environ.get("SENDWATCH_DATABASE_URL")
    if not url:
        yield ""
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"sendwatch_bench_{os.getpid()}_{time.monotonic_ns() % 10**9}"
    admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    os.environ["SENDWATCH_DATABASE_URL"] = (
        make_url(url).set(database=name).render_as_string(hide_password=False)
    )
    try:
        yield name
    finally:
        os.environ["SENDWATCH_DATABASE_URL"] = url
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextlib.contextmanager
def service_stack(
    tmp: Path, bootstrap: str, name: str, env: dict[str, str] | None = None
) -> Iterator[Stack]:
    """A stack of its own (directory, database, environment) on the shared broker."""
    saved = {k: os.environ.get(k) for k in env or {}}
    os.environ.update(env or {})
    var = tmp / name
    (var / "logs").mkdir(parents=True)
    stack = Stack(
        var_dir=var,
        bootstrap=bootstrap,
        ports={n: free_port() for n in ("ingest", "timeliness", "alerts", "reporting")},
    )
    try:
        with scratch_database():
            try:
                yield stack
            finally:
                stack.stop()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def histogram_quantile(text: str, metric: str, labels: dict[str, str], q: float) -> float | None:
    """The q-quantile of a Prometheus histogram in exposition text, by linear
    interpolation inside the bucket (as PromQL's histogram_quantile)."""
    want = [f'{k}="{v}"' for k, v in labels.items()]
    buckets: list[tuple[float, float]] = []
    for line in text.splitlines():
        if not line.startswith(f"{metric}_bucket{{") or not all(w in line for w in want):
            continue
        le = line.split('le="', 1)[1].split('"', 1)[0]
        buckets.append((float("inf") if le == "+Inf" else float(le), float(line.rsplit(" ", 1)[1])))
    buckets.sort()
    if not buckets or buckets[-1][1] == 0:
        return None
    rank = q * buckets[-1][1]
    lower, below = 0.0, 0.0
    for upper, count in buckets:
        if count >= rank:
            if upper == float("inf"):
                return lower
            return lower + (upper - lower) * ((rank - below) / max(1e-12, count - below))
        lower, below = upper, count
    return lower


async def steady_latency(
    tmp: Path, engine: str, seconds: float, rate: int = 1_000
) -> dict[str, Any]:
    """Goal 5: at a steady ``rate`` events/s with nothing else running, the p50/p99 from
    the broker append to the committed KPI state (timeliness's processing-latency
    histogram), and the p50 of one KPI-cell read from the reporting API (its request
    histogram), read from the services' own /metrics."""
    data = bench_events(int(seconds * rate))
    for e in data:  # cases of their own (an "x" in the number: no id is reused)
        e["id"] = "lat-" + e["id"]
        e["subject"] = e["subject"].replace("case-", "case-x")
        e["data"]["person_id"] = e["data"]["person_id"].replace("p-", "p-x")
    # A broker of its own: the throughput runs' topics hold a backlog it must not read.
    broker = start_broker(engine, tmp / "latency-broker")
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(broker.stop)
        stack = cleanup.enter_context(service_stack(tmp, broker.bootstrap, "latency"))
        for name in ("ingest", "timeliness", "reporting"):
            stack.start_service(name)
        await asyncio.to_thread(stack.wait_healthy)
        p = stack.ports
        step = max(1, rate // 10)
        async with httpx.AsyncClient(timeout=30) as client:
            started = time.perf_counter()
            for n, i in enumerate(range(0, len(data), step)):
                r = await client.post(
                    f"http://127.0.0.1:{p['ingest']}/v1/events",
                    json=data[i : i + step],
                    headers={"Authorization": f"Bearer {KEY}"},
                )
                r.raise_for_status()
                await asyncio.sleep(max(0.0, started + (n + 1) * step / rate - time.perf_counter()))
            url = f"http://127.0.0.1:{p['timeliness']}/v1/caseload"
            while (await client.get(url, headers=DEV_OPS)).json()["events_applied"] < len(data):
                await asyncio.sleep(0.2)
            timeliness = (await client.get(f"http://127.0.0.1:{p['timeliness']}/metrics")).text
            base = f"http://127.0.0.1:{p['reporting']}"
            cell: dict[str, Any] | None = None
            for _ in range(100):
                values = (await client.get(f"{base}/v1/kpis", headers=DEV_OPS)).json()["kpis"]
                if values:
                    cell = values[0]
                    break
                await asyncio.sleep(0.2)
            reads = 0
            if cell is not None:
                query = {"kpi": cell["kpi"], "cycle": cell["cycle"], "breakdown": cell["breakdown"]}
                for _ in range(500):
                    r = await client.get(f"{base}/v1/kpis", params=query, headers=DEV_OPS)
                    r.raise_for_status()
                    reads += 1
            reporting = (await client.get(f"{base}/metrics")).text
    latency = {"service": "timeliness"}
    read = {"service": "reporting", "route": "/v1/kpis", "method": "GET"}
    return {
        "rate_events_per_s": rate,
        "seconds": seconds,
        "events": len(data),
        "append_to_state_p50_s": histogram_quantile(
            timeliness, "sendwatch_processing_latency_seconds", latency, 0.5
        ),
        "append_to_state_p99_s": histogram_quantile(
            timeliness, "sendwatch_processing_latency_seconds", latency, 0.99
        ),
        "kpi_cell_reads": reads,
        "kpi_cell_read_p50_s": histogram_quantile(
            reporting, "sendwatch_http_request_seconds", read, 0.5
        ),
    }


async def run_bench(
    events: int = 50_000,
    batch: int = 5_000,
    echo: Callable[..., Any] = print,
    engine: str = "tansu",
    as_json: bool = False,
    ingest_workers: int = 2,
    latency_s: float = 0.0,
) -> int:
    """Every figure of one run, against raw aiokafka on the same broker.  Each service
    variant runs in a stack of its own (directory, fresh database, consumer group)."""
    data = bench_events(events)
    payloads = [json.dumps(e).encode() for e in data]
    tmp = Path(tempfile.mkdtemp(prefix="sendwatch-bench-"))
    broker = start_broker(engine, tmp)
    os.environ.setdefault("SENDWATCH_KAFKA_SESSION_TIMEOUT_MS", "6000")
    db = "PostgreSQL" if os.environ.get("SENDWATCH_DATABASE_URL") else "SQLite"
    figures: dict[str, Any] = {}
    try:
        admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
        await admin.start()
        await admin.create_topics([NewTopic("bench-raw", 3, 1)])
        await admin.close()
        if not as_json:
            echo(
                f"broker {broker.bootstrap} ({broker_label(broker)}); "
                f"{events} events of ~{len(payloads[0])} bytes; database {db}"
            )
        produce = await raw_produce(
            broker.bootstrap, "bench-raw", payloads, idempotent=broker.supports_idempotence
        )
        consume = await raw_consume(broker.bootstrap, "bench-raw", events)
        figures["raw_produce"] = produce
        figures["raw_consume_validate"] = consume
        ingest_url = ""
        for workers in sorted({1, max(1, ingest_workers)}):
            # The first run's events are the ones timeliness consumes; a second run
            # re-posts them (the same ids: ingest accepts retries) to the same topic.
            with service_stack(
                tmp,
                broker.bootstrap,
                f"ingest-{workers}",
                {"SENDWATCH_INGEST_WORKERS": str(workers)},
            ) as stack:
                stack.start_service("ingest")
                await asyncio.to_thread(stack.wait_healthy)
                ingest_url = f"http://127.0.0.1:{stack.ports['ingest']}"
                figures[f"ingest_{workers}_worker"] = await via_ingest(ingest_url, data, batch)
        published = events * len({1, max(1, ingest_workers)})
        for name, env in (
            ("timeliness", {"SENDWATCH_TIMELINESS_GROUP": "bench-timeliness"}),
            (
                "timeliness_no_inbox",
                {"SENDWATCH_TIMELINESS_GROUP": "bench-no-inbox", "SENDWATCH_BENCH_NO_INBOX": "1"},
            ),
        ):
            with service_stack(tmp, broker.bootstrap, name, env) as stack:
                stack.start_service("timeliness")
                # Without the inbox the re-posted copies count again: stop at one copy.
                figures[name] = await consume_to_state(stack.ports["timeliness"], events)
        if latency_s > 0:
            figures["latency"] = await steady_latency(tmp, engine, latency_s)
    finally:
        broker.stop()
    best_ingest = max(v for k, v in figures.items() if k.startswith("ingest_"))
    result: dict[str, Any] = {
        "date": datetime.now(UTC).date().isoformat(),
        "broker": broker_label(broker),
        "database": db,
        "events": events,
        "batch": batch,
        "published_copies": published,
        "cpus": os.cpu_count(),
        "versions": versions(),
        "events_per_s": {k: round(v, 1) for k, v in figures.items() if k != "latency"},
        "ratios": {
            **{k: round(v / produce, 3) for k, v in figures.items() if k.startswith("ingest_")},
            "ingest": round(best_ingest / produce, 3),
            "timeliness": round(figures["timeliness"] / consume, 3),
            "timeliness_no_inbox": round(figures["timeliness_no_inbox"] / consume, 3),
        },
        "exactly_once_cost": round(1 - figures["timeliness"] / figures["timeliness_no_inbox"], 3),
    }
    if "latency" in figures:
        result["latency"] = figures["latency"]
    if as_json:
        echo(json.dumps(result, indent=2))
        return 0
    echo(f"{'path':46} {'events/s':>10} {'ratio to raw':>13}")
    labels = {
        "raw_produce": "raw aiokafka produce (pipelined send)",
        "raw_consume_validate": "raw aiokafka consume + validation",
        "timeliness": "timeliness: consume -> DB state (exactly once)",
        "timeliness_no_inbox": "timeliness without inbox (comparison only)",
    }
    for key, rate in result["events_per_s"].items():
        ratio = result["ratios"].get(key)
        name = labels.get(key) or f"ingest: HTTP -> validate -> publish ({key.split('_')[1]} proc)"
        echo(f"{name:46} {rate:10,.0f} {'' if ratio is None else f'{ratio:13.3f}'}")
    echo(f"exactly-once cost: {result['exactly_once_cost']:.1%} of the no-inbox rate")
    if "latency" in result:
        lat = result["latency"]
        echo(
            f"at {lat['rate_events_per_s']:,} events/s: append -> KPI state "
            f"p50 {lat['append_to_state_p50_s']:.3f} s, p99 {lat['append_to_state_p99_s']:.3f} s; "
            f"KPI cell read p50 {1000 * (lat['kpi_cell_read_p50_s'] or 0):.2f} ms"
        )
    return 0


# --- the README's performance section, generated from `bench --json` results -----------

README_START = "<!-- bench:start (generated by `sendwatch bench-readme`; do not edit) -->"
README_END = "<!-- bench:end -->"


def render_results(results: list[dict[str, Any]]) -> str:
    """One table of every run (broker x database), figures as ratios to raw aiokafka
    in the same run, then the latency and exactly-once lines of each run."""
    lines = [
        "| run | raw produce /s | raw consume+validate /s | ingest (1 proc) | ingest (best) "
        "| timeliness | timeliness, no inbox | exactly-once cost |",
        "|---|---|---|---|---|---|---|---|",
    ]
    notes: list[str] = []
    for r in results:
        rates, ratios = r["events_per_s"], r["ratios"]
        run = f"{r['broker']}, {r['database']}, {r['events']:,} events, {r['date']}"
        best = max((k for k in rates if k.startswith("ingest_")), key=lambda k: rates[k])
        lines.append(
            f"| {run} | {rates['raw_produce']:,.0f} | {rates['raw_consume_validate']:,.0f} "
            f"| {rates['ingest_1_worker']:,.0f} ({ratios['ingest_1_worker']:.2f}) "
            f"| {rates[best]:,.0f} ({ratios[best]:.2f}, {best.split('_')[1]} proc) "
            f"| {rates['timeliness']:,.0f} ({ratios['timeliness']:.2f}) "
            f"| {rates['timeliness_no_inbox']:,.0f} ({ratios['timeliness_no_inbox']:.2f}) "
            f"| {r['exactly_once_cost']:.0%} |"
        )
        lat = r.get("latency")
        if lat:
            p50, p99 = lat["append_to_state_p50_s"], lat["append_to_state_p99_s"]
            read = lat["kpi_cell_read_p50_s"]
            notes.append(
                f"- {run}: at a steady {lat['rate_events_per_s']:,} events/s for "
                f"{lat['seconds']:.0f} s, broker append to committed KPI state p50 "
                f"{p50:.3f} s, p99 {p99:.3f} s; one KPI-cell read from the reporting API "
                f"p50 {1000 * (read or 0):.2f} ms ({lat['kpi_cell_reads']} reads)."
            )
    return "\n".join([README_START, *lines, "", *notes, README_END])


def update_readme(readme: Path, results: list[dict[str, Any]]) -> bool:
    """Rewrite the generated block; True when the file changed."""
    text = readme.read_text(encoding="utf-8")
    start, end = text.index(README_START), text.index(README_END) + len(README_END)
    new = text[:start] + render_results(results) + text[end:]
    if new == text:
        return False
    readme.write_text(new, encoding="utf-8")
    return True
