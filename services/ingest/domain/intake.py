"""Decide, for each posted item, whether it is accepted onto the bus and if not why.

Pure: takes decoded JSON values and the authenticated source, returns verdicts.  The
checks run in this order, so the reason given is the most important one:
not an object -> personal data -> type routed to a contract -> source allowed -> schema
(which includes the plausibility window on every time and the locality list).

A verdict's message never repeats a posted value (the sender may have put personal data
in any field), and its field path is sanitised the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from contracts.dlq import RejectReason, classify, plausible_event_id, safe_event_id, safe_field
from contracts.envelope import Envelope
from contracts.events import EventRegistry, load_events
from contracts.privacy import find_personal_data
from contracts.sources import SourceSpec
from contracts.timeline import ClockTick
from services.ingest.domain.batch import TooDeep, Unreadable


@dataclass(slots=True)  # not frozen: its __init__ is per event
class Verdict:
    index: int
    event_id: str | None
    reason: RejectReason | None = None
    field: str | None = None
    message: str | None = None
    event: Envelope | None = None  # type: ignore[type-arg]

    @property
    def is_tick(self) -> bool:
        return isinstance(self.event, ClockTick)

    @property
    def accepted(self) -> bool:
        return self.reason is None

    def as_result(self) -> dict[str, Any]:
        if self.accepted:
            return {"index": self.index, "id": self.event_id, "status": "accepted"}
        result: dict[str, Any] = {
            "index": self.index,
            "id": self.event_id,
            "status": "rejected",
            "reason": self.reason.value if self.reason else None,
            "field": self.field,
            "message": self.message,
        }
        if self.reason is RejectReason.CONFLICT:
            result["code"] = 409  # the item's own status: same id, other content
        return result


def check_item(
    index: int,
    item: Any,
    source_id: str,
    source: SourceSpec,
    now: datetime,
    registry: EventRegistry | None = None,
    memo: dict[tuple[int, str], str | None] | None = None,
) -> Verdict:
    registry = registry or load_events()
    if isinstance(item, TooDeep):
        return Verdict(
            index,
            None,
            RejectReason.TOO_DEEP,
            None,
            f"an event is nested {item.depth} levels deep; at most {item.limit}",
        )
    if isinstance(item, Unreadable):
        return Verdict(index, None, RejectReason.MALFORMED_JSON, None, "this item is not JSON")
    if not isinstance(item, dict):
        return Verdict(
            index, None, RejectReason.NOT_AN_OBJECT, None, "an event must be a JSON object"
        )
    pii = find_personal_data(item, memo=memo)  # the id too: a clean item's id needs its shape only
    event_id = plausible_event_id(item.get("id")) if pii is None else safe_event_id(item.get("id"))
    if pii is not None:
        where, kind = pii
        return Verdict(
            index,
            event_id,
            RejectReason.PERSONAL_DATA,
            safe_field(where),
            f"personal data is not allowed in events ({kind})",
        )
    event_type = item.get("type")
    if not registry.knows(event_type) and event_type != "clock.tick":
        return Verdict(index, event_id, RejectReason.UNKNOWN_TYPE, "type", "unknown event type")
    claimed = item.get("source")
    if claimed != source_id:
        return Verdict(
            index,
            event_id,
            RejectReason.FORBIDDEN_SOURCE,
            "source",
            f"this API key belongs to {source_id!r}, not to the source the event names",
        )
    if not source.may_send(str(event_type)):
        return Verdict(
            index,
            event_id,
            RejectReason.FORBIDDEN_SOURCE,
            "type",
            f"source {source_id!r} may not send {event_type!r}",
        )
    if item.get("recorded") is None:
        item = {**item, "recorded": now}
    try:
        event: Envelope = (  # type: ignore[type-arg]
            ClockTick.model_validate(item, context={"privacy_checked": True})
            if event_type == "clock.tick"
            else registry.parse_event(item, privacy_checked=True)
        )
    except ValidationError as exc:
        reason, field, message = classify(exc)
        return Verdict(index, event_id, reason, field, message)
    return Verdict(index, event.id, event=event)


def check_batch(
    items: list[Any],
    source_id: str,
    source: SourceSpec,
    now: datetime,
    registry: EventRegistry | None = None,
) -> list[Verdict]:
    registry = registry or load_events()
    memo: dict[tuple[int, str], str | None] = {}  # one verdict per distinct string
    return [
        check_item(i, item, source_id, source, now, registry, memo) for i, item in enumerate(items)
    ]


def all_foreign(verdicts: list[Verdict]) -> bool:
    """True when every event in the request claims a source the key does not own."""
    return bool(verdicts) and all(v.reason is RejectReason.FORBIDDEN_SOURCE for v in verdicts)
