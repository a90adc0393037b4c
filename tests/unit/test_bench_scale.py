"""Scale bench helpers: /proc meters, per-LA configuration, the figure comparison."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from cli.bench_scale import Meter, compare, cpu_seconds, la_code, memory_kb, tenant_files
from contracts.topics import load_topics
from sendwatch.config import Settings


def test_proc_meters_read_this_process() -> None:
    assert memory_kb(os.getpid())["VmRSS"] > 1000
    sum(i * i for i in range(200_000))
    assert cpu_seconds(os.getpid()) > 0
    assert memory_kb(2**22 + 12345) == {} and cpu_seconds(2**22 + 12345) == 0.0
    with Meter({"me": os.getpid()}, interval=0.01) as meter:
        block = bytearray(64 * 1024 * 1024)  # 64 MB, touched
        block[::4096] = b"x" * len(block[::4096])
    rss = meter.rss_mb()["me"]
    assert rss["peak"] >= rss["end"] - 1 and rss["hwm"] >= rss["peak"] - 1
    assert rss["peak"] > 64
    del block


def test_each_la_has_its_own_topics_groups_and_authority(tmp_path: Path) -> None:
    a = tenant_files("893", tmp_path / "a")
    b = tenant_files("894", tmp_path / "b")
    ta, tb = load_topics(a["SENDWATCH_TOPICS_FILE"]), load_topics(b["SENDWATCH_TOPICS_FILE"])
    assert ta.topics.keys() == tb.topics.keys() == load_topics().topics.keys()
    names_a = {t.name for t in ta.topics.values()}
    names_b = {t.name for t in tb.topics.values()}
    assert not names_a & names_b
    assert all(n.startswith("la893.sendwatch.") for n in names_a)
    # partitions and keys are the shipped ones
    assert {k: t.partitions for k, t in ta.topics.items()} == {
        k: t.partitions for k, t in load_topics().topics.items()
    }
    assert yaml.safe_load(Path(a["SENDWATCH_AUTHORITY_FILE"]).read_text())["old_la_code"] == "893"
    sa = Settings.from_env(a)
    sb = Settings.from_env(b)
    assert sa.kafka.group_prefix == "la893." and sb.kafka.group_prefix == "la894."
    assert Settings().kafka.group_prefix == ""
    assert len({la_code(i) for i in range(12)}) == 12


def _figures(values: list[dict[str, Any]], cases: int = 3) -> dict[str, Any]:
    return {"values": values, "cases": cases, "open_caseload": 1, "events_applied": 9}


def test_compare_names_every_difference() -> None:
    v = {"kpi": "k1", "cycle": "2025", "breakdown": "all", "value": 50.0}
    assert compare(_figures([v]), _figures([dict(v)])) == []
    changed = compare(_figures([v]), _figures([{**v, "value": 51.0}], cases=4))
    assert len(changed) == 2 and changed[0].startswith("cases: 3 together, 4 alone")
    assert "k1/2025/all" in changed[1]
    missing = compare(_figures([v]), _figures([]))
    assert len(missing) == 1 and "None alone" in missing[0]
