"""Idempotency at ingest keys on (source, id) with a digest of the content: a retry of
the same event is accepted (and applied once downstream); the same id with other content
is a conflict, 409 for that item, and dead-lettered.  Another source may use the same
id.  The timeliness inbox keys on (source, id) too (real broker, SQLite and PostgreSQL)."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from sendwatch.db import make_engine
from services.timeliness.adapters.orm import TimelinessInbox
from tests.helpers import AUTH, OPERATIONAL, case_event, get_json, read_topic, wait_for

DLQ = "sendwatch.dlq.v1"
SEN2 = {"Authorization": "Bearer dev-sen2-import-key"}


@pytest.mark.brokers("tansu")
def test_same_id_other_content_is_a_conflict(stack_factory, broker, database_url) -> None:
    stack = stack_factory("timeliness", "ingest")
    url = f"http://127.0.0.1:{stack.ports['ingest']}/v1/events"
    first = case_event(1, case=1)
    assert httpx.post(url, json=[first], headers=AUTH, timeout=30).status_code == 200
    # A retry of the same event (ingest stamps `recorded` anew): accepted.
    assert httpx.post(url, json=[first], headers=AUTH, timeout=30).status_code == 200

    changed = {**first, "data": {**first["data"], "locality": "oswestry"}}
    r = httpx.post(url, json=[changed], headers=AUTH, timeout=30)
    assert r.status_code == 409, r.text
    (item,) = r.json()["results"]
    assert (item["reason"], item["code"], item["field"]) == ("conflict", 409, "id")

    # In a batch: the conflict is one item's answer, its neighbours go in.
    r = httpx.post(url, json=[changed, case_event(2, case=2)], headers=AUTH, timeout=30)
    assert r.status_code == 207
    assert [x["status"] for x in r.json()["results"]] == ["rejected", "accepted"]
    (letter, _) = read_topic(broker.bootstrap, DLQ, expect=2)
    assert letter["data"]["reason"] == "conflict"
    assert letter["data"]["original_id"] == first["id"]

    # Another source may use the same id: both are applied.
    other = {**case_event(3, case=3), "id": first["id"], "source": "sen2-import"}
    assert httpx.post(url, json=[other], headers=SEN2, timeout=30).status_code == 200
    wait_for(
        lambda: (
            get_json(stack.ports["timeliness"], "/v1/caseload", OPERATIONAL)["events_applied"] == 3
        ),
        timeout=30,
    )
    engine = make_engine(database_url or f"sqlite:///{stack.var_dir / 'timeliness.db'}")
    with Session(engine) as s:
        assert s.execute(select(func.count()).select_from(TimelinessInbox)).scalar_one() == 3
    engine.dispose()
