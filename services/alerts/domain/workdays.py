"""Working days in England (kept in ``contracts.working_days``, which the timeliness
clocks count in too)."""

from __future__ import annotations

from contracts.working_days import (
    add_working_days,
    is_bank_holiday,
    is_working_day,
    working_days_between,
)

__all__ = ["add_working_days", "is_bank_holiday", "is_working_day", "working_days_between"]
