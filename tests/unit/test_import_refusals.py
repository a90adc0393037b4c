"""Every personal-data import (SEN2, CSDS referrals, placements) refuses, before it reads
a line, the shipped development pseudonymisation key outside development mode and a
``--wait`` without a token for the service APIs: exit status 2, saying why."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from sendwatch.devmode import DEV_PSEUDONYM_KEYS

COMMANDS = {
    "sen2": ["import", "sen2", "missing.xml"],
    "referrals": ["import", "referrals", "missing-referrals.csv", "missing-contacts.csv"],
    "placements": ["import", "placements", "missing.csv"],
}


@pytest.fixture(autouse=True)
def _fresh_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # empty files: the refusals come before any reading
    for files in COMMANDS.values():
        for f in files[2:]:
            (tmp_path / f).write_text("")
    monkeypatch.delenv("SENDWATCH_DEV", raising=False)
    monkeypatch.delenv("SENDWATCH_TOKEN", raising=False)


@pytest.mark.parametrize("name", list(COMMANDS))
def test_the_development_key_is_refused_outside_development_mode(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENDWATCH_PSEUDONYM_KEY", DEV_PSEUDONYM_KEYS[0])
    result = CliRunner().invoke(app, COMMANDS[name])
    assert result.exit_code == 2, result.output
    assert "development pseudonymisation key" in " ".join(result.output.split())


@pytest.mark.parametrize("name", list(COMMANDS))
def test_wait_without_a_token_is_refused(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENDWATCH_PSEUDONYM_KEY", "a-council-secret-of-its-own-0001")
    result = CliRunner().invoke(app, [*COMMANDS[name], "--wait"])
    assert result.exit_code == 2, result.output
    assert "need a token" in " ".join(result.output.split())
