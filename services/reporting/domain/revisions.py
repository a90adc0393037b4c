"""Which KPI values in a snapshot are news.

Reporting keeps every revision of a KPI value: a snapshot adds a revision for each
(kpi, cycle, breakdown) whose value, numerator or denominator changed.  Snapshots
older than what is stored (lower sequence) are ignored, so redelivery and reordering
are harmless.
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts.snapshots import KpiSnapshot, KpiValue

Key = tuple[str, str, str]


@dataclass(frozen=True)
class Stored:
    sequence: int
    value: float | None
    numerator: int | None
    denominator: int | None


def key_of(v: KpiValue) -> Key:
    return (v.kpi, v.cycle, v.breakdown)


def new_revisions(stored: dict[Key, Stored], snapshot: KpiSnapshot) -> list[KpiValue]:
    out: list[KpiValue] = []
    for v in snapshot.data.values:
        current = stored.get(key_of(v))
        if current is not None and current.sequence >= snapshot.data.sequence:
            continue
        if current is not None and (current.value, current.numerator, current.denominator) == (
            v.value,
            v.numerator,
            v.denominator,
        ):
            continue
        out.append(v)
    return out
