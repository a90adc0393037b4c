"""Fixtures for the unit tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from contracts.plausibility import load_window


@pytest.fixture
def years_ahead(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Widen the plausibility window ten years ahead, for tests about dates further in the
    future than the shipped window allows (it is configurable, SENDWATCH_TIME_FUTURE_DAYS)."""
    monkeypatch.setenv("SENDWATCH_TIME_FUTURE_DAYS", "3650")
    load_window.cache_clear()
    yield
    load_window.cache_clear()
