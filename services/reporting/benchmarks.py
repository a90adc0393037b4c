"""``sendwatch load-benchmarks DIR``: DfE's published EHC plan statistics into reporting.

DIR holds what DfE publishes for "Education, health and care plans" (the release zip, or
its unpacked ``data/`` folder) and ``statistical-neighbours.csv`` (one column per local
authority, headed by its name, with its ten statistical neighbours below in order).

From ``data/timeliness_20_week.csv`` the rows for "All EHC plans issued" at national,
regional and local authority level are kept, every year: plans issued, plans within 20
weeks and the percentages, including and excluding exceptions.  They replace what was
loaded before, in one transaction, in the reporting database (``SENDWATCH_DATABASE_URL``
or ``var/reporting.db``), which is migrated first.  DfE publishes these figures without
suppression, so the dashboard shows them as published.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sendwatch.config import Settings, get_settings

DATASET = "timeliness_20_week"
TIMELINESS_MEMBER = "data/timeliness_20_week.csv"
NEIGHBOURS_FILE = "statistical-neighbours.csv"
LEVELS = {"National", "Regional", "Local authority"}


class BenchmarkError(ValueError):
    pass


@dataclass(frozen=True)
class LoadSummary:
    source: str
    rows: int
    years: list[int]
    neighbours: int
    la_name: str
    la_neighbours: list[str]

    def lines(self) -> list[str]:
        return [
            f"loaded {self.rows} rows of {DATASET} ({', '.join(map(str, self.years))}) "
            f"from {self.source}",
            f"statistical neighbours for {self.neighbours} local authorities; "
            f"{self.la_name}: {', '.join(self.la_neighbours) or 'none found'}",
        ]


def _timeliness_text(directory: Path) -> tuple[str, str]:
    """The CSV text and a description of where it came from."""
    for candidate in (directory / TIMELINESS_MEMBER, directory / "timeliness_20_week.csv"):
        if candidate.is_file():
            return candidate.read_text(encoding="utf-8-sig"), str(candidate)
    for archive in sorted(directory.glob("*.zip")):
        with zipfile.ZipFile(archive) as zf:
            names = [n for n in zf.namelist() if n.endswith("timeliness_20_week.csv")]
            if names:
                data = zf.read(names[0]).decode("utf-8-sig")
                return data, f"{archive.name}:{names[0]}"
    raise BenchmarkError(
        f"no {TIMELINESS_MEMBER} in {directory} (nor in a .zip there): download DfE's "
        "'Education, health and care plans' release"
    )


def _int(text: str) -> int | None:
    text = (text or "").strip().replace(",", "")
    return int(text) if text.isdigit() else None


def _float(text: str) -> float | None:
    try:
        return float((text or "").strip())
    except ValueError:
        return None  # DfE's x (unavailable), c, z ...


def parse_timeliness(text: str) -> Iterator[dict[str, object]]:
    reader = csv.DictReader(io.StringIO(text))
    need = {"time_period", "geographic_level", "breakdown_topic", "plans_issued_den"}
    if reader.fieldnames is None or not need <= set(reader.fieldnames):
        raise BenchmarkError("timeliness_20_week.csv has not got DfE's columns")
    for row in reader:
        if row["geographic_level"] not in LEVELS:
            continue
        if row["breakdown_topic"] != "All EHC plans issued":
            continue
        level = row["geographic_level"]
        if level == "National":
            code, name = row.get("country_code") or "E92000001", row.get("country_name") or ""
        elif level == "Regional":
            code, name = row.get("region_code") or "", row.get("region_name") or ""
        else:
            code, name = row.get("new_la_code") or "", row.get("la_name") or ""
        yield {
            "time_period": int(row["time_period"]),
            "geographic_level": level,
            "area_code": code,
            "area_name": name,
            "region_name": row.get("region_name") or None,
            "plans": _int(row.get("plans_issued_den", "")),
            "plans_ex": _int(row.get("plans_issued_den_ex", "")),
            "within_20_weeks": _int(row.get("plans_issued_within_20_weeks", "")),
            "within_20_weeks_ex": _int(row.get("plans_issued_20_weeks_ex", "")),
            "pc_within_20_weeks": _float(row.get("pc_plans_issued_within_20_weeks", "")),
            "pc_within_20_weeks_ex": _float(row.get("PC_plans_issued_20_weeks_ex", "")),
            "over_52_weeks": _int(row.get("plans_issued_gt_1_year", "")),
        }


def parse_neighbours(text: str) -> dict[str, list[str]]:
    """Columns headed by a local authority, its ten neighbours below in rank order."""
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise BenchmarkError("statistical-neighbours.csv is empty")
    header = [h.strip() for h in rows[0]]
    out: dict[str, list[str]] = {name: [] for name in header if name}
    for row in rows[1:]:
        for name, cell in zip(header, row, strict=False):
            if name and cell.strip():
                out[name].append(cell.strip())
    return out


def load_benchmarks(
    directory: Path, settings: Settings | None = None, la_name: str | None = None
) -> LoadSummary:
    from sendwatch.db import make_engine, migrate
    from services.reporting.adapters.orm import Benchmark
    from services.reporting.adapters.repository import replace_benchmarks
    from services.reporting.service import load_place

    directory = Path(directory)
    if not directory.is_dir():
        raise BenchmarkError(f"{directory} is not a directory")
    text, source = _timeliness_text(directory)
    parsed = list(parse_timeliness(text))
    rows = [Benchmark(dataset=DATASET, **r) for r in parsed]  # type: ignore[arg-type]
    years = sorted({int(str(r["time_period"])) for r in parsed})
    if not rows:
        raise BenchmarkError("no 'All EHC plans issued' rows found")
    neighbours: dict[str, list[str]] = {}
    nfile = directory / NEIGHBOURS_FILE
    if nfile.is_file():
        neighbours = parse_neighbours(nfile.read_text(encoding="utf-8-sig"))
    settings = settings or get_settings()
    engine = make_engine(settings.db_url_for("reporting"))
    try:
        migrate("reporting", engine)
        n = replace_benchmarks(engine, DATASET, rows, neighbours, source)
    finally:
        engine.dispose()
    la = la_name or load_place(settings.files.authority).la_name
    return LoadSummary(
        source=source,
        rows=n,
        years=years,
        neighbours=len(neighbours),
        la_name=la,
        la_neighbours=neighbours.get(la, []),
    )
