"""Reporting's Prometheus metrics: KPI gauges and the age of the last KPI snapshot.

The KPI gauges have a bounded label set: breakdown ``all`` only, and per KPI at most
four cycles: ``current`` (a KPI valued now, or else the cycle in progress: the plan-year
quarter, else the term, month or week), the latest closed month, quarter and term (by
their labels, e.g. ``2026-10``, ``2026/27-Q2``, ``2026/27-T1``).  When a newer cycle
closes, the older series is removed.  Every measure kind is exported the same way, in
its own unit (percent, count, days, rate, score).

``/metrics`` needs no token, so the gauges follow the public view's small-number
suppression (``contracts/suppression.yaml``): the caller passes the suppressed values,
and a value the policy hides has no series at all (it is removed, never exported as a
number).  Operational figures are in the API, behind the ``operational`` role.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable
from datetime import date, datetime

from prometheus_client import Gauge

from contracts.snapshots import KpiValue
from services.reporting.domain import kinds, periods

IN_PROGRESS = ("quarter", "term", "month", "week")

KPI_VALUE = Gauge(
    "sendwatch_kpi_value",
    "Latest KPI value (in its unit: percent, count, days, rate or score) as the public "
    "view shows it (small numbers suppressed: no series), breakdown 'all'; cycle is "
    "'current' (a KPI valued now, or the cycle in progress) or the latest closed month, "
    "quarter or term",
    ["kpi", "cycle", "breakdown"],
)
KPI_TARGET = Gauge(
    "sendwatch_kpi_target",
    "Trajectory target for the cycle of sendwatch_kpi_value with the same labels (no "
    "series while none is set or it is to be established)",
    ["kpi", "cycle", "breakdown"],
)
SNAPSHOT_PUBLISHED = Gauge(
    "sendwatch_kpi_snapshot_last_published_timestamp_seconds",
    "Unix time reporting last received and stored a KPI snapshot from timeliness",
)
SNAPSHOT_SEQUENCE = Gauge(
    "sendwatch_kpi_snapshot_sequence", "Sequence number of the latest KPI snapshot applied"
)

_lock = threading.Lock()
_series: dict[str, set[tuple[str, str]]] = {}  # kpi -> (cycle, breakdown) label sets


def snapshot_received(at: datetime, sequence: int | None = None) -> None:
    SNAPSHOT_PUBLISHED.set(at.timestamp())
    if sequence is not None:
        SNAPSHOT_SEQUENCE.set(sequence)


def gauge_values(values: Iterable[KpiValue], today: date | None) -> dict[str, list[KpiValue]]:
    """Per KPI, the values the gauges show (see the module docstring)."""
    by_kpi: dict[str, dict[str, KpiValue]] = {}
    for v in values:
        if v.breakdown == "all":
            by_kpi.setdefault(v.kpi, {})[v.cycle] = v
    in_progress = [c for kind in IN_PROGRESS if today and (c := kinds.cycle_of(kind, today))]
    out: dict[str, list[KpiValue]] = {}
    for kpi, cycles in by_kpi.items():
        chosen: list[KpiValue] = []
        if "current" in cycles:
            chosen.append(cycles["current"])
        else:
            now = next((c for c in in_progress if c in cycles), None)
            if now is not None:
                chosen.append(cycles[now].model_copy(update={"cycle": "current"}))
        for kind in ("month", "quarter", "term"):
            closed = [v for c, v in cycles.items() if periods.kind_of(c) == kind and v.closed]
            if closed:
                chosen.append(max(closed, key=lambda v: periods.sort_key(v.cycle)))
        out[kpi] = chosen
    return out


def update_kpi_gauges(values: Iterable[KpiValue], today: date | None) -> None:
    chosen = gauge_values(values, today)
    with _lock:
        for kpi, vals in chosen.items():
            keep = {(v.cycle, v.breakdown) for v in vals}
            for cycle, breakdown in _series.get(kpi, set()) - keep:
                for g in (KPI_VALUE, KPI_TARGET):
                    with contextlib.suppress(KeyError):
                        g.remove(kpi, cycle, breakdown)
            for v in vals:
                for gauge, figure in ((KPI_VALUE, v.value), (KPI_TARGET, v.target)):
                    if figure is not None:
                        gauge.labels(kpi, v.cycle, v.breakdown).set(figure)
                    else:
                        with contextlib.suppress(KeyError):
                            gauge.remove(kpi, v.cycle, v.breakdown)
            _series[kpi] = keep
