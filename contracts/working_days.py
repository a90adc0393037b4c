"""Working days in England: Monday to Friday, excluding English bank holidays (from the
``holidays`` package, including substitute days such as Boxing Day observed)."""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays


@lru_cache(maxsize=64)
def _bank_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=year).keys())


def is_bank_holiday(d: date) -> bool:
    return d in _bank_holidays(d.year)


def is_working_day(d: date) -> bool:
    return d.weekday() < 5 and not is_bank_holiday(d)


def add_working_days(start: date, n: int) -> date:
    """The date ``n`` working days after ``start`` (``start`` itself never counts).

    2026-12-24 + 10 working days = 2027-01-12 (Christmas, Boxing Day observed on
    28 December, and New Year's Day are skipped).
    """
    if n < 0:
        raise ValueError("n must be >= 0")
    d = start
    left = n
    while left > 0:
        d += timedelta(days=1)
        if is_working_day(d):
            left -= 1
    return d


def working_days_between(start: date, end: date) -> int:
    """Working days in (start, end]: how many ``add_working_days`` steps from start to end."""
    count = 0
    d = start
    while d < end:
        d += timedelta(days=1)
        if is_working_day(d):
            count += 1
    return count
