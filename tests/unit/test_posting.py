"""The ingest client the imports share: batches, retries with back-off, rejections
reported against the item they came from, answers recorded in batch order."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from services.ingest.sources import posting


class Refused(posting.IngestPostError):
    pass


@dataclass
class Tally(posting.PostTally):
    error = Refused
    problems: list[tuple[int, str]] = field(default_factory=list)

    def reject(self, item: tuple[int, dict[str, Any]], result: dict[str, Any]) -> None:
        self.problems.append((item[0], str(result.get("reason"))))


def _items(n: int) -> list[tuple[int, dict[str, Any]]]:
    return [
        (line, {"id": f"e{line}", "type": "bad" if line % 4 == 0 else "ok"})
        for line in range(1, n + 1)
    ]


class Ingest:
    """Answers like ingest: an event of type ``bad`` is rejected; the first
    ``fail_first`` requests get a 503; batch n sleeps (n % 3) * 10 ms, so answers of
    concurrent batches come out of order."""

    def __init__(self, fail_first: int = 0, status: int | None = None) -> None:
        self.fail_first = fail_first
        self.status = status
        self.bodies: list[list[dict[str, Any]]] = []
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        import json

        body = json.loads(request.content)
        with self.lock:
            n = len(self.bodies)
            self.bodies.append(body)
        if n < self.fail_first:
            return httpx.Response(503, json={"error": "unavailable", "message": "later"})
        if self.status is not None:
            return httpx.Response(self.status, json={"error": "forbidden_source", "message": "x"})
        if n % 3:
            time.sleep((n % 3) * 0.01)
        results = [
            {"index": i, "id": e["id"], "status": "accepted"}
            if e["type"] == "ok"
            else {"index": i, "id": e["id"], "status": "rejected", "reason": "invalid"}
            for i, e in enumerate(body)
        ]
        return httpx.Response(207, json={"results": results})


def _post(ingest: Ingest, tally: Tally, n: int, size: int, in_flight: int = 1) -> None:
    with httpx.Client(transport=httpx.MockTransport(ingest)) as http:
        poster = posting.EventPoster(
            http, "http://ingest/", "key", tally, lambda item: item[1], in_flight=in_flight
        )
        poster.post_all(posting.chunked(_items(n), size))


@pytest.mark.parametrize("in_flight", [1, 3])
def test_batches_are_recorded_in_order_with_rejections_by_line(in_flight: int) -> None:
    tally = Tally()
    ingest = Ingest()
    _post(ingest, tally, 23, 5, in_flight)
    assert sorted(len(b) for b in ingest.bodies) == [3, 5, 5, 5, 5]
    assert tally.batches == 5 and tally.accepted == 18 and tally.rejected == 5
    assert tally.problems == [
        (4, "invalid"),
        (8, "invalid"),
        (12, "invalid"),
        (16, "invalid"),
        (20, "invalid"),
    ]
    assert tally.accepted_ids == [f"e{n}" for n in range(1, 24) if n % 4]


def test_a_503_is_retried_with_the_same_batch_after_a_back_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slept: list[float] = []
    monkeypatch.setattr(posting.time, "sleep", slept.append)
    tally = Tally()
    ingest = Ingest(fail_first=3)
    _post(ingest, tally, 4, 10)
    assert tally.retries == 3 and slept == [0.5, 1.0, 2.0]
    assert all(body == ingest.bodies[0] for body in ingest.bodies) and len(ingest.bodies) == 4
    assert tally.accepted == 3 and tally.problems == [(4, "invalid")]


def test_errors_are_the_imports_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(posting.time, "sleep", lambda s: None)
    with pytest.raises(Refused, match="kept answering HTTP 503"):
        _post(Ingest(fail_first=99), Tally(), 4, 10)
    with pytest.raises(Refused, match="refused the import: HTTP 403 forbidden_source"):
        _post(Ingest(status=403), Tally(), 4, 10)


def test_wait_needs_the_timeliness_url_and_batch_sizes_are_bounded() -> None:
    assert posting.WaitFor.option({"timeliness_url": "http://t"}) is None
    with pytest.raises(ValueError, match="timeliness URL"):
        posting.WaitFor.option({"wait": True, "reporting_url": "http://r"})
    waiting = posting.WaitFor.option({"wait": True, "timeliness_url": "http://t", "token": "x"})
    assert waiting == posting.WaitFor("http://t", None, None, 600.0, 1.0, "x")
    with pytest.raises(ValueError, match="batch_size"):
        posting.check_batch_size(posting.MAX_BATCH + 1)
    assert list(posting.chunked(range(5), 2)) == [[0, 1], [2, 3], [4]]


def test_text_is_sent_as_it_is_and_a_batch_of_conflicts_is_reported_by_line() -> None:
    seen: list[bytes] = []

    def conflicts(request: httpx.Request) -> httpx.Response:
        seen.append(request.content)
        results = [{"index": 0, "id": "e1", "status": "rejected", "reason": "conflict"}]
        return httpx.Response(409, json={"results": results})

    tally = Tally()
    with httpx.Client(transport=httpx.MockTransport(conflicts)) as http:
        poster = posting.TextPoster(http, "http://ingest", "key", tally, lambda item: item[1])
        poster.post_all([[(7, '{"id": "e1",  "type": "ok"}')]])
    assert seen == [b'[{"id": "e1",  "type": "ok"}]']  # not decoded and encoded again
    assert tally.problems == [(7, "conflict")] and tally.rejected == 1


def test_an_answer_without_per_event_results_is_not_taken_as_confirmed() -> None:
    def bare(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"accepted": 1})

    with httpx.Client(transport=httpx.MockTransport(bare)) as http:
        poster = posting.EventPoster(http, "http://ingest", "key", Tally(), lambda item: item[1])
        with pytest.raises(Refused, match="without per-event results"):
            poster.post_all([_items(1)])
