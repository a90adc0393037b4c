"""A simulated window starts with what the council already holds: the previous term's
DfE attendance figures and each survey's latest wave arrive on its first day, calibrated
to the plan's baselines; Experts at Hand reaches enough children in a term that its
reach is a real figure from the first weeks."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from services.ingest.sources.simulator import eah, outcomes


def _events(stream: Any, first: date, n_days: int) -> list[dict[str, Any]]:
    return [t.event for t in stream.events(42, first, first + timedelta(days=n_days))]


def _on(events: list[dict[str, Any]], day: date, etype: str) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == etype and e["time"].startswith(day.isoformat())]


def test_the_previous_terms_attendance_figures_are_there_on_the_first_day() -> None:
    first = date(2026, 7, 1)  # the summer term 2025/26: the spring term's figures are out
    figures = _on(_events(outcomes.STREAM, first, 2), first, "figure.reported")
    got = {(e["data"]["measure"], e["data"]["cohort"], e["data"]["area"]): e for e in figures}
    assert {e["data"]["period"] for e in figures} == {"2025/26-T2"}
    local = got[("attendance", "ehcp", "local")]["data"]["value"]
    assert abs(local - 84.8) < 1.0  # Reform Plan K9 baseline
    assert abs(got[("attendance", "sen-support", "local")]["data"]["value"] - 90.2) < 1.0
    assert got[("attendance", "ehcp", "statistical-neighbours")]["data"]["value"] == 86.4
    # a window starting on the plan's first day holds the autumn term's figures
    april = _on(_events(outcomes.STREAM, date(2026, 4, 1), 1), date(2026, 4, 1), "figure.reported")
    assert {e["data"]["period"] for e in april} == {"2025/26-T1"} and len(april) == 24


def test_each_surveys_latest_wave_before_the_window_arrives_on_its_first_day() -> None:
    first = date(2027, 2, 1)
    waves = _on(_events(outcomes.STREAM, first, 1), first, "survey.result.reported")
    got = {e["data"]["survey"]: (e["data"]["period"], e["data"]["responses"]) for e in waves}
    assert got == {
        "big-listen": ("2026/27", 214),  # 200+ responses (K16)
        "cyp-satisfaction": ("2026/27-Q2", 132),
        "setting-confidence": ("2026/27-Q3", 176),
        "at-confidence": ("2026/27-Q3", 151),
    }
    # before the first wave there is nothing to hold
    assert not _on(
        _events(outcomes.STREAM, date(2026, 7, 1), 1), date(2026, 7, 1), "survey.result.reported"
    )


def test_experts_at_hand_reach_in_the_first_weeks_is_a_real_figure_per_service() -> None:
    events = _events(eah.STREAM, date(2026, 4, 1), 14)
    reached: dict[str, set[str]] = {}
    for e in events:
        if e["type"] == "eah.cyp.supported":
            reached.setdefault(e["data"]["service"], set()).add(e["subject"])
    # a fortnight of a 2026/27 year whose targets are 2,105 / 372 / 1,150 children
    assert len(reached["slt"]) > 100 and len(reached["ep"]) > 50 and len(reached["ot"]) >= 5
