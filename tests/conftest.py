"""Shared fixtures: a real Kafka-protocol broker and real databases.

Integration tests start a broker on free loopback ports and the services as real
processes (``python -m cli serve``), so consumer groups, commits, crashes and
restarts are the real thing.  Every database test runs on SQLite and on PostgreSQL.

The broker is Tansu by default.  A test marked ``@pytest.mark.brokers`` runs on Tansu
and on Apache Kafka (KRaft, single node), ``@pytest.mark.brokers("kafka")`` on Apache
Kafka only.  Where Java or Kafka's jars are missing those cases skip with the reason;
under CI (``CI`` set) they fail instead, because CI must have both.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.kafka import KafkaCluster, start_kafka
from cli.stack import Stack
from cli.tansu import TansuBroker, free_port, start_tansu
from tests.helpers import kafka_or_skip

BROKER_ENGINES = ("tansu", "kafka")

PG_ADMIN_URL = os.environ.get(
    "SENDWATCH_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "broker_engine" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("brokers")
    engines = (marker.args or BROKER_ENGINES) if marker else ("tansu",)
    metafunc.parametrize("broker_engine", engines)


@pytest.fixture
def broker(
    broker_engine: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[TansuBroker | KafkaCluster]:
    """A fresh broker per test: Tansu (in memory) or Apache Kafka, one node unless the
    test is marked ``@pytest.mark.kafka_nodes(3)``."""
    if broker_engine == "tansu":
        tansu = start_tansu()
        try:
            yield tansu
        finally:
            tansu.stop()
        return
    kafka_or_skip()
    marker = request.node.get_closest_marker("kafka_nodes")
    nodes = marker.args[0] if marker else 1
    cluster = start_kafka(nodes, tmp_path / "kafka", log_file=tmp_path / "kafka.log")
    try:
        yield cluster
    finally:
        cluster.stop(graceful=False)


def _pg_database() -> Iterator[str]:
    import psycopg

    name = f"sendwatch_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | None]:
    """None means the default: one SQLite file per service under the var dir."""
    if request.param == "sqlite":
        yield None
    else:
        yield from _pg_database()


@pytest.fixture
def stack_factory(
    broker: TansuBroker | KafkaCluster,
    tmp_path: Path,
    database_url: str | None,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[object]:
    """Start chosen services as real processes against the test broker and database."""
    monkeypatch.setenv("SENDWATCH_KAFKA_SESSION_TIMEOUT_MS", "6000")
    monkeypatch.setenv("SENDWATCH_LAG_INTERVAL_S", "1")
    if database_url:
        monkeypatch.setenv("SENDWATCH_DATABASE_URL", database_url)
    else:
        monkeypatch.delenv("SENDWATCH_DATABASE_URL", raising=False)
    var = tmp_path / "var"
    (var / "logs").mkdir(parents=True)
    stack = Stack(
        var_dir=var,
        bootstrap=broker.bootstrap,
        ports={n: free_port() for n in ("ingest", "timeliness", "alerts", "reporting")},
    )

    def start(*names: str) -> Stack:
        for name in names:
            stack.start_service(name)
        stack.wait_healthy()
        return stack

    try:
        yield start
    finally:
        stack.stop()
        for log in sorted((var / "logs").glob("*.log")):
            text = log.read_text(errors="replace")
            if "Traceback" in text:
                print(f"--- {log.name} ---\n{text[-4000:]}")
