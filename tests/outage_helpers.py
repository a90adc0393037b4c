"""Shared by the outage tests: a poster that retries what ingest refuses, and the
expected result of its stream."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.helpers import AUTH, case_event


def outage_stream(cases: int) -> list[dict[str, Any]]:
    """Every case requested; even cases get their final plan, odd ones a decision to
    assess (still open): ``2 * cases`` events, ``cases // 2`` open at the end."""
    events = [case_event(c, case=c) for c in range(cases)]
    for c in range(cases):
        if c % 2 == 0:
            events.append(case_event(c, "ehc.plan.final-issued", case=c, day=130))
        else:
            events.append(
                case_event(
                    c, "ehc.assessment.decision-to-assess", case=c, day=30, data={"outcome": "Y"}
                )
            )
    return events


@dataclass
class RetryingPoster:
    """Posts ``events`` in batches, re-sending a batch (same ids) until ingest answers
    200.  Only 503 (with one of ``retry_errors``) and connection failures may be retried:
    any other answer, a 500 above all, is recorded as an error."""

    url: str
    events: list[dict[str, Any]]
    batch: int = 250
    pause: float = 0.0
    retry_errors: tuple[str, ...] = ("broker_unavailable", "database_unavailable")
    statuses: Counter[int] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    hold: threading.Event | None = None  # while set, the next batch waits
    posted: int = 0
    done: threading.Event = field(default_factory=threading.Event)
    error: list[str] = field(default_factory=list)

    def run(self) -> None:
        try:
            with httpx.Client(timeout=90) as client:
                for i in range(0, len(self.events), self.batch):
                    chunk = self.events[i : i + self.batch]
                    while self.hold is not None and self.hold.is_set():
                        time.sleep(0.05)
                    while True:
                        try:
                            r = client.post(self.url, json=chunk, headers=AUTH)
                            status = r.status_code
                        except httpx.HTTPError:
                            status = -1
                        self.statuses[status] += 1
                        if status == 200:
                            assert r.json()["accepted"] == len(chunk), r.text[:300]
                            break
                        assert status in (503, -1), f"unexpected {status}: {r.text[:300]}"
                        if status == 503:
                            reason = r.json()["error"]
                            self.reasons[reason] += 1
                            assert reason in self.retry_errors, r.text[:300]
                        time.sleep(0.5)
                    self.posted = i + len(chunk)
                    time.sleep(self.pause)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error.append(repr(exc))
        finally:
            self.done.set()

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, daemon=True)
        thread.start()
        return thread


def health(port: int) -> tuple[int, dict[str, Any]]:
    """(status code, body) of a service's /healthz; (-1, {}) when it does not answer."""
    try:
        r = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
    except httpx.HTTPError:
        return -1, {}
    return r.status_code, r.json()
