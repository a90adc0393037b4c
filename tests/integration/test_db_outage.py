"""PostgreSQL stops in the middle of a stream and comes back.

The four services share one PostgreSQL server of the test's own (``tests/pg_private.py``:
``initdb`` + ``pg_ctl`` on a free port), so stopping it touches nobody else.  While it is
down every service's ``/healthz`` answers 503 with ``database: unreachable`` (and no
exception text), ingest answers 503 ``database_unavailable`` (never 500, never a false
200); when it is back the same processes recover by themselves: health 200 again, and
every event is counted exactly once.

The outage lasts ``SENDWATCH_TEST_DB_OUTAGE_S`` seconds (30, the issue's figure, unless
set lower to keep a CI run short).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from cli.stack import Stack
from cli.tansu import free_port
from sendwatch.db import make_engine
from services.timeliness.adapters.orm import TimelinessInbox
from tests.helpers import OPERATIONAL, get_json, wait_for
from tests.outage_helpers import RetryingPoster, health, outage_stream
from tests.pg_private import PrivatePostgres

OUTAGE_S = float(os.environ.get("SENDWATCH_TEST_DB_OUTAGE_S", "30"))
SERVICES = ("timeliness", "alerts", "reporting", "ingest")
CASES = 3000


@pytest.fixture
def private_pg() -> Iterator[PrivatePostgres]:
    pg = PrivatePostgres().init()
    try:
        yield pg
    finally:
        pg.destroy()


def _inbox_rows(url: str) -> int:
    engine = make_engine(url)
    try:
        with Session(engine) as s:
            return int(s.execute(select(func.count()).select_from(TimelinessInbox)).scalar_one())
    finally:
        engine.dispose()


# No loss across the outage is a delivery guarantee: Apache Kafka.
@pytest.mark.brokers("kafka")
def test_postgres_outage_mid_stream(broker, private_pg, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SENDWATCH_DATABASE_URL", private_pg.url)
    monkeypatch.setenv("SENDWATCH_KAFKA_SESSION_TIMEOUT_MS", "6000")
    monkeypatch.setenv("SENDWATCH_LAG_INTERVAL_S", "1")
    monkeypatch.setenv("SENDWATCH_BATCH_MAX", "500")
    var = tmp_path / "var"
    (var / "logs").mkdir(parents=True)
    stack = Stack(var_dir=var, bootstrap=broker.bootstrap, ports={n: free_port() for n in SERVICES})
    try:
        for name in SERVICES:
            stack.start_service(name)
        stack.wait_healthy(timeout=120)
        pids = {n: stack.children[n].pid for n in SERVICES}
        events = outage_stream(CASES)
        poster = RetryingPoster(
            f"http://127.0.0.1:{stack.ports['ingest']}/v1/events", events, pause=0.05
        )
        thread = poster.start()
        port = stack.ports["timeliness"]
        wait_for(
            lambda: get_json(port, "/v1/caseload", OPERATIONAL)["events_applied"] >= 1000,
            timeout=120,
            every=0.2,
        )

        private_pg.stop("fast")  # every session ends, as when the server restarts
        down_at = time.monotonic()

        def all_report_the_database() -> bool:
            for name in SERVICES:
                status, body = health(stack.ports[name])
                if status != 503 or body.get("checks", {}).get("database") != "unreachable":
                    return False
                assert "reason" in body and "Error" not in str(body), body
            return True

        wait_for(all_report_the_database, timeout=20, every=0.5)
        stalled = poster.posted
        wait_for(lambda: poster.reasons["database_unavailable"] > 0, timeout=20, every=0.2)
        time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - down_at)))
        assert poster.posted == stalled, "ingest accepted events it could not store"
        assert all_report_the_database()  # still 503 at the end of the outage

        private_pg.start()
        wait_for(
            lambda: all(health(stack.ports[n])[0] == 200 for n in SERVICES),
            timeout=120,
            every=0.5,
        )
        thread.join(timeout=300)
        assert poster.done.is_set() and not poster.error, poster.error
        final = wait_for(
            lambda: (
                (v := get_json(port, "/v1/caseload", OPERATIONAL))["events_applied"] >= len(events)
                and v
            ),
            timeout=180,
            every=0.5,
        )
        time.sleep(2)  # anything counted twice would show now
        final = get_json(port, "/v1/caseload", OPERATIONAL)
        assert final["events_applied"] == len(events)
        assert final["cases"] == CASES
        assert final["open_caseload"] == CASES // 2
        assert _inbox_rows(private_pg.url) == len(events)
        # Reporting caught up with timeliness's last snapshot; alerts is healthy.
        reporting = stack.ports["reporting"]
        wait_for(
            lambda: get_json(reporting, "/v1/status", OPERATIONAL)["events_applied"] == len(events),
            timeout=120,
            every=0.5,
        )
        # The same processes: nobody restarted them.
        assert {n: stack.children[n].pid for n in SERVICES} == pids
        assert all(stack.children[n].poll() is None for n in SERVICES)
        assert poster.statuses[500] == 0
        print(
            f"db outage {OUTAGE_S:.0f}s: {len(events)} events, {CASES} cases, "
            f"503 answers {poster.statuses[503]}, 5xx other than 503: "
            f"{sum(n for s, n in poster.statuses.items() if s >= 500 and s != 503)}"
        )
    finally:
        stack.stop()
        for log in sorted((var / "logs").glob("*.log")):
            text = log.read_text(errors="replace")
            if "Traceback" in text:
                print(f"--- {log.name} ---\n{text[-3000:]}")
