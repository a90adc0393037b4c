"""The services refuse to start with the shipped development keys and tokens unless
SENDWATCH_DEV=1, and the refusal names each offending setting."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sendwatch.devmode import (
    DevelopmentSecretsError,
    development_secrets,
    refuse_development_secrets,
)

REAL_TOKEN = "a-real-deployment-token-0123456789"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def deployment(tmp_path: Path) -> dict[str, str]:
    """A deployment's own registries and upstream tokens (no development value)."""
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        "version: 1\nsources:\n  case-management:\n    description: CMS\n"
        f"    key_sha256: [{_sha('a-real-key-0123456789')}]\n    event_types: ['ehc.*']\n"
    )
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text(
        "version: 1\ntokens:\n  reporting-service:\n"
        f"    sha256: [{_sha(REAL_TOKEN)}]\n    roles: [operational, read]\n"
    )
    return {
        "SENDWATCH_SOURCES_FILE": str(sources),
        "SENDWATCH_TOKENS_FILE": str(tokens),
        "SENDWATCH_ALERTS_TOKEN": REAL_TOKEN,
        "SENDWATCH_TIMELINESS_TOKEN": REAL_TOKEN,
        "SENDWATCH_ALERTS_LINK_SECRET": "a-real-link-secret-0123456789",
    }


def test_shipped_files_are_development_secrets() -> None:
    ingest = development_secrets("ingest", {})
    assert len(ingest) == 5 and all(p.startswith("SENDWATCH_SOURCES_FILE") for p in ingest)
    assert any("'case-management'" in p for p in ingest)
    for service in ("timeliness", "alerts"):
        problems = development_secrets(service, {})
        tokens = [p for p in problems if p.startswith("SENDWATCH_TOKENS_FILE")]
        assert tokens and len(problems) - len(tokens) == (service == "alerts")
    # the mail links' HMAC key: the shipped one (or none set) is refused
    assert any(
        p.startswith("SENDWATCH_ALERTS_LINK_SECRET") for p in development_secrets("alerts", {})
    )
    reporting = development_secrets("reporting", {})
    # unset means the shipped development default
    assert "SENDWATCH_ALERTS_TOKEN is a development token (or unset)" in reporting
    assert "SENDWATCH_TIMELINESS_TOKEN is a development token (or unset)" in reporting
    dev_upstream = development_secrets(
        "reporting", {"SENDWATCH_TIMELINESS_TOKEN": "dev-timeliness-read-token"}
    )
    assert "SENDWATCH_TIMELINESS_TOKEN is a development token (or unset)" in dev_upstream


def test_refusal_names_the_setting_unless_dev_mode(deployment: dict[str, str]) -> None:
    with pytest.raises(DevelopmentSecretsError, match="SENDWATCH_TOKENS_FILE"):
        refuse_development_secrets("alerts", {})
    refuse_development_secrets("alerts", {"SENDWATCH_DEV": "1"})
    for service in ("ingest", "timeliness", "alerts", "reporting"):
        assert development_secrets(service, deployment) == []
        refuse_development_secrets(service, deployment)
    mixed = {**deployment, "SENDWATCH_ALERTS_TOKEN": "dev-alerts-read-token"}
    with pytest.raises(DevelopmentSecretsError, match="SENDWATCH_ALERTS_TOKEN"):
        refuse_development_secrets("reporting", mixed)


async def test_a_service_app_will_not_start_with_development_keys(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The check also guards the app's start-up, however it is served."""
    monkeypatch.delenv("SENDWATCH_DEV", raising=False)
    monkeypatch.delenv("SENDWATCH_SOURCES_FILE", raising=False)
    monkeypatch.setenv("SENDWATCH_VAR_DIR", str(tmp_path))
    from services.ingest.entrypoint import create_app

    app = create_app()
    with pytest.raises(DevelopmentSecretsError, match="SENDWATCH_SOURCES_FILE"):
        async with app.router.lifespan_context(app):
            pass


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")}
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**clean, **env},
    )


@pytest.mark.parametrize(
    ("service", "setting"),
    [
        ("ingest", "SENDWATCH_SOURCES_FILE"),
        ("timeliness", "SENDWATCH_TOKENS_FILE"),
        ("reporting", "SENDWATCH_TIMELINESS_TOKEN"),
    ],
)
def test_serve_refuses_development_secrets(service: str, setting: str, tmp_path: Path) -> None:
    done = _cli("serve", service, "--port", "1", env={"SENDWATCH_VAR_DIR": str(tmp_path)})
    assert done.returncode == 2
    assert "refusing to start" in done.stderr and setting in done.stderr


def test_import_refuses_the_development_pseudonym_key(tmp_path: Path) -> None:
    xml = tmp_path / "sen2.xml"
    xml.write_text("<Message/>")
    done = _cli(
        "import", "sen2", str(xml), env={"SENDWATCH_PSEUDONYM_KEY": "bench-pseudonym-key-000000"}
    )
    assert done.returncode == 2 and "SENDWATCH_PSEUDONYM_KEY" in done.stderr
