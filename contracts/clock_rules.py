"""Clock policies (``clocks.yaml`` or ``SENDWATCH_CLOCKS_FILE``), version 2.

A policy turns a subject's facts into a clock: when it started, stopped (a completion),
ended (the subject left without a completion), paused and resumed, or was nullified
(taken out of the measure).  Milestone alerts fire from ``warn_days`` and after
``due_days``.  A policy may have several **versions**, each with ``effective_from``; a
clock follows the version in force on its start day, so a change never restates a
clock that started before it (recomputing history is an explicit, audited replay).

Matching (see ``docs/design/measure-engine.md``): ``type`` is an event type; ``where``
tests the fact's data fields (a list means "one of"), or the subject's attributes for a
key the fact does not carry; ``first`` (or ``first_of``) restricts the match to the first
fact of this (or those) types: the earliest London day, and on the same day the
smallest value of the fields the condition tests.
"""

from __future__ import annotations

import os
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

_DEFAULT = Path(__file__).with_name("clocks.yaml")

Scalar = str | int | float | bool | None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Match(_Strict):
    """A condition on one fact."""

    type: str
    where: dict[str, Scalar | list[Scalar]] = {}
    first: bool = False
    first_of: list[str] | None = None

    @property
    def first_types(self) -> tuple[str, ...] | None:
        if self.first_of:
            return tuple(self.first_of)
        return (self.type,) if self.first else None


class PolicyVersion(_Strict):
    subject: str = Field(description="The subject kind the clock runs on (case, referral ...)")
    effective_from: date = date(1900, 1, 1)
    description: str = ""
    start: list[Match]
    stop: list[Match] = []
    end: list[Match] = []
    pause: list[Match] = []
    resume: list[Match] = []
    nullify: list[Match] = []
    requires: list[Match] = Field(
        default=[], description="The clock applies only to a subject with one of these"
    )
    # milestone alerts (MS1 slipped / MS2 early warning)
    due_days: list[int] = []
    warn_days: list[int | None] = []
    kpi: str | None = Field(default=None, description="The KPI the milestone alerts name")
    no_alerts_if: list[Match] = Field(
        default=[], description="No milestone alerts for a subject with one of these"
    )
    exception_if: list[Match] = Field(
        default=[], description="Marks an alert 'has an exception' (e.g. reg 10(4))"
    )
    # episodes: a subject that is in the state more than once (placements over time)
    episodes: bool = Field(
        default=False,
        description=(
            "Every start fact opens an episode (a span of its own, whose attributes are "
            "the subject's overlaid with the start fact's fields); the next start or an "
            "end/stop fact closes it.  No pauses, nullification or milestone alerts."
        ),
    )
    working_days: bool = Field(
        default=False,
        description="due_days and warn_days count working days (England), not calendar days",
    )
    ends_after_day: bool = Field(
        default=False,
        description="An episode is still in force on the day of its end fact (closes the next day)",
    )

    @model_validator(mode="after")
    def _alerts_line_up(self) -> PolicyVersion:
        if len(self.warn_days) > len(self.due_days):
            raise ValueError("warn_days has more entries than due_days")
        if self.episodes and (self.pause or self.resume or self.nullify or self.due_days):
            raise ValueError("an episodes policy has no pauses, nullification or due days")
        if self.ends_after_day and not self.episodes:
            raise ValueError("ends_after_day applies to an episodes policy")
        if self.working_days and (self.pause or self.resume):
            raise ValueError("working_days clocks have no pauses")
        return self

    @property
    def alerting(self) -> bool:
        return bool(self.due_days)

    def warn_day(self, i: int) -> int | None:
        return self.warn_days[i] if i < len(self.warn_days) else None


class ClockRules(_Strict):
    version: int
    policies: dict[str, list[PolicyVersion]]

    @model_validator(mode="before")
    @classmethod
    def _versions(cls, raw: Any) -> Any:
        """A policy is one mapping, or a list of versions (``effective_from`` ascending).
        Top-level keys starting ``x-`` hold YAML anchors and are ignored."""
        if isinstance(raw, dict):
            raw = {k: v for k, v in raw.items() if not str(k).startswith("x-")}
        if isinstance(raw, dict) and isinstance(raw.get("policies"), dict):
            raw = {
                **raw,
                "policies": {
                    k: (v if isinstance(v, list) else [v]) for k, v in raw["policies"].items()
                },
            }
        return raw

    @model_validator(mode="after")
    def _check(self) -> ClockRules:
        if self.version != 2:
            raise ValueError(f"clocks.yaml version {self.version}: this release reads version 2")
        for name, versions in self.policies.items():
            if not versions:
                raise ValueError(f"policy {name!r} has no versions")
            days = [v.effective_from for v in versions]
            if days != sorted(days) or len(set(days)) != len(days):
                raise ValueError(f"policy {name!r}: versions must have ascending effective_from")
            if len({v.subject for v in versions}) != 1:
                raise ValueError(f"policy {name!r}: every version must run on one subject kind")
        return self

    def subject_of(self, policy: str) -> str:
        return self.policies[policy][0].subject

    @property
    def alerting(self) -> list[str]:
        return [n for n, vs in self.policies.items() if any(v.alerting for v in vs)]


@lru_cache(maxsize=4)
def load_clocks(path: str | None = None) -> ClockRules:
    file = Path(path or os.environ.get("SENDWATCH_CLOCKS_FILE") or _DEFAULT)
    return ClockRules.model_validate(yaml.safe_load(file.read_text()))
