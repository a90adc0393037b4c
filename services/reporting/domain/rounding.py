"""Rounding instead of suppression, for the tables a profile in ``suppression.yaml``
names (the NHS profile for health data: counts 1-7 shown as ``*``, every other count
rounded to the nearest 5, zeros shown).

Rounding every count of a table protects its differences, so no secondary suppression
is needed: a hidden cell cannot be worked out from rounded totals.  A rate (and its
averages) is shown only with its numerator and denominator, computed from the exact
counts; its numerator and denominator are shown rounded.
"""

from __future__ import annotations

from collections.abc import Sequence

from contracts.snapshots import KpiValue
from services.reporting.domain.suppression import (
    AVERAGE_FIELDS,
    BAND_FIELDS,
    Published,
    RoundingProfile,
    add_remainders,
    publishable,
)


def rounded(count: int, profile: RoundingProfile) -> int | None:
    """The count as published: None (shown as the profile's symbol) when small, else
    rounded to the nearest ``round_to`` (halves up); zero stays zero."""
    if count == 0:
        return 0
    if 0 < count < profile.hide_below:
        return None
    step = profile.round_to
    return (count + step // 2) // step * step


def round_kpi(values: Sequence[KpiValue], profile: RoundingProfile) -> list[Published]:
    """Every publishable value of one KPI, rounded by ``profile``."""
    out: list[Published] = []
    for v in add_remainders(publishable(values)):
        if v.breakdown == "outlook":
            continue  # an outlook is a projection of counts the tables already round
        out.append(_round(v, profile))
    return out


def _round(v: KpiValue, profile: RoundingProfile) -> Published:
    hidden: dict[str, str] = {}
    extra = {k: val for k, val in v.extra.items()}
    symbol = profile.symbol

    def count(name: str, n: int | None) -> int | None:
        if n is None:
            return None
        r = rounded(int(n), profile)
        if r is None:
            hidden[name] = symbol
        return r

    if v.denominator is None:  # a count KPI
        n = v.numerator if v.numerator is not None else int(v.value or 0)
        num = count("numerator", n)
        if "numerator" in hidden:
            hidden["value"] = symbol
        value = None if num is None else float(num)
        den = None
    else:
        num = count("numerator", v.numerator or 0)
        den = count("denominator", v.denominator)
        for name in BAND_FIELDS:
            b = v.extra.get(name)
            if isinstance(b, int) and not isinstance(b, bool):
                extra[name] = count(f"extra.{name}", b)
        value = v.value
        if hidden.keys() & {"numerator", "denominator"}:
            if v.value is not None:
                hidden["value"] = symbol
                value = None
            for name in AVERAGE_FIELDS:
                if v.extra.get(name) is not None:
                    hidden[f"extra.{name}"] = symbol
                    extra[name] = None
    rag = v.rag
    if "value" in hidden and v.rag != "none":
        hidden["rag"] = symbol
        rag = "none"
    extra["rounded_to"] = profile.round_to
    return Published(v, value, num, den, rag, extra, hidden)
