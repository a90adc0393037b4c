"""Hypothesis strategies for every registered event type, valid and invalid.

A valid event is drawn from its contract's JSON schema (enums, patterns, bounds, dates),
with the values the schema cannot say drawn from the rules instead: localities from
``contracts/localities.yaml``, pseudonymous ids as a listed prefix and digits
(``contracts/privacy.yaml``), dates and times inside the plausibility window, the
source that may send the type.  An invalid event is a valid one with one defect whose
reason is known beforehand (:data:`DEFECTS`): ingest must reject it with that reason,
and dead-letter it.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from contracts.events import EventSpec, load_events
from contracts.localities import locality_names
from contracts.privacy import find_personal_data, pseudonym_words
from contracts.programme import load_programme
from contracts.sources import load_sources
from tests.fuzzing import POSTCODES, nhs_number, upn

EARLIEST = date(2021, 1, 1)  # well inside the window, and after any contract's own floor
LATEST = date(2026, 6, 30)

KEYS = {
    "case-management": "dev-case-management-key",
    "nhs-community": "dev-nhs-community-key",
    "placements": "dev-placements-key",
    "sen2-import": "dev-sen2-import-key",
    "pmo": "dev-pmo-key",
    "experts-at-hand": "dev-experts-at-hand-key",
    "outcomes": "dev-outcomes-key",
}


def source_of(event_type: str) -> str:
    """The first source that may send ``event_type``."""
    for name, spec in load_sources().sources.items():
        if name in KEYS and spec.may_send(event_type):
            return name
    raise LookupError(event_type)


def _localities() -> list[str]:
    return sorted(locality_names())


def _pseudonym(prefixes: list[str]) -> st.SearchStrategy[str]:
    return st.builds(
        lambda p, n: f"{p}-{n:08d}", st.sampled_from(prefixes), st.integers(0, 10**8 - 1)
    )


_days = st.integers(0, (LATEST - EARLIEST).days)
DATES = _days.map(lambda d: (EARLIEST + timedelta(days=d)).isoformat())
TIMES = st.builds(
    lambda d, s: (datetime(2021, 1, 1, tzinfo=UTC) + timedelta(days=d, seconds=s)).isoformat(),
    _days,
    st.integers(0, 86_399),
)


# Fields that name an entry of contracts/programme.yaml, and its section.
PROGRAMME_REFS = {
    "owner": "owners",
    "forum": "forums",
    "milestone": "milestones",
    "milestones": "milestones",
    "dependency": "dependencies",
}


class SchemaStrategies:
    """Strategies from a pydantic JSON schema, with the rules' values where the schema
    is too loose (locality, ids, dates)."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.defs = schema.get("$defs", {})
        self.root = schema
        self.ids = _pseudonym(sorted(pseudonym_words()))
        self.localities = st.sampled_from(_localities())

    def _resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            node = self.defs[node["$ref"].rsplit("/", 1)[1]]
        return node

    def of(self, node: dict[str, Any], name: str = "") -> st.SearchStrategy[Any]:
        node = self._resolve(node)
        if "const" in node:
            return st.just(node["const"])
        if "enum" in node:
            return st.sampled_from(node["enum"])
        if "anyOf" in node or "oneOf" in node:
            branches = [b for b in node.get("anyOf", node.get("oneOf", []))]
            return st.one_of([self.of(b, name) for b in branches])
        kind = node.get("type")
        if isinstance(kind, list):
            return st.one_of([self.of({**node, "type": k}, name) for k in kind])
        if kind == "null":
            return st.none()
        if kind == "boolean":
            return st.booleans()
        if kind == "integer":
            lo = node.get("minimum", node.get("exclusiveMinimum", -1) + 1)
            hi = node.get("maximum", node.get("exclusiveMaximum", 10**6 + 1) - 1)
            return st.integers(int(lo), int(min(hi, lo + 10**6)))
        if kind == "number":
            lo = node.get("minimum", node.get("exclusiveMinimum", 0))
            hi = node.get("maximum", node.get("exclusiveMaximum", 10**6))
            return st.floats(float(lo), float(hi), allow_nan=False, exclude_max=True)
        if kind == "array":
            return st.lists(
                self.of(node.get("items", {}), name),
                min_size=node.get("minItems", 0),
                max_size=min(node.get("maxItems", 3), 3),
            )
        if kind == "object" or "properties" in node:
            return self.obj(node)
        if kind == "string":
            return self.string(node, name)
        return st.none()

    def string(self, node: dict[str, Any], name: str) -> st.SearchStrategy[str]:
        fmt = node.get("format")
        if fmt == "date-time":
            return TIMES
        if fmt == "date":
            return DATES
        if "locality" in name:
            return self.localities
        if name in PROGRAMME_REFS:
            return st.sampled_from(sorted(getattr(load_programme(), PROGRAMME_REFS[name])))
        is_id = name == "subject" or name.endswith(("_id", "_ids"))
        if is_id and node.get("pattern", "").startswith("^[a-z0-9]"):
            return self.ids
        pattern = node.get("pattern")
        if pattern:
            text = st.from_regex(re.compile(pattern, re.ASCII), fullmatch=True)
            lo, hi = node.get("minLength", 0), node.get("maxLength", 10**4)
            text = text.filter(lambda s: lo <= len(s) <= hi)
            if name == "ref":  # a document or minute number: it has digits
                text = text.filter(lambda s: any(c.isdigit() for c in s))
            return text
        return st.text(
            st.characters(codec="utf-8", categories=["L", "N"]),
            min_size=node.get("minLength", 0),
            max_size=min(node.get("maxLength", 20), 20),
        )

    def obj(self, node: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
        props = node.get("properties", {})
        required = set(node.get("required", []))
        return st.fixed_dictionaries(
            {k: self.of(v, k) for k, v in props.items() if k in required},
            optional={k: self.of(v, k) for k, v in props.items() if k not in required},
        )


def valid_events(spec: EventSpec) -> st.SearchStrategy[dict[str, Any]]:
    schema = spec.model.model_json_schema()
    strategies = SchemaStrategies(schema)
    data = strategies.of(schema["properties"]["data"], "data")
    source = source_of(spec.type)
    # A drawn reference can be ten digits that pass the NHS check: the guard rightly
    # refuses it, so it is not a valid event.
    return st.builds(
        lambda d, subject, time: {
            "id": "",  # the caller numbers each event
            "source": source,
            "type": spec.type,
            "subject": subject,
            "time": time,
            "data": d,
        },
        data,
        strategies.ids,
        TIMES,
    ).filter(lambda e: find_personal_data(e) is None)


def every_valid_event() -> st.SearchStrategy[dict[str, Any]]:
    specs = list(load_events().specs.values())
    return st.one_of([valid_events(s) for s in specs])


# --- defects: (name, reason ingest must give, mutation) --------------------------------

Mutation = Callable[[dict[str, Any], Any], dict[str, Any]]


def _without(field: str) -> Mutation:
    def cut(e: dict[str, Any], _draw: Any) -> dict[str, Any]:
        return {k: v for k, v in e.items() if k != field}

    return cut


def _set(path: str, value: Callable[[Any], Any]) -> Mutation:
    def put(e: dict[str, Any], draw: Any) -> dict[str, Any]:
        e = json.loads(json.dumps(e))
        *parents, last = path.split(".")
        target = e
        for p in parents:
            target = target[p]
        target[last] = value(draw)
        return e

    return put


PLANTED: set[str] = set()  # every personal value a defect put in an event


def _personal(draw: Any) -> str:
    rng = random.Random(draw(st.integers(0, 2**32)))
    kind = draw(st.sampled_from(["nhs", "upn", "postcode", "email", "name"]))
    if kind == "nhs":
        value = nhs_number(rng)
        shown = f"case-{value}"
    elif kind == "upn":
        value = upn(rng)
        shown = f"p_{value.lower()}_x"
    elif kind == "postcode":
        value = rng.choice(POSTCODES)
        shown = "case-" + value.replace(" ", "").lower()
    elif kind == "email":
        value = shown = "ottoline.quenby@fuzz-planted.test"
    else:
        value, shown = "ottoline-quenby", "person-ottoline-quenby"
    PLANTED.add(value)
    return shown


DEFECTS: list[tuple[str, str, Mutation]] = [
    ("no subject", "missing_field", _without("subject")),
    ("no time", "missing_field", _without("time")),
    ("unknown field", "unknown_field", _set("data.nickname_x", lambda d: "x")),
    ("far future", "implausible_time", _set("time", lambda d: "9999-12-31T00:00:00+00:00")),
    ("far past", "implausible_time", _set("time", lambda d: "0001-01-01T00:00:00+00:00")),
    ("personal subject", "personal_data", _set("subject", _personal)),
    ("unknown type", "unknown_type", _set("type", lambda d: "ehc.unheard-of.thing")),
    ("other source", "forbidden_source", _set("source", lambda d: "clock")),
    ("time not a time", "invalid_value", _set("time", lambda d: "yesterday-ish")),
    ("data not an object", "not_an_object", _set("data", lambda d: [1, 2])),
]
