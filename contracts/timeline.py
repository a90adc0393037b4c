"""Clock ticks and milestone alerts: how time reaches the statutory clocks.

Ticks travel on every topic that carries events, one copy per partition
(:func:`tick_copies`), so within a partition a tick is ordered after every event
published before it.  The timeliness service evaluates a partition's subjects when its
tick arrives: a replay of the topics raises the same alerts as living through them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal, Union

from pydantic import Field, TypeAdapter

from contracts.case_events import CASE_EVENT_MODELS
from contracts.envelope import Envelope, StrictModel
from contracts.plausibility import DerivedDate, PlausibleDate


class TickData(StrictModel):
    topic: str | None = Field(
        default=None, description="Set by ingest: the topic (alias) this copy is for"
    )
    partition: int | None = Field(
        default=None, ge=0, le=100_000, description="Set by ingest: the partition this copy is for"
    )


class ClockTick(Envelope[TickData]):
    """The end of a day (or any moment) in event time.  Sources: the simulator's
    accelerated clock, or the wall clock in production."""

    type: Literal["clock.tick"]


def tick_copies(tick: ClockTick, lanes: Mapping[str, int]) -> list[tuple[str, int, ClockTick]]:
    """One copy of ``tick`` for every partition of every topic in ``lanes`` (topic alias
    -> partition count), as (alias, partition, copy); each copy has its own id."""
    return [
        (
            alias,
            p,
            tick.model_copy(
                update={"id": f"{tick.id}:{alias}:p{p}", "data": TickData(topic=alias, partition=p)}
            ),
        )
        for alias, partitions in lanes.items()
        for p in range(partitions)
    ]


class MilestoneData(StrictModel):
    milestone: str
    kind: Literal["early_warning", "slipped"]
    kpi: str
    start: PlausibleDate
    due: DerivedDate
    day: int = Field(description="Elapsed days (request date = day 0) when it fired")
    locality: str
    age_band: str
    primary_need: str | None = None
    has_exception: bool = False


class MilestoneAlert(Envelope[MilestoneData]):
    type: Literal["ehc.milestone.early-warning", "ehc.milestone.slipped"]


TimelineMessage = Annotated[
    Union[(ClockTick, *CASE_EVENT_MODELS)],  # type: ignore[valid-type]  # noqa: UP007
    Field(discriminator="type"),
]
_TIMELINE: TypeAdapter[TimelineMessage] = TypeAdapter(TimelineMessage)


def parse_timeline(raw: bytes | str) -> TimelineMessage:
    """A case event or a clock tick, from the case-events topic."""
    return _TIMELINE.validate_json(raw)
