"""``waiting_list``: those waiting on a clock at a census date (a cycle's last day, or
today for the current position): how many, how many within (or over) a threshold, day
bands (e.g. the CHS SitRep's 0-7, 8-14 ... days; 365 days or more is over 52 weeks),
percentile waits (nearest rank) and the mean wait.

Vector: [waiting, within threshold, over threshold, band counts..., sum of waits,
percentiles...].
"""

from __future__ import annotations

from contracts.kpi_dictionary import WaitingList
from services.timeliness.domain.measures.base import (
    At,
    Context,
    Extra,
    Reading,
    Vector,
    by_breakdown,
    nearest_rank,
    percent,
)


def _band(bounds: list[int], wait: int) -> int:
    for i, bound in enumerate(bounds):
        if wait <= bound:
            return i
    return len(bounds)


def band_names(k: WaitingList) -> list[str]:
    names, low = [], 0
    for bound in k.day_bands:
        names.append(f"band_{low}_{bound}_days")
        low = bound + 1
    if k.day_bands:
        names.append(f"band_{low}_plus_days")
    return names


def census(kpi: str, k: WaitingList, at: At, ctx: Context) -> dict[str, Vector]:
    counted = [
        s
        for s in at.members(k.clock)
        if (k.include_nullified or not s.nullified) and kpi not in s.excluded
    ]
    threshold = k.threshold_days if k.threshold_days is not None else 0
    nbands = len(k.day_bands) + 1 if k.day_bands else 0
    # "all" is always counted, so an empty list is published as zero
    out: dict[str, Vector] = {"all": [0] * (4 + nbands + len(k.percentiles))}
    for breakdown, group in by_breakdown(ctx, kpi, counted).items():
        waits = sorted(s.wait(at.day) for s in group)
        bands = [0] * nbands
        for w in waits:
            if nbands:
                bands[_band(k.day_bands, w)] += 1
        within = sum(1 for w in waits if w <= threshold)
        out[breakdown] = [
            len(waits),
            within,
            len(waits) - within,
            *bands,
            sum(waits),
            *(nearest_rank(waits, p) for p in k.percentiles),
        ]
    return out


def value(k: WaitingList, v: Vector) -> Reading:
    waiting, within, over = v[0], v[1], v[2]
    nbands = len(k.day_bands) + 1 if k.day_bands else 0
    extra: Extra = {}
    if k.value == "share_within":
        extra.update(waiting=waiting, within_threshold=within, over_threshold=over)
    for name, n in zip(band_names(k), v[3 : 3 + nbands], strict=True):
        extra[name] = n
    if k.day_bands or k.percentiles:
        total = v[3 + nbands]
        extra["mean_days"] = round(total / waiting, 1) if waiting else None
        for p, days in zip(k.percentiles, v[4 + nbands :], strict=True):
            extra[f"p{p}_days"] = days if waiting else None
            extra[f"p{p}_weeks"] = round(days / 7, 1) if waiting else None
    if k.value == "count":
        return Reading(float(waiting), waiting, None, extra)
    if k.value == "count_over":
        return Reading(float(over), over, None, extra)
    return Reading(percent(within, waiting), within, waiting, extra)
