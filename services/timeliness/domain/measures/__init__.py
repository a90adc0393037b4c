"""One pure function per measure kind (``kind`` in ``contracts/kpis.yaml``).

Flow kinds map a subject state to the cells it adds to (``contributions``); census
kinds map the spans in force at a census date to cells (``census``); every kind turns a
cell's vector into the published reading (``value``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.timeliness.domain.measures import (
    cohort_share,
    completed_within,
    distinct_subjects,
    event_count,
    occupancy,
    rate_per,
    reported_figure,
    share_of_outcomes,
    waiting_list,
)
from services.timeliness.domain.measures.base import At, Base, Context, Reading, Vector
from services.timeliness.domain.subjects import SubjectState

Flow = Callable[[str, Any, SubjectState, Context], dict[Base, Vector]]
Census = Callable[[str, Any, At, Context], dict[str, Vector]]

FLOW: dict[str, Flow] = {
    "completed_within": completed_within.contributions,
    "share_of_outcomes": share_of_outcomes.contributions,
    "event_count": event_count.contributions,
    "distinct_subjects": distinct_subjects.contributions,
    "rate_per": rate_per.contributions,
    "reported_figure": reported_figure.contributions,
}
CENSUS: dict[str, Census] = {
    "waiting_list": waiting_list.census,
    "cohort_share": cohort_share.census,
    "occupancy": occupancy.census,
}
VALUE: dict[str, Callable[[Any, Vector], Reading]] = {
    "completed_within": completed_within.value,
    "waiting_list": waiting_list.value,
    "share_of_outcomes": share_of_outcomes.value,
    "event_count": event_count.value,
    "distinct_subjects": distinct_subjects.value,
    "cohort_share": cohort_share.value,
    "occupancy": occupancy.value,
    "rate_per": rate_per.value,
    "reported_figure": reported_figure.value,
}


def reading(k: Any, vector: Vector) -> Reading:
    return VALUE[k.kind](k, vector)
