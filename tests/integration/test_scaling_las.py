"""Several local authorities on one broker (docs/scaling.md): each LA's deployment has
its own topics, consumer groups, databases and keys; its figures equal those of the
same LA run alone on a broker of its own."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient

from cli.bench_scale import (
    _figures_of,
    _import_la,
    _run_tenants,
    _start_tenants,
    compare,
    write_la_files,
)
from cli.tansu import TansuBroker

CODES = ["893", "894"]


async def _topics_and_groups(bootstrap: str) -> tuple[set[str], set[str]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        topics = set(await admin.list_topics())
        groups = {g[0] for g in await admin.list_consumer_groups()}
    finally:
        await admin.close()
    return topics, groups


def test_las_on_one_broker_have_the_figures_each_has_alone(
    broker: TansuBroker, tmp_path: Path
) -> None:
    files = write_la_files(CODES, 120, tmp_path / "files")
    stacks = _start_tenants(CODES, tmp_path, broker.bootstrap, "together")
    results: dict[str, dict[str, Any]] = {}
    try:
        threads = [
            threading.Thread(
                target=lambda c=c: results.__setitem__(c, _import_la(c, files[c], stacks[c]))
            )
            for c in CODES
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results) == sorted(CODES)
        assert all(r["complete"] and r["events"] and not r["rejected"] for r in results.values())
        together = {c: _figures_of(s.ports["timeliness"]) for c, s in stacks.items()}
        topics, groups = asyncio.run(_topics_and_groups(broker.bootstrap))
    finally:
        for stack in stacks.values():
            stack.stop()
    # One broker, but every LA on its own topics and in its own consumer groups.
    assert "sendwatch.case-events.v1" not in topics
    for code in CODES:
        assert f"la{code}.sendwatch.case-events.v1" in topics
        assert f"la{code}.sendwatch-timeliness" in groups
        assert together[code]["events_applied"] >= results[code]["events"]
    # Different LAs, different figures: the comparison below can tell them apart.
    assert compare(together["893"], together["894"])
    # One LA alone on a broker of its own (`sendwatch bench --las N` does this for all).
    code = CODES[1]
    alone, alone_results, _ = _run_tenants([code], files, tmp_path, "tansu", f"alone-{code}")
    assert alone_results[code]["events"] == results[code]["events"]
    assert compare(together[code], alone[code]) == []
