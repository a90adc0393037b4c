"""A capacity figure corrected in place (same span, new value) restates the closed census
cycles it covered.  Before, a change of the value alone was taken for "only the close
moved", no census day was affected, and the closed months kept the old capacity: the
measure-engine property test found streamed and batch occupancy differing by it."""

from __future__ import annotations

from datetime import date

from services.timeliness.domain.fold import SpanChange
from services.timeliness.domain.measures.base import Span
from services.timeliness.service_layer.census import _affected

KEY = "capacity:base_occupancy"


def test_a_new_value_on_the_same_span_affects_the_days_it_covers() -> None:
    old = Span(KEY, "base-1", 0, date(2026, 1, 5), date(2026, 3, 1), value=None)
    new = Span(KEY, "base-1", 0, date(2026, 1, 5), date(2026, 3, 1), value=7)
    change = SpanChange("base-1", {(KEY, 0): old}, {(KEY, 0): new})
    days = _affected(change, KEY)
    assert (date(2026, 1, 5), date(2026, 3, 1)) in days


def test_only_a_moved_close_affects_only_the_days_between_the_closes() -> None:
    old = Span(KEY, "base-1", 0, date(2026, 1, 5), date(2026, 3, 1), value=7)
    new = Span(KEY, "base-1", 0, date(2026, 1, 5), date(2026, 4, 1), value=7)
    change = SpanChange("base-1", {(KEY, 0): old}, {(KEY, 0): new})
    assert _affected(change, KEY) == [(date(2026, 3, 1), date(2026, 4, 1))]
