"""The NHS community referrals configuration (``contracts/referrals.yaml``): pathways,
the CHS SitRep export layout, the R5 measures."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

DEFAULT = Path(__file__).with_name("referrals.yaml")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Pathway(_Strict):
    name: str
    clock: str
    waiting_kpi: str


class ChsLayout(_Strict):
    kpi: str
    breakdown: str
    threshold_days: int = Field(ge=1)
    band_columns: list[str] = Field(min_length=1)


class Partnership(_Strict):
    advice_kpi: str
    outcome_kpi: str


class ReferralsConfig(_Strict):
    version: int
    pathways: dict[str, Pathway]
    chs_waiting_list: ChsLayout
    r5_measures: list[str] = []
    partnership: Partnership | None = None


@lru_cache(maxsize=4)
def load_referrals(path: str | None = None) -> ReferralsConfig:
    file = path or str(DEFAULT)
    return ReferralsConfig.model_validate(yaml.safe_load(Path(file).read_text()))
