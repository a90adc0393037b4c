"""A bad item never costs its valid neighbours and a status never lies: deeply nested
JSON and text that is not valid Unicode (a lone surrogate) in one batch with valid
events, through the API and through `sendwatch ingest`."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest

from tests.helpers import AUTH, case_event, read_topic

DLQ = "sendwatch.dlq.v1"
CASE_EVENTS = "sendwatch.case-events.v1"


def deep(n: int, i: int = 1) -> str:
    return f'{{"id": "evt-deep-{i:08d}", "data": ' + "[" * n + "]" * n + "}"


def surrogate(n: int) -> str:
    # json.dumps would escape it the same way: "\ud800" is valid JSON, not valid text.
    return json.dumps(case_event(n)).replace(f"evt-received-{n:08d}", f"evt-\\ud800-{n:08d}")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_deep_and_surrogate_items_are_rejected_alone(stack_factory, broker, tmp_path) -> None:
    stack = stack_factory("ingest")
    url = f"http://127.0.0.1:{stack.ports['ingest']}"
    goods = [json.dumps(case_event(i)) for i in (1, 2, 3)]
    body = "[" + ",".join([goods[0], deep(950), surrogate(7), goods[1], deep(20_000, 2)])
    body += "," + goods[2] + "]"
    r = httpx.post(
        f"{url}/v1/events",
        content=body.encode(),
        headers={**AUTH, "Content-Type": "application/json"},
        timeout=30,
    )
    assert r.status_code == 207, r.text
    results = r.json()["results"]
    assert [x["status"] for x in results] == [
        "accepted",
        "rejected",
        "rejected",
        "accepted",
        "rejected",
        "accepted",
    ]
    assert [x.get("reason") for x in results if x["status"] == "rejected"] == [
        "too_deep",
        "invalid_value",
        "too_deep",
    ]
    assert results[2]["field"] == "id"
    letters = read_topic(broker.bootstrap, DLQ, expect=3)
    assert sorted(m["data"]["reason"] for m in letters) == [
        "invalid_value",
        "too_deep",
        "too_deep",
    ]
    stored = read_topic(broker.bootstrap, CASE_EVENTS, expect=3)
    assert sorted(m["id"] for m in stored) == [f"evt-received-{i:08d}" for i in (1, 2, 3)]

    # The command line sends the lines as they are and reports each bad one by number.
    path = tmp_path / "events.jsonl"
    lines = [json.dumps(case_event(i)) for i in (11, 12)]
    lines.insert(1, deep(5_000, 3))  # line 2
    lines.insert(2, surrogate(13))  # line 3
    path.write_text("\n".join(lines) + "\n")
    proc = subprocess.run(
        [sys.executable, "-m", "cli", "ingest", str(path), "--url", url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "line 2: too_deep" in proc.stderr and "line 3: invalid_value (id)" in proc.stderr
    assert "4 lines: 2 accepted, 2 rejected" in proc.stdout
