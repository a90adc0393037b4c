"""The dashboard's sufficiency view on the running system: placement events and clock
ticks through ingest and timeliness into reporting; the page shows the K20 months with
their goal, placements by setting group at month ends, base occupancy by phase and base,
out of area and distance, and high-cost decisions awaiting review only to the
operational role."""

from __future__ import annotations

import re
from datetime import date

import httpx
import pytest

from tests.helpers import wait_for
from tests.integration.test_placements_alerts import PLACEMENTS, end_of_day, people
from tests.placements_fixture import ev

OPS = {"Authorization": "Bearer dev-operational-token"}
BOARD = {"Authorization": "Bearer dev-board-token"}
CLOCK = {"Authorization": "Bearer dev-clock-key"}


def text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_sufficiency_view(stack_factory) -> None:
    stack = stack_factory("timeliness", "reporting", "ingest")
    url = f"http://127.0.0.1:{stack.ports['ingest']}/v1/events"
    events = people()
    events.append(
        ev(
            "placement.base.places-commissioned",
            "setting-000001",
            date(2026, 5, 1),
            base="ib-001",
            phase="primary",
            places=8,
        )
    )
    events.append(
        ev(
            "placement.placement.started",
            "person-000009",
            date(2026, 5, 20),
            setting_type="mainstream_academy_resourced_provision",
            rank=1,
            la_funded=True,
            out_of_area=False,
            distance_km=2.0,
            base="ib-001",
        )
    )
    r = httpx.post(url, json=events, headers=PLACEMENTS, timeout=30)
    assert r.status_code == 200, r.text
    for d in (date(2026, 5, 20), date(2026, 6, 12)):
        tick = {
            "id": f"tick-{d.isoformat()}",
            "source": "clock",
            "type": "clock.tick",
            "subject": "clock:test",
            "time": end_of_day(d).isoformat(),
            "data": {},
        }
        assert httpx.post(url, json=[tick], headers=CLOCK, timeout=30).status_code == 200
    page = f"http://127.0.0.1:{stack.ports['reporting']}/sufficiency"

    expected = [
        "2026-05 20.0% 9.0 2 of 10",
        "INMSS placements (LA funded) as a share of active EHC plans",
        "2026-05-31 8 2 0 0 0 0 0 10",  # mainstream 8, special 2, all 10
        "ib-001 1 8 12.5%",
        "primary 1 8 12.5%",
        "Placed out of area: 20.0% (2 of 10 active plans)",
        "median distance 3.0 km",
        "High-cost decisions awaiting review",
        "pl-0000000000000042",
    ]
    last = ""

    def shown() -> str | None:
        # Each KPI's snapshot arrives on its own: wait until the page shows them all.
        nonlocal last
        last = text(httpx.get(page, headers=OPS, timeout=30).text)
        return last if all(e in last for e in expected) else None

    try:
        wait_for(shown, timeout=60)
    except AssertionError:
        missing = [e for e in expected if e not in last]
        raise AssertionError(f"the sufficiency page never showed {missing}") from None
    board = text(httpx.get(page, headers=BOARD, timeout=30).text)
    assert "awaiting review" not in board and "pl-0000000000000042" not in board
