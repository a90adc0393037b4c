"""The overview's headline metrics (``contracts/headlines.yaml``): each KPI's
``headline`` and ``indicator`` fields place its tile, lagging and leading indicators
side by side.  No KPI is named here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict

from contracts.kpi_dictionary import KpiDictionary
from services.reporting.domain.dashboard import Tile

FILE = Path(__file__).resolve().parents[3] / "contracts" / "headlines.yaml"


class Headline(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    title: str
    aim: str = ""
    default: bool = False


class HeadlinesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int
    headlines: list[Headline]


@lru_cache(maxsize=2)
def load_headlines(path: str | None = None) -> tuple[Headline, ...]:
    raw = yaml.safe_load(Path(path or FILE).read_text())
    return tuple(HeadlinesFile.model_validate(raw).headlines)


@dataclass
class HeadlineGroup:
    id: str
    title: str
    aim: str
    lagging: list[Tile] = field(default_factory=list)
    leading: list[Tile] = field(default_factory=list)

    @property
    def measured(self) -> bool:
        return bool(self.lagging or self.leading)


def group_tiles(
    dictionary: KpiDictionary, tiles: Sequence[Tile], headlines: Sequence[Headline]
) -> list[HeadlineGroup]:
    """Every headline metric in order, with the tiles of the KPIs that belong to it;
    a KPI without ``indicator`` counts as lagging when it is the headline's first."""
    groups = {h.id: HeadlineGroup(h.id, h.title, h.aim) for h in headlines}
    default = next((h.id for h in headlines if h.default), headlines[0].id if headlines else "")
    for t in tiles:
        k = dictionary.kpis[t.kpi]
        gid = default if k.headline is True else str(k.headline)
        group = groups.get(gid)
        if group is None:
            continue
        if k.indicator == "leading" or (k.indicator is None and group.lagging):
            group.leading.append(t)
        else:
            group.lagging.append(t)
    return list(groups.values())
