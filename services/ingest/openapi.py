"""Ingest's part of its OpenAPI document: the body ``POST /v1/events`` takes (one event,
an array of events or ``{"events": [...]}``, each event one of the registered types or
a clock tick, in a union on ``type``) and what it answers for each status."""

from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import Field, TypeAdapter

from contracts.dlq import RejectReason
from contracts.events import load_events
from contracts.timeline import ClockTick
from sendwatch.openapi import JSON, Extras, error_response

OPERATION = "POST /v1/events"
REF = "#/components/schemas/{model}"


def event_union_schema() -> tuple[dict[str, Any], dict[str, Any]]:
    """The event union's schema and the component schemas it refers to."""
    models = [ClockTick, *(s.model for s in load_events().specs.values())]
    union: Any = Annotated[Union[tuple(models)], Field(discriminator="type")]  # noqa: UP007
    schema = TypeAdapter(union).json_schema(ref_template=REF, mode="validation")
    defs = schema.pop("$defs", {})
    # Each branch has its own ``type`` constant, so at most one can match: anyOf says the
    # same as oneOf, and lets a generator try one branch at a time.
    if "oneOf" in schema:
        schema["anyOf"] = schema.pop("oneOf")
    return schema, defs


RESULT: dict[str, Any] = {
    "title": "IngestResult",
    "type": "object",
    "required": ["source", "accepted", "rejected", "results"],
    "properties": {
        "source": {"type": "string"},
        "accepted": {"type": "integer", "minimum": 0},
        "rejected": {"type": "integer", "minimum": 0},
        "results": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["index", "id", "status"],
                "properties": {
                    "index": {"type": "integer", "minimum": 0},
                    "id": {"type": ["string", "null"]},
                    "status": {"type": "string", "enum": ["accepted", "rejected"]},
                    "reason": {
                        "type": ["string", "null"],
                        "enum": [*(r.value for r in RejectReason), None],
                    },
                    "field": {"type": ["string", "null"]},
                    "message": {"type": ["string", "null"]},
                    "code": {"type": "integer"},
                },
            },
        },
    },
}


def _result(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {JSON: {"schema": {"$ref": "#/components/schemas/IngestResult"}}},
    }


def extras() -> Extras:
    event, defs = event_union_schema()
    defs["Event"] = event
    body = {
        "required": True,
        "content": {
            JSON: {
                "schema": {
                    "anyOf": [
                        {"$ref": "#/components/schemas/Event"},
                        {"type": "array", "items": {"$ref": "#/components/schemas/Event"}},
                        {
                            "type": "object",
                            "required": ["events"],
                            "properties": {
                                "events": {
                                    "type": "array",
                                    "items": {"$ref": "#/components/schemas/Event"},
                                }
                            },
                        },
                    ]
                }
            }
        },
    }
    return Extras(
        request_bodies={OPERATION: body},
        authenticated={OPERATION},
        components={**defs, "IngestResult": RESULT},
        responses={
            OPERATION: {
                200: _result("Every event accepted"),
                207: _result("Some accepted, some rejected (each with its reason)"),
                422: _result("Every event rejected (each with its reason)"),
                403: _result("Every event names a source the key does not own"),
                409: _result("Every event repeats an id of this source with other content"),
                400: error_response(400, "Refusal"),
                401: error_response(401, "Refusal"),
                413: error_response(413, "Refusal"),
                503: error_response(503, "Refusal"),
            }
        },
    )
