"""Split a posted body into its items, so one bad item never costs its neighbours.

Pure.  A body is a JSON array of events, an object ``{"events": [...]}`` or one event.
An item nested deeper than the limit is not decoded: it becomes :class:`TooDeep`
holding its text (for the dead letter's digest), and its neighbours are decoded as
usual.  Python's decoder gives up at about 1,000 levels for the whole body, so when it
does, a scanner (strings skipped by a regular expression, brackets counted) finds each
item's span and depth instead.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TooDeep:
    """An item nested deeper than the limit (its text, never decoded)."""

    raw: str
    depth: int
    limit: int


@dataclass(frozen=True)
class Unreadable:
    """An item whose text is not JSON (found by the scanner when the body as a whole
    could not be decoded for its depth)."""

    raw: str


Item = Any  # a decoded JSON value, TooDeep or Unreadable

_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{},:]')


def decode_batch(body: bytes | str, max_depth: int) -> list[Item]:
    """The items of ``body``.  Raises ValueError when the body is not JSON (or not
    UTF-8), with the decoder's position only."""
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    try:
        payload = json.loads(text)
    except RecursionError:
        return [_decode_span(raw, depth, max_depth) for raw, depth in split_items(text)]
    items = _items_of(payload)
    deep = [i for i, item in enumerate(items) if nesting_exceeds(item, max_depth)]
    if not deep:
        return items
    spans = split_items(text)
    for i in deep:
        raw, depth = spans[i]
        items[i] = TooDeep(raw, depth, max_depth)
    return items


def _items_of(payload: Any) -> list[Any]:
    if isinstance(payload, dict) and isinstance(payload.get("events"), list):
        return list(payload["events"])
    return list(payload) if isinstance(payload, list) else [payload]


def _decode_span(raw: str, depth: int, max_depth: int) -> Item:
    if depth > max_depth:
        return TooDeep(raw, depth, max_depth)
    try:
        return json.loads(raw)
    except ValueError:
        return Unreadable(raw)


def nesting_exceeds(value: Any, limit: int) -> bool:
    """True when ``value`` has containers nested more than ``limit`` deep (an object
    or array is level 1).  Iterative: no recursion limit."""
    if not isinstance(value, dict | list):
        return False
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        for child in children:
            if isinstance(child, dict | list):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False


def split_items(text: str) -> list[tuple[str, int]]:
    """Each item's text and nesting depth, in order, found without decoding.  Raises
    ValueError when the brackets do not balance."""
    start = len(text) - len(text.lstrip())
    if start >= len(text) or text[start] not in "[{":
        return [(text.strip(), 0)]
    items_at = _events_array(text, start) if text[start] == "{" else start
    if items_at is None:
        return [(text.strip(), _depth_of(text, start))]
    spans: list[tuple[str, int]] = []
    depth = 0  # relative to the items' array
    deepest = 0
    item_start = items_at + 1
    for m in _TOKEN.finditer(text, items_at):
        tok = m.group()
        if tok in "[{":
            depth += 1
            deepest = max(deepest, depth - 1)
        elif tok in "]}":
            depth -= 1
            if depth == 0:
                if text[item_start : m.start()].strip():
                    spans.append((text[item_start : m.start()].strip(), deepest))
                return spans
        elif tok == "," and depth == 1:
            spans.append((text[item_start : m.start()].strip(), deepest))
            item_start, deepest = m.end(), 0
    raise ValueError("unbalanced brackets")


def _events_array(text: str, start: int) -> int | None:
    """Where the ``events`` array of the top-level object at ``start`` opens, if any."""
    depth = 0
    key: str | None = None
    after_colon: int | None = None
    for m in _TOKEN.finditer(text, start):
        tok = m.group()
        if after_colon is not None:
            if key == '"events"' and tok == "[" and not text[after_colon : m.start()].strip():
                return m.start()
            after_colon = None
        if tok in "[{":
            depth += 1
        elif tok in "]}":
            depth -= 1
            if depth == 0:
                return None
        elif tok == ":" and depth == 1:
            after_colon = m.end()
        elif tok.startswith('"') and depth == 1:
            key = tok
        elif tok == "," and depth == 1:
            key = None
    raise ValueError("unbalanced brackets")


def _depth_of(text: str, start: int) -> int:
    depth = deepest = 0
    for m in _TOKEN.finditer(text, start):
        tok = m.group()
        if tok in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif tok in "]}":
            depth -= 1
            if depth == 0:
                return deepest
    raise ValueError("unbalanced brackets")
