"""The bounded soak of CI: ``sendwatch soak`` at a smaller size.

The simulated county's events are posted to fresh stacks (real broker, fresh databases,
a real SMTP sink): once undisturbed on SQLite, then on SQLite and on PostgreSQL while
timeliness, reporting and alerts are killed with SIGKILL at seeded random moments and
restarted.  The DfE exports, the caseload and every KPI value reporting serves must be
identical to the undisturbed run's, and every notification must have been sent exactly
once, the same ones as in the undisturbed run.

Size: ``SENDWATCH_TEST_SOAK_EVENTS`` events and ``SENDWATCH_TEST_SOAK_KILLS`` kills
(default 50,000 and 10, the issue's CI figures; ``make soak`` runs 200,000 and 20),
from the sources
``SENDWATCH_TEST_SOAK_SOURCES`` (``cases`` by default, ``county`` for every source).
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

from cli.soak import VICTIMS, SoakOptions, run_soaks
from tests.conftest import PG_ADMIN_URL

# The CI figures: 50,000 events and 10 kills (about 11 minutes for the three
# stacks on a loaded 2-core machine; ``SENDWATCH_TEST_SOAK_EVENTS=3000`` and ``..._KILLS=3``
# take about 3 for a quick local run).
EVENTS = int(os.environ.get("SENDWATCH_TEST_SOAK_EVENTS", "50000"))
KILLS = int(os.environ.get("SENDWATCH_TEST_SOAK_KILLS", "10"))
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
