"""`sendwatch bench --sen2 N` end to end on a small file: the figures it reports (for
`bench --json`) are complete and consistent."""

from __future__ import annotations

from pathlib import Path

from cli.bench_scale import memory_figures, sen2_figures


def test_sen2_figures_of_a_small_import(tmp_path: Path) -> None:
    f = sen2_figures(400, echo=lambda *a, **k: None, keep=tmp_path / "run")
    assert f["complete"] and f["rejected"] == 0
    assert f["requests"] >= 350 and f["events"] > 3 * f["requests"] * 0.9
    assert abs(f["seconds"] - f["posting_seconds"] - f["waiting_seconds"]) < 0.05
    assert f["events_per_s"] > 0 and 0 < f["ratio_to_raw_consume"] < 1
    for name in ("ingest", "timeliness", "importer", "broker"):
        assert f["cpu_seconds"][name] > 0, name
        rss = f["rss_mb"][name]
        assert 10 < rss["peak"] <= rss["hwm"] + 1, name
    assert f["cpu_seconds"]["timeliness"] >= f["cpu_seconds_posting"]["timeliness"]
    # The memory comparison reuses measured runs (here the same one twice: ratio 1).
    m = memory_figures(400, 400, runs={400: f})
    assert m["flat"] and m["services"]["timeliness"]["ratio"] == 1.0
    assert (tmp_path / "run" / "logs" / "timeliness.log").exists()
