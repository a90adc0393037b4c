"""The simulated placements: calibrated to DfE's Shropshire 2025 caseload (3,016 plans,
238 in independent special schools) at the January 2025 census, valid events, the
inclusion base plan's places, and the same county for the same seed."""

from __future__ import annotations

from datetime import date

from contracts.placements import load_placements
from services.ingest.sources.simulator.placements import SHROPSHIRE_2025, placement_events
from services.timeliness.domain.dfe.caseload import setting_counts
from tests.placements_fixture import REGISTRY, census, spans

END = date(2026, 11, 1)


def test_the_january_2025_caseload_is_dfe_s_and_the_events_keep_the_contract() -> None:
    events = [t.event for t in placement_events(42, date(2026, 4, 1), END)]
    for raw in events:
        REGISTRY.parse_event(raw)
    by_key = spans(events)
    counts = setting_counts(load_placements().caseload, date(2025, 1, 16), by_key)
    assert dict(counts) == SHROPSHIRE_2025
    assert sum(counts.values()) == 3016 and counts["special_independent"] == 238
    later = setting_counts(load_placements().caseload, date(2026, 10, 31), by_key)
    assert 3016 < sum(later.values()) < 4300  # the caseload grows, as it did to 2025
    k20 = census("inmss_share", date(2026, 10, 31), events)["all"]
    assert 7.0 < 100 * k20[1] / k20[0] < 10.0
    places = census("inclusion_base_occupancy", date(2026, 10, 31), events)
    assert places["all"][1] == 284  # the plan's 2026/27 places: 12 + 181 + 91
    assert places["phase=primary"][1] == 181 and places["phase=secondary"][1] == 91
    assert census("ehe_ehcp", date(2025, 1, 16), events)["all"][1] == 53


def test_the_same_seed_gives_the_same_county() -> None:
    a = [t.event["id"] for t in placement_events(7, date(2026, 4, 1), date(2026, 6, 1))]
    b = [t.event["id"] for t in placement_events(7, date(2026, 4, 1), date(2026, 6, 1))]
    assert a == b and len(a) > 3016
