"""Builders for NHS community referral events and a handler configuration over the real
contracts (``contracts/clocks.yaml``, ``kpis.yaml``, ``referrals.yaml``)."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, date, datetime, time
from typing import Any

from contracts.clock_rules import load_clocks
from contracts.events import EventRegistry, load_events
from contracts.kpi_dictionary import load_kpis
from contracts.referrals import ReferralsConfig, load_referrals
from services.timeliness.domain.engine import Engine
from services.timeliness.service_layer import handlers
from services.timeliness.service_layer.messages import Topics
from services.timeliness.service_layer.unit_of_work import FakeUnitOfWork
from tests import engine_fixture as fx

SOURCE = "nhs-community"
_ids = itertools.count(1)


def config() -> handlers.Config:
    reg = load_events()
    eng = Engine(load_kpis("contracts/kpis.yaml"), load_clocks("contracts/clocks.yaml"), reg)
    return handlers.Config(eng, reg, Topics("snapshots", "ms"))


def referrals() -> ReferralsConfig:
    return load_referrals()


def noon(d: date) -> datetime:
    return datetime.combine(d, time(12), tzinfo=UTC)


def subject(n: int) -> str:
    return f"ref-{n:08d}"


def attrs(service: str, locality: str = "ludlow", **extra: Any) -> dict[str, Any]:
    return {
        "person_id": f"p-{next(_ids):08d}",
        "service": service,
        "locality": locality,
        "age_band": "5-10",
        **extra,
    }


def ev(etype: str, n: int | str, when: date, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"nhs-{next(_ids):09d}",
        "source": SOURCE,
        "type": etype,
        "subject": subject(n) if isinstance(n, int) else n,
        "time": noon(when).isoformat(),
        "data": data,
    }


class Builder:
    """Events of referrals whose attributes are remembered by number."""

    def __init__(self) -> None:
        self.seen: dict[int, dict[str, Any]] = {}

    def received(self, n: int, when: date, service: str, **extra: Any) -> dict[str, Any]:
        a = self.seen[n] = attrs(service, **extra)
        return ev("referral.received", n, when, {**a, "source_of_referral": "gp"})

    def outcome(self, n: int, when: date, outcome: str) -> dict[str, Any]:
        return ev("referral.outcome", n, when, {**self.seen[n], "outcome": outcome})

    def triaged(self, n: int, when: date) -> dict[str, Any]:
        return ev("referral.triaged", n, when, dict(self.seen[n]))

    def contact(
        self, n: int, when: date, attendance: str = "attended", mechanism: str = "face_to_face"
    ) -> dict[str, Any]:
        data = {**self.seen[n], "attendance": attendance, "mechanism": mechanism}
        return ev("referral.contact", n, when, data)

    def assessment(self, n: int, when: date) -> dict[str, Any]:
        return ev("referral.assessment-started", n, when, dict(self.seen[n]))

    def treatment(self, n: int, when: date) -> dict[str, Any]:
        return ev("referral.treatment-started", n, when, dict(self.seen[n]))

    def discharged(self, n: int, when: date, reason: str = "other") -> dict[str, Any]:
        return ev("referral.discharged", n, when, {**self.seen[n], "reason": reason})


def capacity(service: str, week_end: date, **figures: int | float) -> dict[str, Any]:
    iso = week_end.isocalendar()
    data = {
        "service": service,
        "week": f"{iso.year}-W{iso.week:02d}",
        "sessions_commissioned": 100,
        "sessions_delivered": 100,
        "first_slots_offered": 10,
        "staff_in_post_wte": 4.0,
        "funded_posts_wte": 4.0,
        **figures,
    }
    n = ["slt", "ot", "asd_0_5", "nd_6_18", "nd_19_25", "core_mh"].index(service) + 1
    return ev("referral.capacity.reported", f"svc-{n:06d}", week_end, data)


def incoming(reg: EventRegistry, raw: dict[str, Any]) -> handlers.Incoming:
    return handlers.Incoming(reg.parse(json.dumps(raw)), reg.topic_of(raw["type"]), 0)


def run(
    cfg: handlers.Config, raws: list[dict[str, Any]], until: date | None = date(2026, 11, 30)
) -> FakeUnitOfWork:
    """Apply the events, then (``until``) a clock tick at the end of that day, which
    closes the cycles before it."""
    uow = FakeUnitOfWork()
    handlers.apply_batch(uow, [incoming(cfg.registry, r) for r in raws], cfg)
    if until is not None:
        handlers.apply_batch(uow, fx.incoming(cfg.registry, fx.tick(until)), cfg)
    return uow
