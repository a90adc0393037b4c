"""The broker is missing when the services start, and goes away mid-stream.

1. **At start.** The four services start before their broker: each waits, retrying with
   exponential back-off (``broker_unreachable`` in its log), none exits, and ingest
   accepts nothing (it does not listen until its broker is there).  The broker starts
   several seconds later and every service becomes healthy by itself.
2. **Mid-stream.** The broker is killed with SIGKILL while events are posted: ingest
   answers 503 ``broker_unavailable`` (never a false 200, never a 500) and ``/healthz``
   reports ``broker: unreachable``; the broker restarts on the same port and the same
   processes carry on.  At the end every event is counted exactly once.

On Apache Kafka the broker is killed with SIGKILL and restarted on its log directory.
Tansu keeps nothing across a restart (memory storage only), so a restart would lose
what it held whatever the services do; there the outage is a frozen broker (SIGSTOP,
then SIGCONT): the port still accepts connections but nothing answers, the harder case
for clients, which must time out rather than wait for ever.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx
import pytest

from cli.kafka import KafkaCluster, start_kafka
from cli.stack import Stack
from cli.tansu import TansuBroker, free_port, start_tansu
from tests.helpers import AUTH, OPERATIONAL, get_json, kafka_or_skip, wait_for
from tests.outage_helpers import RetryingPoster, health, outage_stream

pytestmark = pytest.mark.brokers
SERVICES = ("timeliness", "alerts", "reporting", "ingest")
CASES = 3000
LATE_S = 8.0  # how long the services wait for their broker at start
DOWN_S = 8.0  # how long the broker is away mid-stream


class LateBroker:
    """A broker on ports chosen in advance, started late, killed and restarted there."""

    def __init__(self, engine: str, base: Path) -> None:
        self.engine = engine
        self.base = base
        self.ports = [free_port(), free_port()]
        self.tansu: TansuBroker | None = None
        self.kafka: KafkaCluster | None = None
        if engine == "kafka":
            kafka_or_skip()

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.ports[0]}"

    def start(self) -> None:
        log = self.base / "logs" / f"{self.engine}.log"
        if self.engine == "kafka":
            self.kafka = start_kafka(1, self.base / "kafka", log_file=log, ports=self.ports)
        else:
            self.tansu = start_tansu(self.ports[0], log_file=log)

    def kill(self) -> None:
        """Apache Kafka: SIGKILL.  Tansu: SIGSTOP (it would lose its data on a restart)."""
        if self.kafka is not None:
            self.kafka.kill_node(1)
        elif self.tansu is not None:
            self.tansu.process.send_signal(signal.SIGSTOP)

    def restart(self) -> None:
        if self.kafka is not None:
            self.kafka.restart_node(1)
        elif self.tansu is not None:
            self.tansu.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.kafka is not None:
            self.kafka.stop(graceful=False)
        if self.tansu is not None:
            self.tansu.process.send_signal(signal.SIGCONT)
            self.tansu.stop()


def _applied(port: int) -> int:
    return int(get_json(port, "/v1/caseload", OPERATIONAL)["events_applied"])


def test_broker_missing_at_start_and_lost_mid_stream(
    broker_engine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENDWATCH_KAFKA_SESSION_TIMEOUT_MS", "6000")
    monkeypatch.setenv("SENDWATCH_LAG_INTERVAL_S", "1")
    monkeypatch.setenv("SENDWATCH_BATCH_MAX", "500")
    monkeypatch.setenv("SENDWATCH_KAFKA_REQUEST_TIMEOUT_MS", "5000")
    monkeypatch.delenv("SENDWATCH_DATABASE_URL", raising=False)
    var = tmp_path / "var"
    (var / "logs").mkdir(parents=True)
    broker = LateBroker(broker_engine, var)
    stack = Stack(var_dir=var, bootstrap=broker.bootstrap, ports={n: free_port() for n in SERVICES})
    events = outage_stream(CASES)
    try:
        # 1. The services start first and wait for their broker.
        for name in SERVICES:
            stack.start_service(name)
        time.sleep(LATE_S)
        assert all(stack.children[n].poll() is None for n in SERVICES), "a service gave up"
        ingest_url = f"http://127.0.0.1:{stack.ports['ingest']}/v1/events"
        with pytest.raises(httpx.TransportError):  # nothing accepted without a broker
            httpx.post(ingest_url, json=events[:10], headers=AUTH, timeout=5)

        def waiting(name: str) -> bool:
            log = (var / "logs" / f"{name}.log").read_text(errors="replace")
            return log.count('"broker_unreachable"') >= 2  # it retried, it did not give up

        for name in SERVICES:
            wait_for(lambda name=name: waiting(name), timeout=90, every=0.5)
        assert all(stack.children[n].poll() is None for n in SERVICES), "a service gave up"
        broker.start()
        stack.wait_healthy(timeout=180)
        pids = {n: stack.children[n].pid for n in SERVICES}

        # 2. Mid-stream the broker is killed, and restarted on the same port.
        poster = RetryingPoster(
            ingest_url, events, pause=0.05, retry_errors=("broker_unavailable",)
        )
        thread = poster.start()
        port = stack.ports["timeliness"]
        wait_for(lambda: poster.posted >= 2000, timeout=120, every=0.05)
        broker.kill()
        wait_for(lambda: poster.reasons["broker_unavailable"] + poster.statuses[-1] > 0, 30)
        wait_for(
            lambda: (
                health(stack.ports["ingest"])[1].get("checks", {}).get("broker") == "unreachable"
            ),
            timeout=30,
        )
        down_at = poster.posted  # a batch in flight at the kill may have been confirmed
        time.sleep(DOWN_S)
        assert poster.posted == down_at, "ingest accepted events while the broker was down"
        broker.restart()

        thread.join(timeout=300)
        assert poster.done.is_set() and not poster.error, poster.error
        wait_for(lambda: _applied(port) >= len(events), timeout=240, every=0.5)
        time.sleep(2)  # anything counted twice would show now
        final = get_json(port, "/v1/caseload", OPERATIONAL)
        assert final["events_applied"] == len(events)
        assert final["cases"] == CASES
        assert final["open_caseload"] == CASES // 2
        reporting = stack.ports["reporting"]
        wait_for(
            lambda: get_json(reporting, "/v1/status", OPERATIONAL)["events_applied"] == len(events),
            timeout=120,
            every=0.5,
        )
        wait_for(lambda: all(health(stack.ports[n])[0] == 200 for n in SERVICES), timeout=120)
        assert {n: stack.children[n].pid for n in SERVICES} == pids  # nobody restarted them
        assert poster.statuses[500] == 0
        print(
            f"broker outage ({broker_engine}): {len(events)} events, {CASES} cases, "
            f"503 answers {poster.statuses[503]}, refused connections {poster.statuses[-1]}, "
            f"other 5xx {sum(n for s, n in poster.statuses.items() if s >= 500 and s != 503)}"
        )
    finally:
        stack.stop()
        broker.stop()
        for log in sorted((var / "logs").glob("*.log")):
            text = log.read_text(errors="replace")
            if "Traceback" in text:
                print(f"--- {log.name} ---\n{text[-3000:]}")
