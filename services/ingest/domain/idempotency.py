"""Idempotency at ingest: an event is identified by (source, id), and its content by a
digest.  The same key with the same content is a retry (accepted again, applied once
downstream); with different content it is a ``conflict``.  Pure."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from pydantic import TypeAdapter

from contracts.envelope import Envelope

Key = tuple[str, str]


_TIME = TypeAdapter(datetime)


def serialise(event: Envelope) -> tuple[bytes, str]:  # type: ignore[type-arg]
    """The event's JSON for the bus, and its content digest: SHA-256 of the event as
    validated, without ``recorded`` (which ingest stamps on arrival, so a retry of the
    same event may differ only there).  One serialisation serves both: ``recorded`` is
    appended to the digested text as the last member."""
    text = event.model_dump_json(exclude={"recorded"}).encode()
    digest = hashlib.sha256(text).hexdigest()
    if event.recorded is None:
        return text, digest
    return text[:-1] + b',"recorded":' + _TIME.dump_json(event.recorded) + b"}", digest


@dataclass(slots=True)  # not frozen: its __init__ is per event
class Claimed:
    index: int
    key: Key
    digest: str


def conflicts(
    claimed: Sequence[Claimed], known: Mapping[Key, str]
) -> tuple[set[int], list[Claimed]]:
    """Which items conflict (a key seen before, or earlier in the batch, with another
    digest), and the new keys to remember once the batch is stored."""
    first: dict[Key, str] = dict(known)
    bad: set[int] = set()
    new: list[Claimed] = []
    for c in claimed:
        prior = first.get(c.key)
        if prior is None:
            first[c.key] = c.digest
            new.append(c)
        elif prior != c.digest:
            bad.add(c.index)
    return bad, new
