"""The DfE figures shipped with sendwatch (``services/reporting/data/dfe``) and which
KPI they benchmark (``contracts/benchmarks.yaml``): read from the files, so a fresh
installation shows the benchmark panel with nothing loaded."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict

DATA_DIR = Path(__file__).with_name("data") / "dfe"
CONFIG = Path(__file__).resolve().parents[2] / "contracts" / "benchmarks.yaml"
LEVELS = {"National", "Regional", "Local authority"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Dataset(_Strict):
    file: str
    source: str


class KpiBenchmark(_Strict):
    dataset: str
    value: str
    count: str | None = None
    caption: str
    count_label: str = "Number"


class BenchmarkConfig(_Strict):
    version: int
    datasets: dict[str, Dataset]
    neighbours_file: str
    kpis: dict[str, KpiBenchmark]


@dataclass(frozen=True)
class Figure:
    year: int
    level: str
    area_name: str
    count: int | None
    value: float | None


@lru_cache(maxsize=2)
def config(path: str | None = None) -> BenchmarkConfig:
    cfg = BenchmarkConfig.model_validate(yaml.safe_load(Path(path or CONFIG).read_text()))
    for kpi, spec in cfg.kpis.items():
        if spec.dataset not in cfg.datasets:
            raise ValueError(f"benchmarks.yaml: {kpi} reads an unknown dataset {spec.dataset!r}")
    return cfg


def _int(text: str | None) -> int | None:
    text = (text or "").strip().replace(",", "")
    return int(text) if text.isdigit() else None


def _float(text: str | None) -> float | None:
    try:
        return float((text or "").strip())
    except ValueError:
        return None  # DfE's x (unavailable), c (suppressed), z (not applicable)


@lru_cache(maxsize=8)
def figures(kpi: str, data_dir: str | None = None) -> tuple[Figure, ...]:
    """Every published figure for the KPI's benchmark, all levels and years."""
    cfg = config()
    spec = cfg.kpis[kpi]
    file = Path(data_dir or DATA_DIR) / cfg.datasets[spec.dataset].file
    if not file.is_file():
        return ()
    out: list[Figure] = []
    with file.open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            level = row.get("geographic_level", "")
            if level not in LEVELS:
                continue
            if level == "National":
                name = row.get("country_name") or "England"
            elif level == "Regional":
                name = row.get("region_name") or ""
            else:
                name = row.get("la_name") or ""
            year = _int(row.get("time_period"))
            if year is None:
                continue
            count = _int(row.get(spec.count)) if spec.count else None
            out.append(Figure(year, level, name, count, _float(row.get(spec.value))))
    return tuple(out)


@lru_cache(maxsize=2)
def neighbours(data_dir: str | None = None) -> dict[str, list[str]]:
    from services.reporting.benchmarks import parse_neighbours

    file = Path(data_dir or DATA_DIR) / config().neighbours_file
    if not file.is_file():
        return {}
    return parse_neighbours(file.read_text(encoding="utf-8-sig"))
