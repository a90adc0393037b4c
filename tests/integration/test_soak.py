"""The bounded soak of CI: ``sendwatch soak`` at a smaller size.

The simulated county's events are posted twice, each time to a fresh stack (real broker,
fresh databases, a real SMTP sink): once undisturbed, once while timeliness, reporting
and alerts are killed with SIGKILL at seeded random moments and restarted.  The DfE
exports, the caseload and every KPI value reporting serves must be identical, and every
notification must have been sent exactly once, the same ones as in the clean run.

Size: ``SENDWATCH_TEST_SOAK_EVENTS`` events and ``SENDWATCH_TEST_SOAK_KILLS`` kills
(default 3,000 and 3; the issue's CI figures are 50,000 and 10, and ``make soak`` runs
200,000 and 20), from the sources
``SENDWATCH_TEST_SOAK_SOURCES`` (``cases`` by default, ``county`` for every source).
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

from cli.soak import VICTIMS, SoakOptions, run_soaks
from tests.conftest import PG_ADMIN_URL

# The issue asks 50,000 events and 10 kills of CI; on a 2-core machine under load that
# takes about 11 minutes per database (both stacks), and 3,000 events (the history and
# the first simulated day) about 2, so the default is the smaller size and CI sets the
# issue's figures where it has the time.
EVENTS = int(os.environ.get("SENDWATCH_TEST_SOAK_EVENTS", "3000"))
KILLS = int(os.environ.get("SENDWATCH_TEST_SOAK_KILLS", "3"))
# cases: the case events and the programme office's (``make soak`` posts every source)
SOURCES = os.environ.get("SENDWATCH_TEST_SOAK_SOURCES", "cases")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(7200)]


def _postgres_or_skip() -> str:
    import psycopg

    try:
        psycopg.connect(PG_ADMIN_URL, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc}")
    return PG_ADMIN_URL


# It claims delivery guarantees (nothing lost or doubled across kills): Apache Kafka.
# One clean run (SQLite) is the reference for a run with kills on each database: what
# reporting serves and what is mailed depend on the events alone, not on the database.
@pytest.mark.brokers("kafka")
def test_soak_under_sigkills_matches_a_clean_run_on_both_databases(
    broker_engine: str, tmp_path: Path
) -> None:
    if broker_engine == "kafka":
        from tests.helpers import kafka_or_skip

        kafka_or_skip()
    options = SoakOptions(
        events=EVENTS,
        kills=KILLS,
        seed=42,
        broker=broker_engine,
        database=None,
        var_dir=tmp_path / "soak",
        sources=SOURCES,
    )
    reports = run_soaks(options, [None, _postgres_or_skip()], say=print)
    assert [r.database for r in reports] == ["SQLite", "PostgreSQL"]
    for report in reports:
        print("\n".join(report.lines()))
        assert report.ok, (report.database, report.problems)
        assert report.events >= EVENTS
        assert len(report.kills) == KILLS
        if len(VICTIMS) <= KILLS:
            assert set(Counter(v for _, v in report.kills)) == set(VICTIMS)
        assert report.server_errors == 0
        # Not vacuous: there were cases, KPI values and mail to compare.
        assert report.cases > 0 and report.kpi_values > 0
        assert report.notifications > 0
