"""The plausibility window for dates and times in the contracts (``plausibility.yaml``).

Every date and time an event carries must lie between ``earliest`` and the wall clock
plus ``future_days``.  The check is part of the contract types (:data:`PlausibleTime`,
:data:`PlausibleDate`), so ingest, the imports and every consumer enforce the same rule,
and a value like 9999-12-31 never reaches the clock arithmetic.  Error messages name the
window, never the value.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import AfterValidator, AwareDatetime
from pydantic_core import PydanticCustomError

_DEFAULT = Path(__file__).with_name("plausibility.yaml")

IMPLAUSIBLE_TIME = "implausible_time"
"""The pydantic error type (and dead-letter reason) of a value outside the window."""


@dataclass(frozen=True)
class TimeWindow:
    earliest: date
    future_days: int
    derived_days: int = 366

    def latest(self, now: datetime, *, derived: bool = False) -> date:
        days = self.future_days + (self.derived_days if derived else 0)
        try:
            return (now.astimezone(UTC) + timedelta(days=days)).date()
        except OverflowError:  # a window configured wider than the calendar
            return date.max

    def problem(
        self, value: date | datetime, now: datetime | None = None, *, derived: bool = False
    ) -> str | None:
        """Why ``value`` is implausible (a sentence naming the window), or None."""
        now = now or datetime.now(UTC)
        latest = self.latest(now, derived=derived)
        try:
            day = value.astimezone(UTC).date() if isinstance(value, datetime) else value
        except OverflowError:  # e.g. 9999-12-31T23:00-05:00 is in year 10000 in UTC
            day = None
        if day is not None and self.earliest <= day <= latest:
            return None
        return f"outside the plausible window {self.earliest.isoformat()} to {latest.isoformat()}"

    def contains(self, value: date | datetime, now: datetime | None = None) -> bool:
        return self.problem(value, now) is None


@lru_cache(maxsize=4)
def load_window(path: str | None = None) -> TimeWindow:
    file = Path(path or os.environ.get("SENDWATCH_PLAUSIBILITY_FILE") or _DEFAULT)
    doc: dict[str, Any] = yaml.safe_load(file.read_text(encoding="utf-8"))
    earliest = os.environ.get("SENDWATCH_TIME_EARLIEST") or doc["earliest"]
    future = os.environ.get("SENDWATCH_TIME_FUTURE_DAYS") or doc["future_days"]
    return TimeWindow(
        earliest=earliest if isinstance(earliest, date) else date.fromisoformat(str(earliest)),
        future_days=int(future),
        derived_days=int(doc.get("derived_days", 366)),
    )


def _raise(problem: str) -> None:
    raise PydanticCustomError(IMPLAUSIBLE_TIME, "{problem}", {"problem": problem})


_BOUNDS: list[Any] = [None, 0.0, None]  # window, monotonic expiry, (low, high)


def _bounds(window: TimeWindow) -> tuple[datetime, datetime]:
    """The window as aware datetimes [earliest, day after latest), recomputed once a
    minute of the wall clock at most (every event time is checked: this keeps the date
    arithmetic off the per-value path)."""
    if _BOUNDS[0] is window and time.monotonic() < _BOUNDS[1]:
        found: tuple[datetime, datetime] = _BOUNDS[2]
        return found
    now = datetime.now(UTC)
    latest = window.latest(now)
    high = (
        datetime.combine(latest + timedelta(days=1), datetime.min.time(), UTC)
        if latest < date.max
        else datetime.max.replace(tzinfo=UTC)
    )
    found = (datetime.combine(window.earliest, datetime.min.time(), UTC), high)
    # until the next minute of the wall clock, so a new day is seen within a minute
    _BOUNDS[:] = [window, time.monotonic() + 60 - now.second - now.microsecond / 1e6, found]
    return found


def _time(value: datetime) -> datetime:
    window = load_window()
    low, high = _bounds(window)
    try:
        if low <= value < high:
            return value
    except OverflowError:
        pass
    problem = window.problem(value)
    if problem is not None:
        _raise(problem)
    return value


def _date(value: date) -> date:
    problem = load_window().problem(value)
    if problem is not None:
        _raise(problem)
    return value


def _derived_date(value: date) -> date:
    problem = load_window().problem(value, derived=True)
    if problem is not None:
        _raise(problem)
    return value


PlausibleTime = Annotated[AwareDatetime, AfterValidator(_time)]
"""An aware datetime inside the window (event times)."""
PlausibleDate = Annotated[date, AfterValidator(_date)]
"""A date inside the window."""
DerivedDate = Annotated[date, AfterValidator(_derived_date)]
"""A date computed from an event's date (e.g. a due date): the window plus
``derived_days``."""
