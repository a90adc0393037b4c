"""The reliability pieces without a broker: the poison-message path of the consumer
pipeline, consumer health, Kafka client security options, and the plausibility window
in the SEN2 import and the simulator."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka.structs import ConsumerRecord
from sqlalchemy.exc import IntegrityError, OperationalError

from contracts.plausibility import load_window
from sendwatch.bus import (
    KafkaSecurityError,
    LagMonitor,
    faststream_security,
    kafka_client_options,
    make_broker,
)
from sendwatch.config import Settings
from sendwatch.consumer import ConsumerPipeline, PoisonStorm
from sendwatch.health import FAILING, STALLED, ConsumerHealth
from services.ingest.sources.sen2.events import convert_sen2
from services.ingest.sources.sen2.parse import ProblemReason
from services.ingest.sources.sen2.pseudonymise import Pseudonymiser
from services.ingest.sources.simulator.runner import run_simulation

# --- the poison-message path ----------------------------------------------------------


class FakeBroker:
    """Records what the pipeline publishes (the dead-letter topic)."""

    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []

    async def publish(self, body: bytes, topic: str, **_: Any) -> Any:
        self.published.append(json.loads(body))

        async def confirmed() -> None:
            return None

        return confirmed()


def record(offset: int, event_id: str) -> ConsumerRecord[Any, Any]:
    value = json.dumps({"id": event_id}).encode()
    return ConsumerRecord(
        "t", 0, offset, 1_700_000_000_000, 0, None, value, None, 0, len(value), []
    )


@dataclass(frozen=True)
class Item:
    id: str


class Store:
    """A unit of work that applies a list atomically, as the services' do, and fails on
    the ids it is told to."""

    def __init__(self, poison: set[str], error: type[Exception] = ValueError) -> None:
        self.poison = poison
        self.error = error
        self.applied: list[str] = []
        self.calls = 0

    def apply(self, items: list[Item]) -> int:
        self.calls += 1
        ids = [i.id for i in items]
        if self.poison & set(ids):
            if self.error is ValueError:
                raise ValueError("cannot apply")
            raise self.error("INSERT ...", None, Exception("driver error"))
        fresh = [i for i in ids if i not in self.applied]
        self.applied += fresh
        return len(fresh)


def pipeline(store: Store, broker: FakeBroker, **kw: Any) -> ConsumerPipeline[Item]:
    return ConsumerPipeline(
        service="test",
        broker=broker,  # type: ignore[arg-type]
        dlq_topic="dlq",
        parse=lambda r: Item(json.loads(r.value)["id"]),
        apply=store.apply,
        retry_delay_s=0,
        **kw,
    )


async def test_the_poison_message_is_isolated_and_the_rest_applied_in_order() -> None:
    ids = [f"evt-{n:08d}" for n in range(40)]
    store, broker = Store({ids[7], ids[30]}), FakeBroker()
    p = pipeline(store, broker, max_tries=3)
    out = await p.handle([record(n, i) for n, i in enumerate(ids)])
    assert store.applied == [i for i in ids if i not in (ids[7], ids[30])]
    assert (out.applied, out.poisoned, out.duplicates) == (38, 2, 0)
    assert [(d["data"]["reason"], d["data"]["offset"]) for d in broker.published] == [
        ("unprocessable", 7),
        ("unprocessable", 30),
    ]
    letter = broker.published[0]["data"]
    assert letter["original_id"] == ids[7] and letter["message"].startswith("ValueError")
    assert "payload" not in letter
    assert p.health.failures == 0 and p.health.problem() is None
    # Redelivery of the same batch (a crash before the commit): nothing applied twice.
    again = await p.handle([record(n, i) for n, i in enumerate(ids)])
    assert again.applied == 0 and len(store.applied) == 38


async def test_a_constraint_violation_is_the_datas_fault() -> None:
    store, broker = Store({"evt-00000002"}, IntegrityError), FakeBroker()
    out = await pipeline(store, broker).handle([record(n, f"evt-{n:08d}") for n in range(4)])
    assert out.poisoned == 1 and len(store.applied) == 3


async def test_a_database_outage_rewinds_and_dead_letters_nothing() -> None:
    store, broker = Store({"evt-00000001"}, OperationalError), FakeBroker()
    health = ConsumerHealth("g", max_failures=2)
    p = pipeline(store, broker, health=health)
    batch = [record(n, f"evt-{n:08d}") for n in range(3)]
    for n in (1, 2):
        with pytest.raises(OperationalError):
            await p.handle(batch)
        assert health.failures == n
    assert broker.published == [] and store.applied == []
    assert health.problem() == FAILING
    store.poison.clear()
    assert (await p.handle(batch)).applied == 3
    assert health.problem() is None


def test_health_reports_a_stalled_consumer() -> None:
    now = [0.0]
    h = ConsumerHealth("g", stall_s=10, clock=lambda: now[0])
    h.offsets_sampled({"p0": 5}, lag=0)
    now[0] = 100
    h.offsets_sampled({"p0": 5}, lag=0)
    assert h.problem() is None  # no lag: idle, not stalled
    h.offsets_sampled({"p0": 5}, lag=3)
    now[0] = 105
    h.offsets_sampled({"p0": 5}, lag=3)
    assert h.problem() is None
    now[0] = 111
    h.offsets_sampled({"p0": 5}, lag=3)
    assert h.problem() == STALLED
    h.offsets_sampled({"p0": 6}, lag=2)  # it committed: progress
    assert h.problem() is None


# --- Kafka client security --------------------------------------------------------------


def test_kafka_security_options_reach_every_client() -> None:
    assert kafka_client_options(Settings()) == {"security_protocol": "PLAINTEXT"}
    assert faststream_security(Settings()) is None
    with pytest.raises(KafkaSecurityError, match="SENDWATCH_KAFKA_SASL_USERNAME"):
        kafka_client_options(
            Settings.from_env({"SENDWATCH_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT"})
        )
    with pytest.raises(KafkaSecurityError, match="SENDWATCH_KAFKA_SECURITY_PROTOCOL"):
        kafka_client_options(Settings.from_env({"SENDWATCH_KAFKA_SECURITY_PROTOCOL": "TLS"}))
    sasl = Settings.from_env(
        {
            "SENDWATCH_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "SENDWATCH_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "SENDWATCH_KAFKA_SASL_USERNAME": "sendwatch",
            "SENDWATCH_KAFKA_SASL_PASSWORD": "s3cret",
        }
    )
    expected = {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "sendwatch",
        "sasl_plain_password": "s3cret",
    }
    assert kafka_client_options(sasl) == expected
    assert "s3cret" not in repr(sasl)
    # The FastStream broker's consumers and producer, and the lag monitor's clients.
    consumer = make_broker(sasl, "test").config.broker_config.builder.keywords
    assert {k: consumer[k] for k in expected} == expected
    monitor = LagMonitor("kafka:9092", "test", "g", ["t"], client_options=expected)
    assert monitor.client_options == expected


# --- the plausibility window in the imports ---------------------------------------------


def _sen2(requests: str) -> bytes:
    return (
        "<?xml version='1.0' encoding='UTF-8'?><Message><Header><CollectionDetails>"
        "<Collection>SEN2</Collection><Year>2026</Year><ReferenceDate>2026-01-15"
        "</ReferenceDate></CollectionDetails><Source><SourceLevel>L</SourceLevel><LEA>893</LEA>"
        "</Source></Header><Persons><Person><Surname>Tester</Surname><Forename>Alex</Forename>"
        f"<PersonBirthDate>2015-06-01</PersonBirthDate><UPN>A893000000111</UPN>{requests}"
        "</Person></Persons></Message>"
    ).encode()


def test_sen2_requests_with_implausible_dates_are_not_imported() -> None:
    ok = "<Requests><ReceivedDate>2025-03-03</ReceivedDate></Requests>"
    far = (
        "<Requests><ReceivedDate>2025-04-01</ReceivedDate><RequestOutcome>Y</RequestOutcome>"
        "<RequestOutcomeDate>9999-12-31</RequestOutcomeDate></Requests>"
    )
    old = "<Requests><ReceivedDate>1999-12-31</ReceivedDate></Requests>"
    events, summary = convert_sen2(
        _sen2(ok + far + old), Pseudonymiser("unit-test-pseudonym-key-0123"), file_name="f.xml"
    )
    assert {e["time"][:10] for e in events} == {"2025-03-03"}
    problems = [(p.request, p.reason, p.field) for p in summary.problems]
    assert (2, ProblemReason.DATE_OUT_OF_RANGE, "RequestOutcomeDate") in problems
    assert (3, ProblemReason.DATE_OUT_OF_RANGE, "ReceivedDate") in problems
    assert summary.errors == 2
    assert all("9999" not in p.message and "1999-12-31" not in p.message for p in summary.problems)


async def test_the_simulator_stops_at_the_end_of_the_window(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SENDWATCH_TIME_FUTURE_DAYS", "3")
    load_window.cache_clear()
    try:
        latest = load_window().latest(datetime.now(UTC))
        times: list[datetime] = []

        def ingest(request: httpx.Request) -> httpx.Response:
            body = json.loads(request.content)
            events = body if isinstance(body, list) else body.get("events", [body])
            times.extend(datetime.fromisoformat(e["time"]) for e in events)
            return httpx.Response(200, json={"accepted": len(events), "rejected": 0})

        stats = await run_simulation(
            "http://ingest.test",
            "key",
            start=latest - timedelta(days=20),
            speed=86400.0 * 365,
            days=None,  # unbounded: only the window stops it
            transport=httpx.MockTransport(ingest),
            tick=0.005,
        )
        assert stats.ticks > 0 and times
        assert max(times).date() <= latest
        with pytest.raises(ValueError, match="plausibility window"):
            await run_simulation("http://ingest.test", "key", start=latest, days=1)
        with pytest.raises(ValueError, match="plausibility window"):
            await run_simulation("http://ingest.test", "key", start=date(2000, 2, 1), days=1)
    finally:
        monkeypatch.undo()
        load_window.cache_clear()


async def test_a_storm_of_failures_is_not_dead_lettered_wholesale() -> None:
    """When every message fails (the state, not the data, is broken), only a bounded
    number is dead-lettered before the pipeline rewinds and reports itself failing."""
    ids = [f"evt-{n:08d}" for n in range(30)]
    store, broker = Store(set(ids)), FakeBroker()
    p = pipeline(store, broker, max_poison_streak=4)
    with pytest.raises(PoisonStorm):
        await p.handle([record(n, i) for n, i in enumerate(ids)])
    assert broker.published == []  # the batch is rewound: none of it is dead-lettered
    assert p.health.failures == 1
