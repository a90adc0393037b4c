"""The committed AsyncAPI documents match the FastStream apps."""

from __future__ import annotations

from pathlib import Path

from cli.asyncapi import render_asyncapi

DOCS = Path(__file__).resolve().parents[2] / "docs" / "asyncapi"


def test_asyncapi_documents_are_current() -> None:
    rendered = render_asyncapi()
    assert set(rendered) == {"ingest", "timeliness", "alerts", "reporting"}
    for service, text in rendered.items():
        committed = (DOCS / f"{service}.yaml").read_text()
        assert committed == text, f"docs/asyncapi/{service}.yaml is stale: run `make asyncapi`"
    assert "sendwatch.case-events.v1" in rendered["ingest"]
    assert "RequestReceived" in rendered["timeliness"]
    assert "KpiSnapshot" in rendered["reporting"]
