"""What only a real Apache Kafka can show: the broker itself fails mid-stream.

- **Broker restart.** The single node is stopped during a 20,000-event stream and
  started again on the same log directory.  Ingest answers 503 while it is away (the
  source retries the same ids), the services reconnect by themselves, and every event is
  counted exactly once.
- **Leader loss.** In a 3-node cluster (replication factor 3, ``min.insync.replicas=2``)
  the leader of a case-events partition is killed with SIGKILL mid-stream: producers and
  consumers carry on.  Then a second node is killed, so no in-sync quorum exists: ingest
  answers 503, never a false "accepted".  Both come back and nothing is lost or doubled.
- **Idempotent producer.** Ingest runs with ``enable_idempotence=True, acks=all`` on a
  broker that supports it.

Apache Kafka only (Tansu keeps no data across a restart), on SQLite: these are broker
faults, and what PostgreSQL adds to delivery (the inbox and offsets in its transactions,
locks) is shown by the kill -9, rebalance, outage and soak tests on both databases.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx
import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from sendwatch.db import make_engine
from services.timeliness.adapters.orm import TimelinessInbox
from tests.helpers import AUTH, OPERATIONAL, get_json, wait_for
from tests.integration.test_exactly_once import CASES, stream

pytestmark = [
    pytest.mark.brokers("kafka"),
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]


@dataclass
class Poster:
    """Posts the stream in batches of 500, retrying a batch until ingest says 200."""

    url: str
    events: list[dict]
    statuses: Counter[int] = field(default_factory=Counter)
    posted: int = 0
    done: threading.Event = field(default_factory=threading.Event)
    error: list[str] = field(default_factory=list)
    pause: float = 0.0

    def run(self) -> None:
        try:
            with httpx.Client(timeout=90) as client:
                for i in range(0, len(self.events), 500):
                    batch = self.events[i : i + 500]
                    while True:
                        try:
                            r = client.post(self.url, json=batch, headers=AUTH)
                            status = r.status_code
                        except httpx.HTTPError:
                            status = -1
                        self.statuses[status] += 1
                        if status == 200:
                            assert r.json()["accepted"] == len(batch), r.text
                            break
                        assert status in (503, -1), f"unexpected {status}: {r.text[:300]}"
                        if status == 503:
                            assert r.json()["error"] == "broker_unavailable", r.text
                        time.sleep(0.5)
                    self.posted = i + len(batch)
                    time.sleep(self.pause)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error.append(repr(exc))
        finally:
            self.done.set()

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, daemon=True)
        thread.start()
        return thread


def _inbox_rows(database_url: str | None, var_dir) -> int:
    engine = make_engine(database_url or f"sqlite:///{var_dir / 'timeliness.db'}")
    try:
        with Session(engine) as s:
            return int(s.execute(select(func.count()).select_from(TimelinessInbox)).scalar_one())
    finally:
        engine.dispose()


def _assert_counted_once(stack, database_url: str | None) -> None:
    port = stack.ports["timeliness"]
    final = wait_for(
        lambda: (
            (v := get_json(port, "/v1/caseload", OPERATIONAL))["events_applied"] >= 20_000 and v
        ),
        timeout=240,
        every=0.5,
    )
    time.sleep(2)  # anything counted twice would show now
    final = get_json(port, "/v1/caseload", OPERATIONAL)
    assert final["events_applied"] == 20_000
    assert final["cases"] == CASES
    assert final["open_caseload"] == CASES // 2
    assert _inbox_rows(database_url, stack.var_dir) == 20_000


def _idempotent_producer_in_log(stack) -> bool:
    text = (stack.var_dir / "logs" / "ingest.log").read_text(errors="replace")
    return '"producer_configured"' in text and '"idempotent": true' in text


def test_broker_restart_mid_stream_counts_every_event_once(
    stack_factory, broker, database_url, monkeypatch
) -> None:
    monkeypatch.setenv("SENDWATCH_BATCH_MAX", "500")
    monkeypatch.setenv("SENDWATCH_KAFKA_REQUEST_TIMEOUT_MS", "5000")
    stack = stack_factory("timeliness", "ingest")
    assert _idempotent_producer_in_log(stack)
    poster = Poster(f"http://127.0.0.1:{stack.ports['ingest']}/v1/events", stream(), pause=0.05)
    thread = poster.start()
    wait_for(lambda: poster.posted >= 6_000, timeout=120, every=0.05)

    broker.stop_node(1)  # the only node: the whole broker is gone
    down_at = poster.posted
    time.sleep(8)
    assert poster.posted == down_at, "nothing can be accepted while the broker is down"
    assert poster.statuses[503] + poster.statuses[-1] >= 1
    broker.restart_node(1)  # same log directory, same ports

    thread.join(timeout=300)
    assert poster.done.is_set() and not poster.error, poster.error
    _assert_counted_once(stack, database_url)
    # The services reconnected on their own: the same processes are still running.
    assert all(stack.children[n].poll() is None for n in ("timeliness", "ingest"))
    assert get_json(stack.ports["timeliness"], "/healthz")["status"] == "ok"


@pytest.mark.kafka_nodes(3)
def test_leader_loss_in_a_3_node_cluster(stack_factory, broker, database_url, monkeypatch) -> None:
    monkeypatch.setenv("SENDWATCH_BATCH_MAX", "500")
    monkeypatch.setenv("SENDWATCH_KAFKA_REQUEST_TIMEOUT_MS", "5000")
    stack = stack_factory("timeliness", "ingest")
    assert _idempotent_producer_in_log(stack)
    poster = Poster(f"http://127.0.0.1:{stack.ports['ingest']}/v1/events", stream(), pause=0.1)
    thread = poster.start()
    wait_for(lambda: poster.posted >= 4_000, timeout=120, every=0.05)

    # 1. Kill -9 the leader of a case-events partition: one replica lost, two in sync.
    leader = broker.leader_of("sendwatch.case-events.v1", 0)
    broker.kill_node(leader)
    before = poster.posted
    wait_for(lambda: poster.posted >= before + 3_000, timeout=120, every=0.1)
    port = stack.ports["timeliness"]
    applied = get_json(port, "/v1/caseload", OPERATIONAL)["events_applied"]
    wait_for(
        lambda: get_json(port, "/v1/caseload", OPERATIONAL)["events_applied"] > applied, timeout=60
    )

    # 2. Kill a second node: no in-sync quorum, so ingest must refuse (503), not accept.
    second = next(n.node_id for n in broker.nodes if n.running)
    broker.kill_node(second)
    refused_before = poster.statuses[503]
    wait_for(lambda: poster.statuses[503] > refused_before, timeout=60, every=0.2)
    stalled = poster.posted
    time.sleep(6)
    assert poster.posted == stalled, "a batch was accepted with only one replica alive"

    # 3. Both come back; the stream finishes; every event counted exactly once.
    broker.restart_node(leader)
    broker.restart_node(second)
    thread.join(timeout=300)
    assert poster.done.is_set() and not poster.error, poster.error
    _assert_counted_once(stack, database_url)
    assert all(stack.children[n].poll() is None for n in ("timeliness", "ingest"))
