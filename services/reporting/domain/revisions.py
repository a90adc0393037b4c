"""Which KPI values in a snapshot are news.

Reporting keeps every revision of a KPI value: a snapshot adds a revision for each
(kpi, cycle, breakdown) whose value, numerator, denominator, closed state, upstream
revision, detail (``extra``: bands, percentiles) or judgement (target, goal and RAG: the
current position's goal follows the day) changed.  Snapshots
older than what is stored (lower sequence) are ignored, so redelivery and reordering
are harmless.
"""

from __future__ import annotations

from collections.abc import Mapping
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
    extra: Mapping[str, object] | None = None
    # (target, goal, goal basis, RAG): what the value was judged against and how.
    # None: not known (kept before it was).
    judged: tuple[object, ...] | None = None


def judgement(v: KpiValue) -> tuple[object, ...]:
    return (v.target, v.goal, v.goal_basis, v.rag)


def stored_of(v: KpiValue, sequence: int) -> Stored:
    """What is kept of a value published at ``sequence`` to judge later ones."""
    return Stored(
        sequence, v.value, v.numerator, v.denominator, v.closed, v.revision, v.extra, judgement(v)
    )


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
            and (current.judged is None or current.judged == judgement(v))
        ):
            continue
        out.append(v)
    return out
