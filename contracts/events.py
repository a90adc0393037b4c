"""The events registry: every event type sendwatch accepts, in one place.

Each entry says what an event type is: its contract (an :class:`Envelope` with a typed
``data`` model), the topic it travels on (an alias in ``topics.yaml``), the kind of
subject it is about (``case``, ``referral``, ``person``, ``service`` ...) and which of its
data fields are **breakdown attributes** (locality, phase, cohort ...: the latest event
carrying a value wins).  Ingest accepts exactly the registered types and publishes each
to its topic; the timeliness service consumes every topic that carries a registered
type and folds every event into a subject state the measure engine reads.

Types come from two places:

* **Contract modules**: every ``contracts/<domain>_events.py`` module defines
  ``EVENTS: list[EventSpec]``; they are found by name, so a new domain adds its module
  and nothing else.
* **YAML** (``SENDWATCH_EVENTS_FILE``, optional): simple event types declared as data,
  each field typed ``str`` (with an ``enum`` or a ``pattern``, so free text cannot carry
  personal data), ``int``, ``float`` or ``bool``.  Used by test fixtures, and by a
  council that needs a simple feed (a reported figure, a capacity line) before a
  contract module exists.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal, Union, cast, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, create_model

from contracts.envelope import Envelope, StrictModel

ModelClass = type[BaseModel]
EnvelopeClass = type[Envelope]  # type: ignore[type-arg]

Scalar = str | int | float | bool | None
AttributeRule = Callable[[Any], Mapping[str, str | None]]


@dataclass(frozen=True)
class EventSpec:
    """One registered event type."""

    type: str
    model: EnvelopeClass
    topic: str  # topic alias in topics.yaml
    subject_kind: str
    attributes: tuple[str, ...] = ()  # data fields that are breakdown attributes
    derive: AttributeRule | None = None  # attribute values the event implies
    description: str = ""

    @cached_property
    def data_model(self) -> ModelClass:
        annotation = self.model.model_fields["data"].annotation
        assert isinstance(annotation, type) and issubclass(annotation, BaseModel)
        return annotation

    @cached_property
    def fact_fields(self) -> tuple[str, ...]:
        """The data fields kept on each fact: every field that is not an attribute."""
        return tuple(n for n in self.data_model.model_fields if n not in self.attributes)


def spec_of(
    model: EnvelopeClass,
    topic: str,
    kind: str,
    attributes: tuple[str, ...] = (),
    *,
    derive: AttributeRule | None = None,
    description: str | None = None,
) -> EventSpec:
    """The spec of a contract module's event model: its type is the model's ``type``
    literal, its description the model's docstring unless one is given."""
    declared = model.model_fields["type"]
    event_type = declared.default if isinstance(declared.default, str) else None
    return EventSpec(
        type=event_type or str(get_args(declared.annotation)[0]),
        model=model,
        topic=topic,
        subject_kind=kind,
        attributes=attributes,
        derive=derive,
        description=(model.__doc__ or "").strip() if description is None else description,
    )


@dataclass(frozen=True)
class Observation:
    """What the measure engine keeps of one event: its subject, type, time, attribute
    values and the scalar values of its other data fields."""

    subject: str
    kind: str
    type: str
    time: datetime
    attrs: dict[str, str]
    fields: dict[str, Scalar]


_PLAIN = (str, int, float, bool, type(None))


def scalar(value: Any) -> Scalar:
    if type(value) in _PLAIN:
        return value  # type: ignore[no-any-return]
    if isinstance(value, Enum):
        return scalar(value.value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


@dataclass
class EventRegistry:
    specs: dict[str, EventSpec] = field(default_factory=dict)

    def register(self, spec: EventSpec) -> None:
        if spec.type in self.specs:
            raise ValueError(f"event type {spec.type!r} is registered twice")
        if spec.type == "clock.tick":
            raise ValueError("clock.tick is not an event type a domain can register")
        self.specs[spec.type] = spec

    def knows(self, event_type: object) -> bool:
        return isinstance(event_type, str) and event_type in self.specs

    def topic_of(self, event_type: str) -> str:
        return self.specs[event_type].topic

    @property
    def topics(self) -> list[str]:
        """Every topic alias that carries a registered type, in registration order."""
        return list(dict.fromkeys(s.topic for s in self.specs.values()))

    def types_on(self, topic: str) -> list[str]:
        return [t for t, s in self.specs.items() if s.topic == topic]

    def subject_kinds(self) -> set[str]:
        return {s.subject_kind for s in self.specs.values()}

    @cached_property
    def _adapter(self) -> TypeAdapter[Any]:
        from contracts.timeline import ClockTick  # timeline imports the case contract

        models = [ClockTick, *(s.model for s in self.specs.values())]
        union: Any = Annotated[Union[tuple(models)], Field(discriminator="type")]  # noqa: UP007
        return TypeAdapter(union)

    @cached_property
    def _event_adapter(self) -> TypeAdapter[Any]:
        models = [s.model for s in self.specs.values()]
        if len(models) == 1:
            return TypeAdapter(models[0])
        union: Any = Annotated[Union[tuple(models)], Field(discriminator="type")]  # noqa: UP007
        return TypeAdapter(union)

    def parse(self, raw: bytes | str, *, privacy_checked: bool = False) -> Envelope:  # type: ignore[type-arg]
        """A registered event or a clock tick, from a topic.  ``privacy_checked``: the
        topic's only producer (ingest) has scanned every event it published."""
        context = {"privacy_checked": True} if privacy_checked else None
        result: Envelope = self._adapter.validate_json(raw, context=context)  # type: ignore[type-arg]
        return result

    def parse_event(
        self,
        raw: bytes | str | dict[str, Any],
        *,
        privacy_checked: bool = False,
    ) -> Envelope:  # type: ignore[type-arg]
        """A registered event (not a tick); ``privacy_checked`` as in the envelope."""
        context = {"privacy_checked": True} if privacy_checked else None
        if isinstance(raw, dict):
            event: Envelope = self._event_adapter.validate_python(raw, context=context)  # type: ignore[type-arg]
        else:
            event = self._event_adapter.validate_json(raw, context=context)
        return event

    def observe(self, event: Envelope) -> Observation:  # type: ignore[type-arg]
        """The event as the measure engine keeps it."""
        spec = self.specs[event.type]
        data = event.data
        raw = data.__dict__
        attrs: dict[str, str] = {}
        for name in spec.attributes:
            value = raw.get(name)
            if value is not None:
                attrs[name] = value.value if isinstance(value, Enum) else str(value)
        if spec.derive is not None:
            for name, value in spec.derive(data).items():
                if value is not None:
                    attrs[name] = value
        fields = {name: scalar(raw.get(name)) for name in spec.fact_fields}
        return Observation(event.subject, spec.subject_kind, event.type, event.time, attrs, fields)


# --- event types declared in YAML ------------------------------------------------------


class FieldDecl(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["str", "int", "float", "bool"] = "str"
    enum: list[str] | None = None
    pattern: str | None = None
    required: bool = True
    ge: float | None = None
    le: float | None = None


class TypeDecl(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    topic: str
    subject: str
    description: str = ""
    attributes: dict[str, FieldDecl] = {}
    fields: dict[str, FieldDecl] = {}


class EventsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int
    types: dict[str, TypeDecl] = {}


_TYPE_NAME = re.compile(r"^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+$")


def _annotation(name: str, decl: FieldDecl) -> Any:
    if decl.type != "str":
        base: Any = {"int": int, "float": float, "bool": bool}[decl.type]
        if decl.ge is not None or decl.le is not None:
            base = Annotated[base, Field(ge=decl.ge, le=decl.le)]
        return base
    if decl.enum:
        return Literal[tuple(decl.enum)]
    if decl.pattern:
        return Annotated[str, Field(pattern=decl.pattern)]
    raise ValueError(f"field {name!r}: a str field needs an enum or a pattern (no free text)")


def declared_spec(event_type: str, decl: TypeDecl) -> EventSpec:
    """An :class:`EventSpec` built from a YAML declaration."""
    if not _TYPE_NAME.match(event_type):
        raise ValueError(f"event type {event_type!r} is not dotted lower-case words")
    fields: dict[str, Any] = {}
    for name, f in {**decl.attributes, **decl.fields}.items():
        ann = _annotation(name, f)
        fields[name] = (ann, ...) if f.required else (ann | None, None)
    stem = "".join(p.capitalize() for p in re.split(r"[.-]", event_type))
    data = create_model(f"{stem}Data", __base__=StrictModel, **fields)
    literal: Any = Literal[event_type]
    base: Any = Envelope[data]
    model = cast(EnvelopeClass, create_model(stem, __base__=base, type=(literal, ...)))
    return EventSpec(
        type=event_type,
        model=model,
        topic=decl.topic,
        subject_kind=decl.subject,
        attributes=tuple(decl.attributes),
        description=decl.description,
    )


def _contract_modules() -> Iterable[Any]:
    import contracts

    for info in sorted(pkgutil.iter_modules(contracts.__path__), key=lambda i: i.name):
        if info.name.endswith("_events"):
            yield importlib.import_module(f"contracts.{info.name}")


@lru_cache(maxsize=4)
def load_events(path: str | None = None) -> EventRegistry:
    """The registry: every ``contracts/*_events.py`` module's ``EVENTS``, plus the types
    declared in ``path`` (or ``SENDWATCH_EVENTS_FILE``) if given."""
    registry = EventRegistry()
    for module in _contract_modules():
        for spec in getattr(module, "EVENTS", []):
            registry.register(spec)
    file = path or os.environ.get("SENDWATCH_EVENTS_FILE")
    if file:
        declared = EventsFile.model_validate(yaml.safe_load(Path(file).read_text()))
        for event_type, decl in declared.types.items():
            registry.register(declared_spec(event_type, decl))
    return registry
