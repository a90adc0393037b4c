"""Every service's OpenAPI document says what the service really answers.

FastAPI documents a route's success and, where it has inputs, a 422 with its own
validation-error shape.  The services answer more than that, and ``complete`` adds it
to each operation, so a client (and a fuzzer) can rely on the document:

* 401 and 403 where the operation takes a bearer token (the ``Authorization`` header
  parameter, or ``authenticated``), with the ``bearer`` security scheme;
* 404 where the path has parameters (no such alert, KPI, export, forum ...);
* 400 (a body that cannot be decoded) and 413 (too large) where there is a body;
* 422 for every operation with inputs, and 503 (a dependency is away: retry) for every
  operation, all with the one error shape every service answers (:func:`error_body`):
  ``{"detail": "<what is wrong>", "errors": [{"loc", "msg", "type"}, ...]}``;
* ``/healthz`` with its 503 and its body, ``/metrics`` as Prometheus text;
* what a service adds itself (``extra``): other statuses of an operation, request body
  schemas and their components (ingest's event union).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

JSON = "application/json"

ERROR_SCHEMAS: dict[str, Any] = {
    "Error": {
        "title": "Error",
        "type": "object",
        "description": "What is wrong, in words (never repeating the input), and for a "
        "request that does not validate, each offending parameter or field.",
        "required": ["detail"],
        "properties": {
            "detail": {"type": "string"},
            "errors": {"type": "array", "items": {"$ref": "#/components/schemas/FieldError"}},
        },
    },
    "FieldError": {
        "title": "FieldError",
        "type": "object",
        "required": ["loc", "msg", "type"],
        "properties": {
            "loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
            "msg": {"type": "string"},
            "type": {"type": "string"},
        },
    },
    "Refusal": {
        "title": "Refusal",
        "type": "object",
        "description": "A request refused before its content was looked at (too large; at "
        "ingest also not JSON, no key, or not stored).",
        "required": ["error", "message"],
        "properties": {
            "error": {"type": "string"},
            "message": {"type": "string"},
            "dlq_id": {"type": "string"},
        },
    },
    "Health": {
        "title": "Health",
        "type": "object",
        "required": ["service", "status", "checks"],
        "properties": {
            "service": {"type": "string"},
            "status": {"type": "string", "enum": ["ok", "degraded"]},
            "checks": {"type": "object", "additionalProperties": {"type": "string"}},
            "reason": {"type": "string"},
        },
    },
}

STATUS_TEXT = {
    400: "Bad request",
    401: "No token, or an unknown one",
    403: "The token lacks the role this needs",
    404: "Not found",
    409: "Conflict with the current state",
    413: "Request too large",
    422: "Invalid parameter or body",
    503: "A dependency (broker, database, upstream service) is unavailable; retry",
}


def error_response(status: int, schema: str = "Error") -> dict[str, Any]:
    return {
        "description": STATUS_TEXT.get(status, "Error"),
        "content": {JSON: {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def content(*media: str) -> dict[int | str, dict[str, Any]]:
    """A route's ``responses=``: its 200 answers in these media types (e.g. CSV)."""
    binary = {"application/pdf"}
    return {
        200: {
            "content": {
                m: {"schema": {"type": "string", **({"format": "binary"} if m in binary else {})}}
                for m in media
            }
        }
    }


def error_body(detail: Any, errors: list[Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """The one error shape: ``detail`` is always text; ``errors`` lists field problems
    (``loc``, ``msg``, ``type``) when there are any.  A detail given as a list of
    problems (``{"field", "error"}`` or ``{"loc", "msg"}`` items) becomes both."""
    items: list[dict[str, Any]] = []
    for e in errors or []:
        items.append(_field_error(e))
    if isinstance(detail, list):
        items += [_field_error(e) for e in detail if isinstance(e, Mapping)]
        text = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" if e["loc"] else e["msg"]
            for e in items
        )
        detail = text or "invalid request"
    body: dict[str, Any] = {"detail": detail if isinstance(detail, str) else str(detail)}
    if items:
        body["errors"] = items
    return body


def _field_error(e: Mapping[str, Any]) -> dict[str, Any]:
    if "loc" in e:
        loc = [p if isinstance(p, int) else str(p) for p in e.get("loc", ())]
    else:
        loc = [p for p in str(e.get("field", "")).split(".") if p]
    return {
        "loc": loc,
        "msg": str(e.get("msg", e.get("error", "invalid"))),
        "type": str(e.get("type", "value_error")),
    }


@dataclass
class Extras:
    """What a service adds to its document, by ``"METHOD /path"``."""

    responses: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)
    request_bodies: dict[str, dict[str, Any]] = field(default_factory=dict)
    authenticated: set[str] = field(default_factory=set)
    authenticated_prefixes: tuple[str, ...] = ()  # every operation under these paths
    components: dict[str, Any] = field(default_factory=dict)


def complete(schema: dict[str, Any], extras: Extras | None = None) -> dict[str, Any]:
    extras = extras or Extras()
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.update(copy.deepcopy(ERROR_SCHEMAS))
    schemas.update(extras.components)
    components.setdefault("securitySchemes", {})["bearer"] = {"type": "http", "scheme": "bearer"}
    for path, item in schema.get("paths", {}).items():
        for method, op in item.items():
            label = f"{method.upper()} {path}"
            responses: dict[str, Any] = op.setdefault("responses", {})
            if path == "/healthz":
                ok = {"content": {JSON: {"schema": {"$ref": "#/components/schemas/Health"}}}}
                responses["200"] = {"description": "Healthy", **ok}
                responses["503"] = {"description": "Degraded: the reason word says why", **ok}
                continue
            if path == "/metrics":
                responses["200"] = {
                    "description": "Prometheus metrics",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
                continue
            params = op.get("parameters", [])
            auth = (
                label in extras.authenticated
                or path.startswith(extras.authenticated_prefixes)
                or any(
                    p.get("in") == "header" and p.get("name", "").lower() == "authorization"
                    for p in params
                )
            )
            if auth:
                responses["401"] = error_response(401)
                responses["403"] = error_response(403)
                op["security"] = [{"bearer": []}]
            if re.search(r"\{[^}]+\}", path):
                responses["404"] = error_response(404)
            if params or "requestBody" in op or label in extras.request_bodies:
                responses["422"] = error_response(422)
            if "requestBody" in op or label in extras.request_bodies:
                responses["400"] = error_response(400)  # a body that cannot be decoded
                responses["413"] = error_response(413, "Refusal")
            responses["503"] = error_response(503)
            if label in extras.request_bodies:
                op["requestBody"] = extras.request_bodies[label]
            for status, response in extras.responses.get(label, {}).items():
                responses[str(status)] = response
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return schema


def install(app: FastAPI, extras: Callable[[], Extras] | None = None) -> None:
    """Serve the completed document at ``/openapi.json`` (built once, on first use)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            base = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = complete(base, extras() if extras else None)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
