"""``sendwatch import raid`` through the real ingest, broker and alerts service: the
valid rows are in the RAID log, the bad ones reported by line (exit 1), and importing
the same file again changes nothing (the same event ids)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from cli.main import app
from tests.helpers import wait_for

CSV = """id,kind,owner,raised,due,impact,likelihood,milestones,dependency,status,description
R-11,dependency,icb-sro,2026-11-02,2027-01-29,4,3,o11-q4,d-nhs,amber,waiting on the ICB
R-12,risk,ws3-lead,2026-11-02,2027-03-31,4,2,o03-q4,,green,
R-13,issue,ws3-lead,2026-11-02,2027-03-31,4,2,o03-q4,,purple,
R-14,issue,ws3-lead,2026-11-02,not a date,4,2,o03-q4,,green,
"""


def raid_log(port: int) -> dict:
    r = httpx.get(
        f"http://127.0.0.1:{port}/v1/programme/raid?as_of=2026-11-30",
        headers={"Authorization": "Bearer dev-board-token"},
        timeout=10,
    )
    r.raise_for_status()
    return r.json()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_import_raid_log_through_ingest(stack_factory, tmp_path: Path) -> None:
    stack = stack_factory("ingest", "alerts")
    f = tmp_path / "raid.csv"
    f.write_text(CSV)
    url = f"http://127.0.0.1:{stack.ports['ingest']}"
    out = CliRunner().invoke(app, ["import", "raid", str(f), "--url", url])
    assert out.exit_code == 1, out.output
    assert "line 4 (status)" in out.output and "line 5 (due)" in out.output
    assert "4 rows: 2 accepted, 2 rejected" in out.output
    port = stack.ports["alerts"]
    wait_for(lambda: raid_log(port)["total"] == 2, timeout=30)
    items = {i["id"]: i for i in raid_log(port)["items"]}
    assert items["raid-000011"]["status"] == "at_risk"
    assert items["raid-000011"]["threatens"] == ["o11-q4"]  # at risk: an R1 exception
    again = CliRunner().invoke(app, ["import", "raid", str(f), "--url", url])
    assert "2 accepted" in again.output  # ingest accepts; the ids are the same
    wait_for(lambda: raid_log(port)["total"] == 2, timeout=10)
    r = httpx.get(
        f"http://127.0.0.1:{port}/v1/programme?as_of=2026-11-30",
        headers={"Authorization": "Bearer dev-board-token"},
        timeout=10,
    ).json()
    assert r["figures"]["open exceptions"] == 1
