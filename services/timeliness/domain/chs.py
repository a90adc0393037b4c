"""The CHS SitRep waiting-list layout, from the census cells of a waiting-list KPI (pure).

Rows: one per pathway in the configured order, then ``all``.  Columns: ``period_end``,
``service``, ``total_waiting``, one column per day band, ``within_18_weeks_pc`` (the
share waiting ``threshold_days`` or less, to one decimal place rounded half up, or
``z`` when nobody is waiting).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from contracts.kpi_dictionary import WaitingList
from contracts.referrals import ChsLayout
from services.timeliness.domain.measures.base import Vector

Row = dict[str, str | int]


def columns(layout: ChsLayout) -> list[str]:
    return ["period_end", "service", "total_waiting", *layout.band_columns, "within_18_weeks_pc"]


def share_half_up(within: int, total: int) -> str:
    if total == 0:
        return "z"
    pc = (Decimal(100) * within / Decimal(total)).quantize(Decimal("0.1"), ROUND_HALF_UP)
    return f"{pc:.1f}"


def rows(
    layout: ChsLayout,
    k: WaitingList,
    services: list[str],
    day: date,
    cells: Mapping[str, Vector],
) -> list[Row]:
    """``cells``: the KPI's census vectors by breakdown (``all``, ``service=slt`` ...)."""
    nbands = len(k.day_bands) + 1
    if nbands != len(layout.band_columns):
        raise ValueError(
            f"{len(layout.band_columns)} band columns for the {nbands} bands of the KPI"
        )
    out: list[Row] = []
    for service in [*services, "all"]:
        key = "all" if service == "all" else f"{layout.breakdown}={service}"
        v = cells.get(key)
        waiting = v[0] if v else 0
        bands = v[3 : 3 + nbands] if v else [0] * nbands
        # within the layout's threshold, from the bands (the threshold is a band bound)
        bounds = k.day_bands
        if layout.threshold_days not in bounds:
            raise ValueError(f"threshold {layout.threshold_days} is not a band bound")
        within = sum(bands[: bounds.index(layout.threshold_days) + 1])
        row: Row = {"period_end": day.isoformat(), "service": service, "total_waiting": waiting}
        row.update(zip(layout.band_columns, bands, strict=True))
        row["within_18_weeks_pc"] = share_half_up(within, waiting)
        out.append(row)
    return out
