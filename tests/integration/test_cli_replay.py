"""``sendwatch replay``: after a change to what a KPI counts, the timeliness service
holds its consumption until an audited replay; the command asks for one with the
service token from the settings and says what changed (exit 0), and refuses clearly on a
bad date (exit 2), a refused token (exit 1) or a service that does not answer (exit 3).
Real broker, real timeliness process, the real command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

import contracts
from tests.helpers import AUTH, OPERATIONAL, case_event, get_json, wait_for


def sendwatch(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_replay_restates_after_a_changed_definition(
    stack_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kpis = tmp_path / "kpis.yaml"
    original = Path(contracts.__file__).with_name("kpis.yaml").read_text()
    kpis.write_text(original)
    monkeypatch.setenv("SENDWATCH_KPIS_FILE", str(kpis))
    monkeypatch.delenv("SENDWATCH_TIMELINESS_TOKEN", raising=False)  # the settings' default
    stack = stack_factory("timeliness", "ingest")
    t = stack.ports["timeliness"]
    monkeypatch.setenv("SENDWATCH_TIMELINESS_URL", f"http://127.0.0.1:{t}")
    env = stack.env()
    events = [
        case_event(1),
        case_event(2, "ehc.assessment.decision-to-assess", case=1, day=35, data={"outcome": "Y"}),
    ]
    r = httpx.post(f"http://127.0.0.1:{stack.ports['ingest']}/v1/events", json=events, headers=AUTH)
    assert r.status_code == 200, r.text
    wait_for(lambda: get_json(t, "/v1/caseload", OPERATIONAL)["events_applied"] == 2)

    def decided_in_time() -> float | None:
        path = "/v1/kpis?kpi=decision_6wk&cycle=2026-05&breakdown=all"
        values = get_json(t, path, OPERATIONAL)["values"]
        return values[0]["value"] if values else None

    assert decided_in_time() == 100.0  # day 35, within 42 days

    # bad input never reaches the service; a refused token and a silent service say so
    bad = sendwatch("replay", "--reason", "typo", "--from", "2026-02-30", env=env)
    assert bad.returncode == 2 and "YYYY-MM-DD" in bad.stderr
    refused = sendwatch("replay", "--reason", "check", "--token", "not-a-token", env=env)
    assert refused.returncode == 1 and "operational role" in refused.stderr
    gone = sendwatch("replay", "--reason", "check", "--url", "http://127.0.0.1:9", env=env)
    assert gone.returncode == 3 and "did not answer" in gone.stderr

    # the decision clock now counts 28 days: consumption holds until a replay
    kpis.write_text(original.replace("thresholds: [{days: 42}]", "thresholds: [{days: 28}]", 1))
    proc = stack.children["timeliness"]
    proc.terminate()
    proc.wait(timeout=30)
    stack.start_service("timeliness")
    stack.wait_healthy()
    assert get_json(t, "/v1/status", OPERATIONAL)["replay_required"] is True

    done = sendwatch(
        "replay", "--reason", "decisions counted within 28 days", "--from", "2026-04-01", env=env
    )
    assert done.returncode == 0, done.stderr
    assert "Replayed from 2026-04-01: " in done.stdout and "1 subject(s) read" in done.stdout
    assert "0 value(s) changed" not in done.stdout
    wait_for(lambda: get_json(t, "/v1/status", OPERATIONAL)["replay_required"] is False, timeout=30)
    assert decided_in_time() == 0.0  # day 35 is past 28 days
