"""Timeliness's own CPU per event, without a broker, HTTP or other processes: the bench
events (as ingest publishes them) parsed and applied in batches through the real service
layer (:func:`handlers.apply_batch`) on a scratch SQLite database, with the production
census interval.  On a shared 2-core machine the wall-clock ratios of ``sendwatch
bench`` swing with the load; process CPU time per event does not, so this is the figure
to compare two versions of the code with::

    python -m cli.bench_inprocess --events 20000 --repeat 3

It prints one JSON object: CPU microseconds per event for each repetition and their
median.  Profile it with ``py-spy record -- python -m cli.bench_inprocess``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

from cli.bench import bench_events
from contracts.clock_rules import load_clocks
from contracts.events import load_events
from contracts.kpi_dictionary import load_kpis
from sendwatch.config import get_settings
from sendwatch.db import make_engine, migrate
from services.timeliness.domain.engine import Engine
from services.timeliness.service_layer import handlers
from services.timeliness.service_layer.handlers import Incoming
from services.timeliness.service_layer.messages import Topics
from services.timeliness.service_layer.unit_of_work import SqlUnitOfWork

PARTITIONS = 6


def _published(events: list[dict[str, Any]]) -> list[bytes]:
    """The records ingest writes: each event with its ``recorded`` time."""
    return [json.dumps({**e, "recorded": e["time"]}).encode() for e in events]


def cpu_per_event(n: int, batch: int = 5_000) -> float:
    """CPU microseconds per event to parse and apply ``n`` bench events."""
    settings = get_settings()
    registry = load_events()
    engine = Engine(
        load_kpis(str(settings.files.kpis)), load_clocks(str(settings.files.clocks)), registry
    )
    records = _published(bench_events(n))
    with tempfile.TemporaryDirectory() as tmp:
        db = make_engine(f"sqlite:///{Path(tmp) / 'timeliness.db'}")
        migrate("timeliness", db)
        cfg = handlers.Config(
            engine=engine,
            registry=registry,
            topics=Topics(snapshots="snapshots", milestones="milestones"),
            census_every_s=settings.timeliness.census_interval_s,
            census_budget=settings.timeliness.census_budget,
            census_pending=True,
        )
        started = time.process_time()
        for i in range(0, n, batch):
            items = []
            for raw in records[i : i + batch]:
                message = registry.parse(raw, privacy_checked=True)
                lane = zlib.crc32(message.subject.encode()) % PARTITIONS
                items.append(Incoming(message=message, topic="case-events", partition=lane))
            handlers.apply_batch(SqlUnitOfWork(db), items, cfg)
        used = time.process_time() - started
        db.dispose()
    return used / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    runs = [round(cpu_per_event(args.events, args.batch), 1) for _ in range(args.repeat)]
    print(
        json.dumps(
            {
                "events": args.events,
                "batch": args.batch,
                "timeliness_cpu_us_per_event": runs,
                "median": statistics.median(runs),
            }
        )
    )


if __name__ == "__main__":
    main()
