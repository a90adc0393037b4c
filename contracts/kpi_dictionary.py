"""The KPI dictionary (``kpis.yaml`` or ``SENDWATCH_KPIS_FILE``): definitions, owners,
baselines, trajectories, standards and RAG rules.  Shared by timeliness, alerts and
reporting so every service reads the same targets."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict

_DEFAULT = Path(__file__).with_name("kpis.yaml")

CycleKind = Literal[
    "week", "month", "quarter", "plan_year", "calendar_year", "rolling_12", "current"
]
Rag = Literal["green", "amber", "red", "none"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KpiDef(_Strict):
    name: str
    ref: str
    measure: Literal["within_days", "open_count", "backlog"]
    start: str | None = None
    end: str | None = None
    limit_days: int | None = None
    exceptions: Literal["include", "exclude"] = "include"
    unit: Literal["percent", "count"]
    direction: Literal["higher", "lower", "none"]
    workstream: str
    owner: str
    baseline: float | None
    standard: float | None
    trajectory: dict[str, float]
    cycles: list[CycleKind]
    headline: bool = False
    escalation_policy: str | None = None


class RagRule(_Strict):
    amber_margin: float = 5.0


class KpiDictionary(_Strict):
    version: int
    plan_year_start_month: int = 4
    rag: RagRule = RagRule()
    grace_days: dict[str, int]
    breakdowns: list[str]
    kpis: dict[str, KpiDef]


@lru_cache(maxsize=4)
def load_kpis(path: str | None = None) -> KpiDictionary:
    file = Path(path or os.environ.get("SENDWATCH_KPIS_FILE") or _DEFAULT)
    return KpiDictionary.model_validate(yaml.safe_load(file.read_text()))
