"""`sendwatch ingest FILE` posts a JSONL file and reports bad lines by number."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.helpers import OPERATIONAL, case_event, get_json, wait_for


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_jsonl_import_reports_bad_lines_and_keeps_good_ones(stack_factory, tmp_path) -> None:
    stack = stack_factory("timeliness", "ingest")
    lines = [json.dumps(case_event(i)) for i in range(1, 8)]
    lines.insert(2, "{this is not json")  # line 3
    lines.insert(5, json.dumps({**case_event(99), "nickname": "x"}))  # line 6
    lines.append("")  # blank lines are ignored
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "cli",
            "ingest",
            str(path),
            "--batch-size",
            "3",
            "--url",
            f"http://127.0.0.1:{stack.ports['ingest']}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "line 3: malformed_json" in proc.stderr
    assert "line 6: unknown_field (nickname)" in proc.stderr
    assert "9 lines: 7 accepted, 2 rejected" in proc.stdout
    wait_for(
        lambda: (
            get_json(stack.ports["timeliness"], "/v1/caseload", OPERATIONAL)["events_applied"] == 7
        )
    )
