"""Stored spans read back as they were written (the compact reading of timeliness_span
rows: shared attribute strings, empty pauses and exclusions not parsed)."""

from __future__ import annotations

import sys
from datetime import date
from types import SimpleNamespace

import pytest

from services.timeliness.adapters.sql import _span, _span_row
from services.timeliness.domain.measures.base import Span

SPANS = [
    Span("final_plan", "case-1", 0, date(2025, 1, 2), None),
    Span(
        "ehcp_active_case",
        "case-2",
        1,
        date(2024, 5, 6),
        date(2025, 3, 1),
        nullified=True,
        pauses=((date(2024, 6, 1), date(2024, 6, 9)), (date(2025, 1, 1), None)),
        value=7,
        excluded=frozenset({"k1", "k9"}),
        attrs={"locality": "shrewsbury", "person_id": "p-0123456789abcdef0123", "phase": "primary"},
    ),
]


@pytest.mark.parametrize("span", SPANS)
def test_a_span_row_reads_back_equal(span: Span) -> None:
    row = SimpleNamespace(**_span_row(span))
    back = _span(row)
    assert back == span
    assert back.attrs == span.attrs and back.pauses == span.pauses


def test_read_spans_share_attribute_strings_but_not_the_person_id() -> None:
    a, b = (
        _span(SimpleNamespace(**_span_row(s)))
        for s in (
            Span(
                "c",
                "case-a",
                0,
                date(2025, 1, 1),
                None,
                attrs={"locality": "ludlow", "person_id": "p-aa"},
            ),
            Span(
                "c",
                "case-b",
                0,
                date(2025, 1, 1),
                None,
                attrs={"locality": "ludlow", "person_id": "p-bb"},
            ),
        )
    )
    assert a.attrs["locality"] is b.attrs["locality"] is sys.intern("ludlow")
    assert a.attrs["person_id"] != b.attrs["person_id"]
    assert not hasattr(a, "__dict__")  # slotted: a census holds every open span at once
