"""DfE benchmarks are declared in one place, ``contracts/benchmarks.yaml``: the KPI
dictionary refuses a ``benchmarks`` block, so the two cannot disagree again."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from contracts.kpi_dictionary import load_kpis
from services.reporting import bundled

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"


def test_benchmarks_are_declared_only_in_benchmarks_yaml() -> None:
    raw = yaml.safe_load((CONTRACTS / "kpis.yaml").read_text())
    assert "benchmarks" not in raw, "kpis.yaml declares benchmarks: contracts/benchmarks.yaml does"
    assert bundled.CONFIG == CONTRACTS / "benchmarks.yaml"
    assert {"ehcp_20wk", "ehcp_20wk_ex"} <= set(bundled.config().kpis)


def test_a_dictionary_with_a_benchmarks_block_is_refused(tmp_path: Path) -> None:
    raw = yaml.safe_load((CONTRACTS / "kpis.yaml").read_text())
    raw["benchmarks"] = {"ehcp_20wk": {"dataset": "timeliness_20_week"}}
    path = tmp_path / "kpis.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ValidationError, match="contracts/benchmarks.yaml"):
        load_kpis(str(path))
