# ruff: noqa: E501
"""``sendwatch import raid``: a RAID log spreadsheet; bad rows by line, free text never
read into an event, the same file twice gives the same event ids."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from cli.main import app
from services.ingest.sources.raid_csv import read_raid_csv

CSV = """ID,Kind,Title,Owner,Raised,Due,Impact,Likelihood,Milestones,Dependency,Status,Reason,Comments
R-1,Dependency,ICB workforce plan,icb-sro,01/10/2026,2026-12-31,4,3,o03-q3;o05-q3,d-nhs,Amber,capacity_shortfall,Ask Jane Smith
R-2,Risk,Uneven OAIP,ws1-lead,2026-10-01,2027-03-31,4,4,o04-q4,,Green,,
R-3,Issue,Bad owner,jane.smith@example.org,2026-10-01,2027-03-31,2,2,,,,,
R-4,Issue,Bad date,ws2-lead,2026-10-01,31/31/2026,2,2,,,,,
R-5,Issue,Bad score,ws2-lead,2026-10-01,2027-01-31,9,2,,,,,
R-6,Issue,Bad milestone,ws2-lead,2026-10-01,2027-01-31,2,2,o99-q9,,Red,,
,Issue,No id,ws2-lead,2026-10-01,2027-01-31,2,2,,,,,
"""


def test_bad_rows_by_line_valid_rows_kept(tmp_path: Path) -> None:
    f = tmp_path / "raid.csv"
    f.write_text(CSV)
    result = read_raid_csv(f)
    assert [(line, e["subject"]) for line, e in result.events] == [
        (2, "raid-000001"),
        (3, "raid-000002"),
    ]
    assert [(p.line, p.field) for p in result.problems] == [
        (4, "owner"),
        (5, "due"),
        (6, "impact"),
        (7, "milestones.0"),
        (8, "id"),
    ]
    first = result.events[0][1]
    assert first["data"]["status"] == "at_risk" and first["time"].startswith("2026-10-01")
    assert "Jane" not in str(result.events) and "Title" not in str(first)
    assert [e["id"] for _, e in read_raid_csv(f).events] == [e["id"] for _, e in result.events]


def test_cli_check_exits_non_zero_when_a_row_is_rejected(tmp_path: Path) -> None:
    f = tmp_path / "raid.csv"
    f.write_text(CSV)
    out = CliRunner().invoke(app, ["import", "raid", str(f), "--check"])
    assert out.exit_code == 1
    assert "line 4 (owner)" in out.output and "7 rows: 2 valid, 5 rejected" in out.output
    good = tmp_path / "good.csv"
    good.write_text("\n".join(CSV.splitlines()[:3]) + "\n")
    assert CliRunner().invoke(app, ["import", "raid", str(good), "--check"]).exit_code == 0
