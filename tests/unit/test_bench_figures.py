"""The bench's reading of the services' Prometheus histograms (goal 5's latencies)."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from cli.bench import histogram_quantile


def exposition(values: list[float]) -> str:
    registry = CollectorRegistry()
    h = Histogram("x_seconds", "x", ["service"], buckets=(0.1, 0.5, 1.0), registry=registry)
    for v in values:
        h.labels("timeliness").observe(v)
    h.labels("other").observe(100)  # another series: never mixed in
    return generate_latest(registry).decode()


def test_quantiles_interpolate_inside_the_bucket_as_promql_does() -> None:
    text = exposition([0.05] * 50 + [0.3] * 40 + [0.8] * 10)
    labels = {"service": "timeliness"}
    # 50 of 100 at or below 0.1: the median is the top of the first bucket
    assert histogram_quantile(text, "x_seconds", labels, 0.5) == pytest.approx(0.1)
    # rank 99: in the (0.5, 1.0] bucket, 9 of its 10 observations in
    assert histogram_quantile(text, "x_seconds", labels, 0.99) == pytest.approx(0.95)
    # rank 70: 20 of the 40 in (0.1, 0.5]
    assert histogram_quantile(text, "x_seconds", labels, 0.7) == pytest.approx(0.3)


def test_a_quantile_in_the_overflow_bucket_is_the_highest_bound_and_none_when_empty() -> None:
    text = exposition([5.0] * 10)
    assert histogram_quantile(text, "x_seconds", {"service": "timeliness"}, 0.5) == 1.0
    assert histogram_quantile(text, "x_seconds", {"service": "nobody"}, 0.5) is None


def test_the_readme_table_is_generated_from_the_committed_results() -> None:
    """The README's performance table is `sendwatch bench-readme docs/bench/*.json`."""
    import json
    from pathlib import Path

    from cli.bench import render_results

    root = Path(__file__).resolve().parents[2]
    files = sorted((root / "docs" / "bench").glob("*.json"))
    assert files, "no bench results in docs/bench"
    results = [json.loads(f.read_text(encoding="utf-8")) for f in files]
    for r in results:  # every figure the performance issue asks for is there
        assert {"broker", "database", "versions", "events_per_s", "ratios"} <= set(r)
        assert {"raw_produce", "raw_consume_validate", "timeliness", "timeliness_no_inbox"} <= set(
            r["events_per_s"]
        )
        assert isinstance(r["exactly_once_cost"], float)
    assert render_results(results) in (root / "README.md").read_text(encoding="utf-8")
