"""Schemathesis over every service's OpenAPI on the running system (``make fuzz`` runs
this with ``FUZZ_CASES=100000``; CI runs a bounded number of cases).

All four services run as real processes on a real broker and database, with some case
history posted first so that the read APIs have data to answer with.  Every operation of
each service's ``/openapi.json`` is fuzzed with no token, an unknown one and each role's
token (each source's key at ingest), with valid and invalid inputs, some of them
carrying planted personal values.  It must give no 5xx and no answer that departs from
the document; afterwards the privacy scan finds none of the planted values in any topic,
database or log.
"""

from __future__ import annotations

import os

import httpx

from tests.fuzzing import fuzz
from tests.helpers import AUTH, DECIDE_TO_ASSESS, case_event
from tests.privacy_scan import collect

CASES = int(os.environ.get("FUZZ_CASES", "600"))
WORKERS = int(os.environ.get("FUZZ_WORKERS", "1"))
SEED = int(os.environ.get("FUZZ_SEED", "0"))


def seed_history(ingest: int) -> None:
    """A few cases at several stages, so that caseload, KPIs and alerts have content."""
    events = []
    for n in range(40):
        events.append(case_event(n, day=n % 7))
        if n % 2:
            events.append(
                case_event(1000 + n, DECIDE_TO_ASSESS, case=n, day=30, data={"outcome": "Y"})
            )
    r = httpx.post(f"http://127.0.0.1:{ingest}/v1/events", json=events, headers=AUTH, timeout=30)
    assert r.status_code == 200, r.text


def test_fuzzing_every_api_gives_no_server_error_and_leaks_nothing(
    stack_factory, broker, database_url
) -> None:
    stack = stack_factory("timeliness", "alerts", "reporting", "ingest")
    p = stack.ports
    seed_history(p["ingest"])
    bases = {name: f"http://127.0.0.1:{port}" for name, port in p.items()}
    summary, planted = fuzz(bases, CASES, seed=SEED, workers=WORKERS)
    print("\n" + summary.table())
    # The privacy scan runs whatever the answers were, so a run reports both.
    stores = collect(broker.bootstrap, stack.var_dir, database_url)
    found = stores.leaks(planted.values)
    print(f"privacy scan: {len(planted.values)} planted values, found: {found or 'none'}")
    assert summary.cases >= CASES
    assert set(summary.services) == {"ingest", "timeliness", "reporting", "alerts"}
    assert summary.server_errors == 0, summary.table()
    assert summary.failures == {}, summary.table()
    assert len(planted.values) > 20
    assert stores.topics["sendwatch.dlq.v1"], "nothing was dead-lettered"
    assert found == {}
