"""Builders for placement events (``contracts/placement_events.py``) and the real
engine over the real dictionary: subject states, their spans, census cells."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time
from typing import Any

from contracts.clock_rules import load_clocks
from contracts.events import load_events
from contracts.kpi_dictionary import load_kpis
from services.timeliness.domain.engine import Engine
from services.timeliness.domain.measures.base import Span, Vector
from services.timeliness.domain.subjects import SubjectState, fold

REGISTRY = load_events()
ENGINE = Engine(load_kpis(), load_clocks(), REGISTRY)
_ids = itertools.count(1)
PERSON = {"locality": "ludlow", "age_band": "11-15", "phase": "secondary"}


def ev(etype: str, subject: str, day: date, **data: Any) -> dict[str, Any]:
    source = "case-management" if etype.startswith("ehc.") else "placements"
    return {
        "id": f"pl-test-{next(_ids):08d}",
        "source": source,
        "type": etype,
        "subject": subject,
        "time": datetime.combine(day, time(12), tzinfo=UTC).isoformat(),
        "data": data,
    }


def plan(subject: str, day: date, **attrs: Any) -> dict[str, Any]:
    return ev("placement.plan.started", subject, day, **{**PERSON, **attrs})


def ceased(subject: str, day: date, reason: str = "2") -> dict[str, Any]:
    return ev("placement.plan.ceased", subject, day, cease_reason=reason)


def placed(
    subject: str,
    day: date,
    setting: str = "mainstream_academy",
    *,
    rank: int = 1,
    la_funded: bool = True,
    out_of_area: bool = False,
    distance_km: float | None = 5.0,
    **extra: Any,
) -> dict[str, Any]:
    return ev(
        "placement.placement.started",
        subject,
        day,
        setting_type=setting,
        rank=rank,
        la_funded=la_funded,
        out_of_area=out_of_area,
        distance_km=distance_km,
        **extra,
    )


def left(subject: str, day: date, rank: int = 1) -> dict[str, Any]:
    return ev("placement.placement.ended", subject, day, rank=rank)


def states(raws: Iterable[dict[str, Any]]) -> list[SubjectState]:
    out: dict[str, SubjectState] = {}
    for raw in raws:
        event = REGISTRY.parse_event(raw)
        obs = REGISTRY.observe(event)
        out[obs.subject] = fold(out.get(obs.subject), obs)
    return list(out.values())


def spans(raws: Iterable[dict[str, Any]]) -> dict[str, list[Span]]:
    out: dict[str, list[Span]] = {}
    for s in states(raws):
        for (key, _), span in ENGINE.spans(s).items():
            out.setdefault(key, []).append(span)
    return out


def census(kpi: str, day: date, raws: Iterable[dict[str, Any]]) -> Mapping[str, Vector]:
    cells = ENGINE.census(kpi, "2026-04", day, spans(raws))
    return {b: v for (_, _, b), v in cells.items()}
