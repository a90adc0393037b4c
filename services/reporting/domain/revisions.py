"""Which KPI values in a snapshot are news.

Reporting keeps every revision of a KPI value: a snapshot adds a revision for each
(kpi, cycle, breakdown) whose value, numerator, denominator, closed state, upstream
revision or detail (``extra``: bands, percentiles) changed.  Snapshots
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
    closed: bool = False
    upstream_revision: int = 0
    # the kind's detail (bands, percentiles ...): a waiting list whose waits moved on
    # (same count, other bands) is news too.  None: not known (kept before it was).
    extra: dict[str, object] | None = None


def key_of(v: KpiValue) -> Key:
    return (v.kpi, v.cycle, v.breakdown)


def new_revisions(stored: dict[Key, Stored], snapshot: KpiSnapshot) -> list[KpiValue]:
    out: list[KpiValue] = []
    for v in snapshot.data.values:
        current = stored.get(key_of(v))
        if current is not None and current.sequence >= snapshot.data.sequence:
            continue
        if (
            current is not None
            and (
                current.value,
                current.numerator,
                current.denominator,
                current.closed,
                current.upstream_revision,
            )
            == (v.value, v.numerator, v.denominator, v.closed, v.revision)
            and (current.extra is None or current.extra == v.extra)
        ):
            continue
        out.append(v)
    return out
