"""Timeliness service process: consumes case events, keeps the caseload, publishes KPI
snapshots, serves them on port 8002."""

import asyncio
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI

from contracts.case_events import CaseEvent, parse_case_event
from contracts.snapshots import KpiSnapshot, KpiSnapshotData, KpiValue
from contracts.topics import load_topics
from sendwatch.bus import batch_subscriber, current_records, make_broker
from sendwatch.config import Settings, get_settings
from sendwatch.consumer import ConsumerPipeline
from sendwatch.db import make_engine
from sendwatch.service import Runtime, create_service_app
from services.timeliness.adapters.repository import CaseloadView, apply_batch, read_caseload

SERVICE = "timeliness"
GROUP = "sendwatch-timeliness"


def snapshot_from(view: CaseloadView) -> KpiSnapshot:
    return KpiSnapshot(
        id=f"snap-{SERVICE}-{view.sequence:012d}",
        source=SERVICE,
        type="sendwatch.kpi.snapshot",
        subject="kpi-set:timeliness",
        time=view.as_of or datetime.now(UTC),
        recorded=datetime.now(UTC),
        data=KpiSnapshotData(
            producer=SERVICE,
            sequence=view.sequence,
            as_of=view.as_of,
            events_applied=view.events_applied,
            values=[
                KpiValue(
                    kpi="open_caseload",
                    cycle="current",
                    value=float(view.open_caseload),
                    numerator=view.open_caseload,
                    denominator=None,
                )
            ],
        ),
    )


def bootstrap(settings: Settings | None = None) -> Runtime:
    settings = settings or get_settings()
    topics = load_topics()
    broker = make_broker(settings, SERVICE)
    engine = make_engine(settings.db_url_for(SERVICE))
    snapshots = broker.publisher(
        topics.name("kpi-snapshots"),
        title="kpi-snapshots",
        description="KPI values after each applied batch; newer sequence replaces older.",
        schema=KpiSnapshot,
    )
    publish_lock = asyncio.Lock()

    async def publish_snapshot(_applied: int = 0) -> None:
        async with publish_lock:
            view = await asyncio.to_thread(read_caseload, engine)
            snap = snapshot_from(view)
            await snapshots.publish(snap.model_dump_json().encode(), key=b"timeliness")

    pipeline: ConsumerPipeline[Any] = ConsumerPipeline(
        service=SERVICE,
        broker=broker,
        dlq_topic=topics.name("dead-letter"),
        parse=parse_case_event,
        apply=lambda events: apply_batch(engine, events),
        after_commit=publish_snapshot,
    )

    @batch_subscriber(
        broker,
        settings,
        topics.name("case-events"),
        GROUP,
        title="case-events",
        description="EHC case events in SEN2 vocabulary",
    )
    async def on_case_events(body: list[CaseEvent]) -> None:
        await pipeline.handle(current_records(broker))

    return Runtime(
        name=SERVICE,
        settings=settings,
        broker=broker,
        engine=engine,
        groups={GROUP: [topics.name("case-events")]},
        on_start=[publish_snapshot],
    )


def create_app(runtime: Runtime | None = None) -> FastAPI:
    runtime = runtime or bootstrap()
    app = create_service_app(
        runtime,
        title="sendwatch timeliness",
        description="Statutory clocks and KPIs for EHC needs assessments.",
    )

    @app.get("/v1/caseload", tags=["kpis"])
    async def caseload() -> dict[str, Any]:
        assert runtime.engine is not None
        view = await asyncio.to_thread(read_caseload, runtime.engine)
        return {
            "open_caseload": view.open_caseload,
            "cases": view.cases,
            "events_applied": view.events_applied,
            "sequence": view.sequence,
            "as_of": view.as_of,
        }

    return app
