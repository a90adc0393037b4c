"""Statutory clock rules (``clocks.yaml`` or ``SENDWATCH_CLOCKS_FILE``)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

_DEFAULT = Path(__file__).with_name("clocks.yaml")


class MilestoneRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    start: str = Field(alias="from")
    done: list[str]
    due_day: int
    warn_day: int | None = None
    kpi: str
    requires: list[Literal["assessing", "issuing"]] = []


class ClockRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int
    milestones: dict[str, MilestoneRule]


@lru_cache(maxsize=4)
def load_clocks(path: str | None = None) -> ClockRules:
    file = Path(path or os.environ.get("SENDWATCH_CLOCKS_FILE") or _DEFAULT)
    return ClockRules.model_validate(yaml.safe_load(file.read_text()))
