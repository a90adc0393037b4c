"""Splitting a posted body into items: a deeply nested item is rejected alone, its
neighbours are decoded, whatever the depth (Python's decoder stops near 1,000 levels)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.dlq import RejectReason
from contracts.sources import load_sources
from services.ingest.domain.batch import (
    TooDeep,
    Unreadable,
    decode_batch,
    nesting_exceeds,
    split_items,
)
from services.ingest.domain.intake import check_batch
from tests.helpers import case_event


def deep(n: int) -> str:
    return '{"id": "evt-deep-00000001", "data": ' + "[" * n + "]" * n + "}"


@pytest.mark.parametrize("depth", [40, 950, 5_000, 100_000])
@pytest.mark.parametrize("wrapped", [False, True])
def test_a_deep_item_is_rejected_alone(depth: int, wrapped: bool) -> None:
    good = [json.dumps(case_event(1)), json.dumps(case_event(2))]
    array = "[" + ",".join([good[0], deep(depth), good[1]]) + "]"
    body = '{"events": ' + array + "}" if wrapped else array
    items = decode_batch(body.encode(), max_depth=32)
    assert items[0] == case_event(1) and items[2] == case_event(2)
    assert isinstance(items[1], TooDeep) and items[1].depth == depth + 1
    assert items[1].raw == deep(depth)
    source = load_sources().sources["case-management"]
    verdicts = check_batch(items, "case-management", source, datetime.now(UTC))
    assert [v.reason for v in verdicts] == [None, RejectReason.TOO_DEEP, None]
    assert "nested" in (verdicts[1].message or "")


def test_a_lone_deep_body_is_one_item_and_bad_json_still_raises() -> None:
    (item,) = decode_batch(deep(3_000).encode(), max_depth=32)
    assert isinstance(item, TooDeep)
    with pytest.raises(ValueError):
        decode_batch(b'[{"id": "x",', max_depth=32)
    with pytest.raises(ValueError):
        decode_batch(("[" * 5_000).encode(), max_depth=32)


def test_a_broken_item_beside_a_deep_one_is_unreadable_not_fatal() -> None:
    body = "[" + deep(2_000) + ', {"id": tru}, ' + json.dumps(case_event(1)) + "]"
    items = decode_batch(body, max_depth=32)
    assert isinstance(items[0], TooDeep) and isinstance(items[1], Unreadable)
    assert items[2] == case_event(1)


def test_strings_with_brackets_and_escapes_do_not_confuse_the_scanner() -> None:
    tricky = {"id": 'a"[{,]}\\"', "data": {"x": ["]", "\\", "{"]}}
    body = "[" + deep(1_500) + "," + json.dumps(tricky) + "]"
    items = decode_batch(body, max_depth=32)
    assert items[1] == tricky


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3)
    ),
    max_leaves=20,
)


def _depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


@given(st.lists(json_values, max_size=6))
def test_the_scanner_agrees_with_the_decoder(items: list[object]) -> None:
    text = json.dumps(items)
    spans = split_items(text)
    assert [json.loads(raw) for raw, _ in spans] == items
    assert [d for _, d in spans] == [_depth(i) for i in items]
    for item in items:
        assert nesting_exceeds(item, 2) == (_depth(item) > 2)
