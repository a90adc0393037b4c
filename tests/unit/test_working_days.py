"""Working-day due dates in England: weekends and English bank holidays (with
substitute days) are skipped; Scottish-only holidays are ordinary working days."""

from __future__ import annotations

from datetime import date

import pytest

from services.alerts.domain.workdays import (
    add_working_days,
    is_bank_holiday,
    is_working_day,
    working_days_between,
)


@pytest.mark.parametrize(
    ("start", "n", "due"),
    [
        # Christmas 2026: Fri 25 Dec, Sat 26 (Boxing Day), Mon 28 Dec (Boxing Day
        # observed), Fri 1 Jan 2027 are not working days.
        (date(2026, 12, 24), 10, date(2027, 1, 12)),
        (date(2026, 12, 24), 1, date(2026, 12, 29)),
        (date(2026, 12, 23), 2, date(2026, 12, 29)),
        # Christmas 2027: 25/26 fall at the weekend; 27 and 28 Dec are substitute days.
        (date(2027, 12, 24), 1, date(2027, 12, 29)),
        # Easter 2027 is 28 March: Good Friday 26 March, Easter Monday 29 March.
        (date(2027, 3, 22), 10, date(2027, 4, 7)),
        (date(2027, 3, 25), 1, date(2027, 3, 30)),
        (date(2027, 3, 26), 1, date(2027, 3, 30)),
        # Easter 2026: Good Friday 3 April, Easter Monday 6 April.
        (date(2026, 4, 2), 1, date(2026, 4, 7)),
        # A request made at the weekend counts from the next working day.
        (date(2026, 7, 18), 10, date(2026, 7, 31)),
        # Early May and spring bank holidays 2026.
        (date(2026, 5, 1), 1, date(2026, 5, 5)),
        (date(2026, 5, 22), 1, date(2026, 5, 26)),
        (date(2026, 6, 10), 0, date(2026, 6, 10)),
    ],
)
def test_add_working_days(start: date, n: int, due: date) -> None:
    assert add_working_days(start, n) == due
    assert working_days_between(start, due) == n


def test_bank_holidays_of_england() -> None:
    assert is_bank_holiday(date(2026, 12, 28))  # Boxing Day (substitute day)
    assert is_bank_holiday(date(2027, 3, 26)) and is_bank_holiday(date(2027, 3, 29))
    assert not is_working_day(date(2027, 3, 28))  # Easter Sunday
    # Scottish holidays are working days in England.
    assert is_working_day(date(2026, 11, 30))  # St Andrew's Day (Scotland only)
    assert is_working_day(date(2027, 1, 4))  # 2 January substitute (Scotland only)
    assert is_working_day(date(2026, 8, 3))  # Scotland's summer holiday


def test_negative_counts_are_refused() -> None:
    with pytest.raises(ValueError):
        add_working_days(date(2026, 1, 5), -1)
