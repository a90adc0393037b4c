"""Every service's OpenAPI document says what it answers (so that a client, and the
fuzzer, reach the real request bodies and can check every answer): 401 and 403 where a
token is taken, 404 where the path has parameters, one error shape whose ``detail`` is
text, ingest's body as the union of every registered event type, and integer inputs
bounded (an unbounded one reached SQLite as an integer it cannot hold: a 500)."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from fastapi.testclient import TestClient

from contracts.events import load_events
from sendwatch.openapi import complete

SERVICES = ("ingest", "timeliness", "reporting", "alerts")
INT64 = 2**63 - 1


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    mp = pytest.MonkeyPatch()
    mp.setenv("SENDWATCH_DEV", "1")
    mp.setenv("SENDWATCH_VAR_DIR", str(tmp_path_factory.mktemp("var")))
    try:
        return {
            name: importlib.import_module(f"services.{name}.entrypoint").create_app().openapi()
            for name in SERVICES
        }
    finally:
        mp.undo()


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m.upper(), p, op) for p, item in doc["paths"].items() for m, op in item.items()]


def _resolve(node: Any, doc: dict[str, Any]) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        node = doc["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def unbounded_integers(node: Any, doc: dict[str, Any], where: str, seen: frozenset[str]) -> list:
    out: list[str] = []
    if isinstance(node, dict) and "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[1]
        if name in seen:
            return out
        return unbounded_integers(_resolve(node, doc), doc, f"{where}>{name}", seen | {name})
    if isinstance(node, dict):
        types = node.get("type")
        is_int = types == "integer" or (isinstance(types, list) and "integer" in types)
        if is_int and "enum" not in node and "const" not in node:
            high = node.get("maximum", node.get("exclusiveMaximum"))
            low = node.get("minimum", node.get("exclusiveMinimum"))
            if high is None or low is None or high > INT64 or low < -INT64:
                out.append(where)
        for key, value in node.items():
            if key == "properties":
                for name, sub in value.items():
                    out += unbounded_integers(sub, doc, f"{where}.{name}", seen)
            elif isinstance(value, dict | list):
                out += unbounded_integers(value, doc, where, seen)
    elif isinstance(node, list):
        for value in node:
            out += unbounded_integers(value, doc, where, seen)
    return out


@pytest.mark.parametrize("service", SERVICES)
def test_every_integer_input_is_bounded(documents: dict, service: str) -> None:
    doc = documents[service]
    found = []
    for method, path, op in operations(doc):
        for p in op.get("parameters", []):
            found += unbounded_integers(
                p.get("schema"), doc, f"{method} {path} {p['name']}", frozenset()
            )
        found += unbounded_integers(
            op.get("requestBody"), doc, f"{method} {path} body", frozenset()
        )
    assert sorted(set(found)) == []


@pytest.mark.parametrize("service", SERVICES)
def test_tokens_paths_and_inputs_have_their_error_answers(documents: dict, service: str) -> None:
    doc = documents[service]
    api = [(m, p, op) for m, p, op in operations(doc) if p.startswith("/v1/")]
    assert api
    for method, path, op in api:
        codes = set(op["responses"])
        assert {"401", "403", "503"} <= codes, (method, path)
        assert op["security"] == [{"bearer": []}]
        if "{" in path:
            assert "404" in codes, (method, path)
        if op.get("parameters") or "requestBody" in op:
            assert "422" in codes, (method, path)
        for code, response in op["responses"].items():
            if code.startswith(("4", "5")):
                schema = response["content"]["application/json"]["schema"]
                assert _resolve(schema, doc)["title"] in {"Error", "Refusal", "IngestResult"}
    health = doc["paths"]["/healthz"]["get"]["responses"]
    assert set(health) == {"200", "503"}
    assert "text/plain" in doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert "HTTPValidationError" not in doc["components"]["schemas"]


def test_ingest_documents_its_body_as_every_registered_event_type(documents: dict) -> None:
    doc = documents["ingest"]
    op = doc["paths"]["/v1/events"]["post"]
    body = op["requestBody"]["content"]["application/json"]["schema"]
    assert {"$ref": "#/components/schemas/Event"} in body["anyOf"]
    event = doc["components"]["schemas"]["Event"]
    branches = [_resolve(b, doc) for b in event["anyOf"]]
    types = {b["properties"]["type"]["const"] for b in branches}
    assert types == {"clock.tick", *load_events().specs}
    assert set(op["responses"]) >= {"200", "207", "400", "401", "403", "409", "413", "422", "503"}


def test_every_error_answer_has_text_in_detail(tmp_path, monkeypatch) -> None:
    """A detail raised as text, a detail raised as a list of field problems and a request
    that does not validate all answer ``{"detail": <text>, "errors": [...]}`` (the
    documented shape; a validation error's detail was a list)."""
    monkeypatch.setenv("SENDWATCH_DEV", "1")
    monkeypatch.setenv("SENDWATCH_VAR_DIR", str(tmp_path))
    timeliness = importlib.import_module("services.timeliness.entrypoint").create_app()
    alerts = importlib.import_module("services.alerts.entrypoint").create_app()
    ops = {"Authorization": "Bearer dev-operational-token"}
    t = TestClient(timeliness)
    r = t.get("/v1/exports/nope", headers=ops)
    assert r.status_code == 404 and r.json() == {"detail": "no export 'nope'"}
    r = t.get("/v1/cases-at-risk?limit=lots", headers=ops)
    assert r.status_code == 422
    assert isinstance(r.json()["detail"], str) and r.json()["detail"].startswith("query.limit")
    assert r.json()["errors"][0]["loc"] == ["query", "limit"]
    assert "lots" not in r.text  # the input is not repeated
    r = t.get("/v1/kpis")
    assert r.status_code == 401 and isinstance(r.json()["detail"], str)
    a = TestClient(alerts)
    r = a.post(
        "/v1/programme/events",
        json={"type": "programme.milestone.updated", "subject": "milestone-1", "data": {}},
        headers={"Authorization": "Bearer dev-pmo-token"},
    )
    assert r.status_code == 422, r.text
    assert isinstance(r.json()["detail"], str) and r.json()["errors"]
    assert {"loc", "msg", "type"} == set(r.json()["errors"][0])


def test_complete_adds_the_answers_to_a_bare_document() -> None:
    doc = {
        "openapi": "3.1.0",
        "paths": {
            "/v1/things/{id}": {
                "get": {
                    "parameters": [
                        {"in": "path", "name": "id", "schema": {"type": "string"}},
                        {"in": "header", "name": "authorization", "schema": {"type": "string"}},
                    ],
                    "responses": {"200": {"description": "ok"}},
                }
            }
        },
    }
    codes = set(complete(doc)["paths"]["/v1/things/{id}"]["get"]["responses"])
    assert codes == {"200", "401", "403", "404", "422", "503"}
