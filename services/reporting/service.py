"""The reporting service's application layer: published views of the stored KPI values
(suppressed for non-operational audiences, cached per data version), headline tiles,
KPI pages, the insight summary and the quarterly return.  Synchronous; the HTTP layer
runs it in worker threads."""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy.engine import Engine

from contracts.kpi_dictionary import KpiDef, KpiDictionary
from services.reporting import bundled
from services.reporting.adapters import repository as repo
from services.reporting.adapters.orm import ProducerState
from services.reporting.domain import dashboard, kinds, periods
from services.reporting.domain.exports import QUARTERLY_COLUMNS, Authority, quarterly_rows, to_csv
from services.reporting.domain.insight import InsightSummary, build_insight
from services.reporting.domain.rounding import round_kpi
from services.reporting.domain.suppression import (
    Published,
    SuppressionPolicy,
    add_remainders,
    protect_kpi,
    protect_revision,
    unsuppressed,
)

LONDON = ZoneInfo("Europe/London")
AUTHORITY_FILE = Path(__file__).resolve().parents[2] / "contracts" / "authority.yaml"
Values = dict[tuple[str, str], Published]

# The loaded 20-week release's columns (sendwatch load-benchmarks), by DfE column name.
LOADED_COLUMNS = {
    "plans_issued_den": "plans",
    "plans_issued_den_ex": "plans_ex",
    "pc_plans_issued_within_20_weeks": "pc_within_20_weeks",
    "PC_plans_issued_20_weeks_ex": "pc_within_20_weeks_ex",
}


@dataclass(frozen=True)
class Place:
    la_name: str
    new_la_code: str
    region_name: str


def load_place(path: Path = AUTHORITY_FILE) -> Place:
    data = yaml.safe_load(path.read_text())
    return Place(data["la_name"], data["new_la_code"], data["region_name"])


def _data_date(st: ProducerState | None) -> date | None:
    return None if st is None else local_date(st.watermark or st.as_of)


def local_date(dt: datetime | None) -> date | None:
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(LONDON).date()


@dataclass
class KpiPage:
    kpi: str
    tile: dashboard.Tile
    trend: dashboard.TrendView
    kind: str
    cycle: str | None
    cycles: list[tuple[str, str]]
    breakdowns: list[dashboard.BreakdownTable]
    outlook: Published | None
    closed_detail: Published | None
    benchmark: dashboard.BenchmarkView | None = None
    benchmark_note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    detail_rows: list[tuple[str, str]] = field(default_factory=list)  # kind-specific detail
    dimensions: list[str] = field(default_factory=list)  # the breakdowns the KPI declares


class Reporting:
    def __init__(
        self,
        engine: Engine,
        dictionary: KpiDictionary,
        policy: SuppressionPolicy,
        place: Place | None = None,
    ) -> None:
        self.engine = engine
        self.dictionary = dictionary
        self.policy = policy
        self.place = place or load_place()
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, bool], tuple[int, Values]] = {}
        self._stored: dict[str, tuple[int, dict[tuple[str, str], repo.StoredValue]]] = {}

    # --- data ---------------------------------------------------------------------

    def version(self) -> int:
        return repo.data_version(self.engine)

    def kpi_version(self, kpi: str) -> int:
        """Grows whenever one of the KPI's revisions is stored: the cache key of its views,
        so a snapshot that changes one KPI does not make every other KPI's views (and the
        gauges of all of them) be computed again."""
        return repo.data_version(self.engine, kpi)

    def state(self) -> ProducerState | None:
        return repo.producer_state(self.engine, "timeliness")

    def today(self) -> date | None:
        """The date of the data: the event-time clock (watermark), else the latest event."""
        return _data_date(self.state())

    def marks(self, kpis: list[str]) -> tuple[dict[str, int], date | None]:
        """The data versions of ``kpis`` and the date of the data, read together: what a
        read of those KPIs' values passes to :meth:`published` and :meth:`stored`."""
        versions, st = repo.read_marks(self.engine, kpis, "timeliness")
        return versions, _data_date(st)

    def published(self, kpi: str, suppressed: bool, version: int | None = None) -> Values:
        """The KPI's values as ``suppressed`` viewers see them; ``version``: its data
        version when the caller has just read it (see :meth:`marks`)."""
        version = self.kpi_version(kpi) if version is None else version
        key = (kpi, suppressed)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and hit[0] == version:
                return hit[1]
        raw = [s.value for s in self.stored(kpi, version).values()]
        profile = self.policy.rounding_for(kpi)
        if suppressed and profile is not None:
            out = round_kpi(raw, profile)  # a health table: the NHS profile, say
        elif suppressed:
            out = protect_kpi(raw, self.policy)
        else:
            out = [unsuppressed(v) for v in add_remainders(raw)]
        values = {(p.cycle, p.breakdown): p for p in out}
        with self._lock:
            self._cache[key] = (version, values)
        return values

    def stored(
        self, kpi: str, version: int | None = None
    ) -> dict[tuple[str, str], repo.StoredValue]:
        """The latest stored revision of each of a KPI's values (with its snapshot)."""
        version = self.kpi_version(kpi) if version is None else version
        with self._lock:
            hit = self._stored.get(kpi)
            if hit is not None and hit[0] == version:
                return hit[1]
        rows = {(s.value.cycle, s.value.breakdown): s for s in repo.latest_values(self.engine, kpi)}
        with self._lock:
            self._stored[kpi] = (version, rows)
        return rows

    def all_published(self, suppressed: bool) -> dict[str, Values]:
        versions, _ = self.marks(list(self.dictionary.kpis))
        return {kpi: self.published(kpi, suppressed, v) for kpi, v in versions.items()}

    def _earlier(
        self, v: repo.StoredValue, latest: Published | None, suppressed: bool
    ) -> Published:
        if not suppressed:
            return unsuppressed(v.value)
        return protect_revision(v.value, latest, self.policy)

    def count_at(self, kpi: str, when: date, suppressed: bool) -> Published | None:
        """A point-in-time KPI's value at the end of ``when`` (from its revisions)."""
        history = repo.value_history(self.engine, kpi, "current", "all")
        best = None
        for s in history:
            d = local_date(s.as_of)
            if d is not None and d <= when:
                best = s
        if best is None:
            return None
        latest = self.published(kpi, suppressed).get(("current", "all"))
        if latest is not None and best.revision == history[-1].revision:
            return latest
        return self._earlier(best, latest, suppressed)

    def first_closed(self, kpi: str, suppressed: bool) -> dict[str, Published]:
        """For each cycle (breakdown all), the value as first published at its close."""
        latest = self.published(kpi, suppressed)
        out: dict[str, Published] = {}
        for s in repo.value_history(self.engine, kpi, breakdown="all"):
            if s.value.closed and s.value.revision == 1 and s.value.cycle not in out:
                out[s.value.cycle] = self._earlier(
                    s, latest.get((s.value.cycle, "all")), suppressed
                )
        return out

    # --- pages --------------------------------------------------------------------

    def _four_weeks_before(self, kpi: str, suppressed: bool) -> tuple[date, Published] | None:
        """A KPI valued now: its value 28 days before the data's date (for the trend)."""
        today = self.today()
        if today is None or not kinds.point_in_time(self.dictionary.kpis[kpi]):
            return None
        when = today - timedelta(days=28)
        p = self.count_at(kpi, when, suppressed)
        return (when, p) if p is not None else None

    def tiles(self, suppressed: bool) -> list[dashboard.Tile]:
        today = self.today()
        return [
            dashboard.tile(
                kpi,
                k,
                self.published(kpi, suppressed),
                today,
                previous_count=self._four_weeks_before(kpi, suppressed),
            )
            for kpi, k in self.dictionary.kpis.items()
            if k.headline
        ]

    def kpi_page(
        self, kpi: str, suppressed: bool, kind: str = "month", cycle: str | None = None
    ) -> KpiPage:
        k = self.dictionary.kpis[kpi]
        today = self.today()
        values = self.published(kpi, suppressed)
        prev = self._four_weeks_before(kpi, suppressed)
        t = dashboard.tile(kpi, k, values, today, previous_count=prev)
        trend_kinds = kinds.trend_kinds(k)
        if kind not in trend_kinds:
            kind = trend_kinds[0] if trend_kinds else "month"
        tv = dashboard.trend_view(
            kpi, k, values, kind, first_closed=self.first_closed(kpi, suppressed)
        )
        choices = dashboard.cycle_choices(values, [c for c in k.cycles if c != "week"])
        if cycle is None or cycle not in {c for c, _ in choices}:
            cycle = self._default_cycle(k, values, today, choices)
        dims = self.dictionary.breakdowns_of(kpi)
        tables = dashboard.breakdown_tables(k, values, cycle, dims) if cycle else []
        outlook = values.get(("current", "outlook"))
        detail = values.get((cycle, "all")) if cycle else None
        rows = [
            (kinds.extra_label(name), dashboard.shown(detail, f"extra.{name}"))
            for name in kinds.detail_fields(detail)
        ]
        return KpiPage(
            kpi,
            t,
            tv,
            kind,
            cycle,
            choices,
            tables,
            outlook,
            detail,
            detail_rows=rows,
            dimensions=[dashboard.dimension_label(d) for d in dims],
        )

    @staticmethod
    def _default_cycle(
        k: KpiDef, values: Values, today: date | None, choices: list[tuple[str, str]]
    ) -> str | None:
        """The headline figure's cycle (now, or the one in progress) where it has values,
        else the newest with a breakdown."""
        cycle = kinds.cycle_in_progress(k, today) if today is not None else None
        if cycle is not None and (cycle, "all") in values:
            return cycle
        return choices[0][0] if choices else cycle

    def benchmark(self, kpi: str, suppressed: bool) -> tuple[dashboard.BenchmarkView | None, str]:
        """The KPI's DfE benchmark (``contracts/benchmarks.yaml``): the figures loaded by
        ``sendwatch load-benchmarks`` when there are any for its dataset, else the ones
        shipped with sendwatch."""
        spec = bundled.config().kpis.get(kpi)
        if spec is None:
            return None, "DfE publishes no comparable figure for this measure."
        cfg = bundled.config()
        loaded = repo.benchmark_rows(self.engine, spec.dataset)
        if loaded:
            picked_rows = [
                bundled.Figure(
                    r.time_period,
                    r.geographic_level,
                    r.area_name,
                    getattr(r, LOADED_COLUMNS.get(spec.count or "", ""), None),
                    getattr(r, LOADED_COLUMNS.get(spec.value, ""), None),
                )
                for r in loaded
            ]
            src = repo.benchmark_source(self.engine, spec.dataset)
            source = f"DfE, Education, health and care plans ({src.source})" if src else ""
        else:
            picked_rows = list(bundled.figures(kpi))
            source = cfg.datasets[spec.dataset].source
        if not picked_rows:
            return None, "DfE benchmarks are not available (sendwatch load-benchmarks DIR)."
        mine = [r for r in picked_rows if r.area_name == self.place.la_name]
        year = max((r.year for r in mine), default=max(r.year for r in picked_rows))
        picked = [(r.level, r.area_name, r.count, r.value) for r in picked_rows if r.year == year]
        neighbours = repo.neighbours_of(self.engine, self.place.la_name) if loaded else []
        if not neighbours:
            neighbours = bundled.neighbours().get(self.place.la_name, [])
        own = self._own_latest(kpi, suppressed)
        view = dashboard.benchmark_view(
            self.place.la_name,
            self.place.region_name,
            year,
            picked,
            neighbours,
            own,
            caption=spec.caption,
            count_label=spec.count_label,
        )
        note = (
            f"Source: {source}. Contains public sector information licensed under the "
            "Open Government Licence v3.0."
        )
        return view, note

    def _own_latest(self, kpi: str, suppressed: bool) -> tuple[str, float | None] | None:
        """sendwatch's own figure to set beside DfE's: the latest calendar year for
        unsuppressed roles; for others (calendar years are not published suppressed) the
        latest closed plan-year quarter."""
        today = self.today()
        if today is None:
            return None
        if not suppressed:
            values = self.published(kpi, False)
            year = str(today.year)
            p = values.get((year, "all"))
            if p is None:
                return None
            label = f"{self.place.la_name} {year} so far (sendwatch)"
            if p.source.closed:
                label = f"{self.place.la_name} {year} (sendwatch)"
            return label, p.value
        values = self.published(kpi, True)
        closed = sorted(
            (
                p
                for (c, b), p in values.items()
                if b == "all" and periods.kind_of(c) == "quarter" and p.source.closed
            ),
            key=lambda p: periods.sort_key(p.cycle),
        )
        if not closed:
            return None
        p = closed[-1]
        return f"{self.place.la_name} {p.cycle.replace('-Q', ' Q')} (sendwatch)", p.value

    # --- documents ----------------------------------------------------------------

    def insight(
        self,
        month: str,
        alerts: list[dict[str, Any]] | None,
        cases: list[dict[str, Any]] | None,
    ) -> InsightSummary:
        first, last = periods.bounds(month)
        values = {}
        counts = {}
        published = self.all_published(True)
        for kpi, k in self.dictionary.kpis.items():
            if kinds.point_in_time(k):
                counts[kpi] = (
                    self.count_at(kpi, last, True),
                    self.count_at(kpi, first - timedelta(days=1), True),
                )
            else:
                values[kpi] = published[kpi]
        return build_insight(
            month, self.dictionary, values, counts, alerts, cases, self.today(), self.policy
        )

    def quarters_available(self) -> list[str]:
        found: set[str] = set()
        published = self.all_published(True)
        for kpi, k in self.dictionary.kpis.items():
            if "quarter" in k.cycles:
                found |= {c for (c, _b) in published[kpi] if periods.kind_of(c) == "quarter"}
        return sorted(found, key=periods.sort_key)

    def quarterly_csv(self, quarters: list[str] | None) -> str:
        quarters = quarters or self.quarters_available()
        today = self.today()
        published = self.all_published(True)
        values = {  # measures dated by events: their quarter's value
            kpi: published[kpi] for kpi, k in self.dictionary.kpis.items() if "quarter" in k.cycles
        }
        counts: dict[tuple[str, str], Published | None] = defaultdict(lambda: None)
        for kpi, k in self.dictionary.kpis.items():
            if "quarter" in k.cycles or not kinds.point_in_time(k):
                continue
            for q in quarters:
                _first, last = periods.bounds(q)
                when = min(last, today) if today else last
                counts[(kpi, q)] = self.count_at(kpi, when, True)
        rows = quarterly_rows(
            quarters,
            self.dictionary,
            values,
            counts,
            Authority(self.place.la_name, self.place.new_la_code),
            today,
        )
        return to_csv(rows, QUARTERLY_COLUMNS)
