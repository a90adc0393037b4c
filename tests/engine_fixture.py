"""The measure-engine fixture (``tests/fixtures/engine``): a KPI of every kind defined in
YAML only, with fixture event types for the domains whose contracts are being written.
Builders for its events and a handler configuration over it."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from contracts.clock_rules import ClockRules, load_clocks
from contracts.events import EventRegistry, load_events
from contracts.kpi_dictionary import KpiDictionary, load_kpis
from services.timeliness.domain.engine import Engine
from services.timeliness.service_layer import handlers
from services.timeliness.service_layer.messages import Topics

FIXTURE = Path(__file__).parent / "fixtures" / "engine"
KPIS_FILE = FIXTURE / "kpis.yaml"
CLOCKS_FILE = FIXTURE / "clocks.yaml"
EVENTS_FILE = FIXTURE / "events.yaml"
SOURCE = "fixture-feed"
LONDON = ZoneInfo("Europe/London")
TOPIC_OF = {  # the topic each fixture subject kind's events travel on (events.yaml)
    "referral": "referral-events",
    "complaint": "referral-events",
    "person": "placement-events",
    "service": "placement-events",
    "figure": "placement-events",
    "case": "case-events",
}

_ids = itertools.count(1)


def dictionary() -> KpiDictionary:
    return load_kpis(str(KPIS_FILE))


def rules() -> ClockRules:
    return load_clocks(str(CLOCKS_FILE))


def registry() -> EventRegistry:
    return load_events(str(EVENTS_FILE))


def engine() -> Engine:
    return Engine(dictionary(), rules(), registry())


def config() -> handlers.Config:
    reg = registry()
    return handlers.Config(Engine(dictionary(), rules(), reg), reg, Topics("snapshots", "ms"))


def noon(d: date) -> datetime:
    return datetime.combine(d, time(12), tzinfo=UTC)


def event(
    etype: str, subject: str, when: date | datetime, n: int | None = None, **data: Any
) -> dict[str, Any]:
    """A fixture (or EHCNA) event as a source posts it."""
    at = noon(when) if not isinstance(when, datetime) else when
    return {
        "id": f"fx-{n if n is not None else next(_ids):09d}",
        "source": SOURCE if etype.startswith("fixture.") else "case-management",
        "type": etype,
        "subject": subject,
        "time": at.isoformat(),
        "data": data,
    }


def case_data(**extra: Any) -> dict[str, Any]:
    return {
        "person_id": "p-00000001",
        "locality": "shrewsbury",
        "age_band": "5-10",
        "phase": "primary",
        **extra,
    }


def tick(day: date, n: int = 0) -> dict[str, Any]:
    """The end of ``day`` in London."""
    end = datetime.combine(day, time(23, 59, 59), tzinfo=LONDON).astimezone(UTC)
    return {
        "id": f"tick-{day:%Y%m%d}-{n:04d}",
        "source": "clock",
        "type": "clock.tick",
        "subject": "clock:test",
        "time": end.isoformat(),
        "data": {},
    }


def incoming(
    reg: EventRegistry, raw: dict[str, Any], partition: int = 0
) -> list[handlers.Incoming]:
    """What timeliness consumes for one posted message (a tick: one copy per lane)."""
    if raw["type"] == "clock.tick":
        return [
            handlers.Incoming(
                reg.parse(json.dumps({**raw, "id": f"{raw['id']}:{topic}:p{partition}"})),
                topic,
                partition,
            )
            for topic in reg.topics
        ]
    topic = reg.topic_of(raw["type"])
    return [handlers.Incoming(reg.parse(json.dumps(raw)), topic, partition)]


def days(start: date, n: int) -> date:
    return start + timedelta(days=n)
