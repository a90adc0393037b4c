"""Hypothesis over every contract, through ingest's real validation on the running
system (``make fuzz`` runs more batches: ``FUZZ_BATCHES``).

Each example is a batch for one source: events of every type the source may send,
drawn valid from their contracts (``tests/contract_strategies.py``), mixed with events
carrying one known defect each (a missing or unknown field, an implausible or malformed
time, personal data in the subject, an unknown type, another source's name, a body that
is not an object) and with items that are not objects at all.  Ingest must never answer
5xx; it must accept every valid event and reject every defective one with the reason
the defect calls for, naming the field; the batch's status must say what happened
(200, 207, 422, or 403 when every event names another source).  Afterwards: the
dead-letter topic holds exactly one letter per rejection, by reason, none holding a
posted personal value; timeliness has folded every accepted event without
dead-lettering one; and the privacy scan finds no planted value in any topic, database
or log.
"""

from __future__ import annotations

import itertools
import os
from collections import Counter
from typing import Any

import httpx
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from contracts.events import load_events
from tests.contract_strategies import DEFECTS, KEYS, PLANTED, source_of, valid_events
from tests.helpers import wait_for
from tests.privacy_scan import collect

BATCHES = int(os.environ.get("FUZZ_BATCHES", "60"))
NOT_OBJECTS = st.sampled_from([42, "an event", None, [1, {"type": "x"}], True])


def by_source() -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for spec in load_events().specs.values():
        out.setdefault(source_of(spec.type), []).append(spec)
    return out


def test_every_contract_valid_and_invalid_through_ingest(stack_factory, broker, database_url):
    stack = stack_factory("timeliness", "alerts", "ingest")
    url = f"http://127.0.0.1:{stack.ports['ingest']}/v1/events"
    groups = by_source()
    assert {s.type for specs in groups.values() for s in specs} == set(load_events().specs)
    strategies = {src: st.one_of([valid_events(s) for s in specs]) for src, specs in groups.items()}
    numbers = itertools.count()
    expected: Counter[str] = Counter()
    accepted_total = 0
    statuses: Counter[int] = Counter()
    seen_types: set[str] = set()

    @st.composite
    def batch(draw: Any) -> tuple[str, list[tuple[Any, str | None, str | None]]]:
        source = draw(st.sampled_from(sorted(groups)))
        items = []
        for _ in range(draw(st.integers(1, 8))):
            choice = draw(st.integers(0, 9))
            if choice == 9:
                items.append((draw(NOT_OBJECTS), "not_an_object", None))
                continue
            event = draw(strategies[source])
            event["id"] = f"evt-fz{next(numbers):012d}"
            if choice < 5:
                items.append((event, None, None))
                continue
            name, reason, mutate = draw(st.sampled_from(DEFECTS))
            field = {"no subject": "subject", "no time": "time"}.get(name)
            items.append((mutate(event, draw), reason, field))
        return source, items

    @settings(
        max_examples=BATCHES,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(batch())
    def post(drawn: tuple[str, list[tuple[Any, str | None, str | None]]]) -> None:
        nonlocal accepted_total
        source, items = drawn
        body = [item for item, _, _ in items]
        r = httpx.post(
            url, json=body, headers={"Authorization": f"Bearer {KEYS[source]}"}, timeout=60
        )
        statuses[r.status_code] += 1
        assert r.status_code < 500, r.text
        results = r.json()["results"]
        assert len(results) == len(items)
        for (item, reason, field), result in zip(items, results, strict=True):
            if reason is None:
                assert result["status"] == "accepted", (item, result)
                accepted_total += 1
                seen_types.add(item["type"])
                continue
            assert result["status"] == "rejected", (item, result)
            assert result["reason"] == reason, (item, result)
            assert result["message"], result
            if field is not None:
                assert result["field"] == field, result
            if reason == "personal_data":
                assert result["field"] == "subject" and result["id"] == item["id"]
            expected[reason] += 1
        ok = [res["status"] == "accepted" for res in results]
        if all(ok):
            assert r.status_code == 200
        elif any(ok):
            assert r.status_code == 207
        elif all(res["reason"] == "forbidden_source" for res in results):
            assert r.status_code == 403
        else:
            assert r.status_code == 422

    post()
    print(
        f"\ncontract fuzz: {BATCHES} batches, {accepted_total} accepted, "
        f"{sum(expected.values())} rejected {dict(expected)}, statuses {dict(statuses)}, "
        f"types accepted {len(seen_types)} of {len(load_events().specs)}"
    )
    assert accepted_total > 0 and sum(expected.values()) > 0
    if BATCHES >= 1000:  # the full run reaches every type
        assert seen_types == set(load_events().specs)

    # Every rejection is dead-lettered with its reason, and nothing else from ingest.
    dead = collect(broker.bootstrap, stack.var_dir, database_url, topics=["sendwatch.dlq.v1"])
    by_ingest = [d for d in dead.topics["sendwatch.dlq.v1"] if _rejected_by(d) == "ingest"]
    assert Counter(d["data"]["reason"] for d in by_ingest) == expected
    # Every accepted event was folded by timeliness without a dead letter.
    ports = stack.ports
    wait_for(
        lambda: (
            httpx.get(f"http://127.0.0.1:{ports['timeliness']}/healthz", timeout=5).status_code
            == 200
        ),
        timeout=60,
    )
    later = collect(broker.bootstrap, stack.var_dir, database_url)
    assert [d for d in later.topics["sendwatch.dlq.v1"] if _rejected_by(d) != "ingest"] == []
    assert PLANTED and later.leaks(PLANTED) == {}


def _rejected_by(letter: dict[str, Any]) -> str | None:
    return letter.get("source")
