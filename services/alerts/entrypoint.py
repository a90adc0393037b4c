"""Alerts service process: consumes KPI snapshots, port 8003.

This step keeps the latest KPI observations and serves the open caseload; the rules,
escalation ladders and notifications build on these observations.
"""

import asyncio
from typing import Any

from fastapi import FastAPI

from contracts.snapshots import KpiSnapshot
from contracts.topics import load_topics
from sendwatch.bus import batch_subscriber, current_records, make_broker
from sendwatch.config import Settings, get_settings
from sendwatch.consumer import ConsumerPipeline
from sendwatch.db import make_engine
from sendwatch.service import Runtime, create_service_app
from services.alerts.adapters.repository import apply_snapshots, observation

SERVICE = "alerts"
GROUP = "sendwatch-alerts"


def bootstrap(settings: Settings | None = None) -> Runtime:
    settings = settings or get_settings()
    topics = load_topics()
    broker = make_broker(settings, SERVICE)
    engine = make_engine(settings.db_url_for(SERVICE))
    pipeline: ConsumerPipeline[KpiSnapshot] = ConsumerPipeline(
        service=SERVICE,
        broker=broker,
        dlq_topic=topics.name("dead-letter"),
        parse=lambda record: KpiSnapshot.model_validate_json(record.value),
        apply=lambda snaps: apply_snapshots(engine, snaps),
    )

    @batch_subscriber(
        broker,
        settings,
        topics.name("kpi-snapshots"),
        GROUP,
        title="kpi-snapshots",
        description="KPI values the rules evaluate",
    )
    async def on_snapshots(body: list[KpiSnapshot]) -> None:
        await pipeline.handle(current_records(broker))

    return Runtime(
        name=SERVICE,
        settings=settings,
        broker=broker,
        engine=engine,
        groups={GROUP: [topics.name("kpi-snapshots")]},
    )


def create_app(runtime: Runtime | None = None) -> FastAPI:
    runtime = runtime or bootstrap()
    app = create_service_app(
        runtime, title="sendwatch alerts", description="Exception alerts and escalation."
    )

    @app.get("/v1/caseload", tags=["kpis"])
    async def caseload() -> dict[str, Any]:
        assert runtime.engine is not None
        obs = await asyncio.to_thread(observation, runtime.engine, "open_caseload")
        return {
            "open_caseload": int(obs.value) if obs and obs.value is not None else None,
            "sequence": obs.sequence if obs else None,
        }

    return app
