"""Reporting service process: consumes KPI snapshots, serves ``GET /v1/kpis`` on 8000."""

import asyncio
from html import escape
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from contracts.snapshots import KpiSnapshot
from contracts.topics import load_topics
from sendwatch.bus import batch_subscriber, current_records, make_broker
from sendwatch.config import Settings, get_settings
from sendwatch.consumer import ConsumerPipeline
from sendwatch.db import make_engine
from sendwatch.service import Runtime, create_service_app
from services.reporting.adapters.repository import (
    apply_snapshots,
    current_kpis,
    producer_state,
)

SERVICE = "reporting"
GROUP = "sendwatch-reporting"


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
        description="KPI values from timeliness",
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
        runtime, title="sendwatch reporting", description="Partnership dashboard and reporting API."
    )

    @app.get("/v1/kpis", tags=["kpis"])
    async def kpis() -> dict[str, Any]:
        assert runtime.engine is not None
        rows = await asyncio.to_thread(current_kpis, runtime.engine)
        return {
            "kpis": [
                {
                    "kpi": r.kpi,
                    "cycle": r.cycle,
                    "breakdown": r.breakdown,
                    "value": r.value,
                    "numerator": r.numerator,
                    "denominator": r.denominator,
                    "revision": r.revision,
                    "sequence": r.sequence,
                    "as_of": r.as_of,
                }
                for r in rows
            ]
        }

    @app.get("/v1/status", tags=["operations"])
    async def status() -> dict[str, Any]:
        """The latest timeliness snapshot applied (``sendwatch import sen2 --wait``)."""
        assert runtime.engine is not None
        st = await asyncio.to_thread(producer_state, runtime.engine, "timeliness")
        return {
            "timeliness_sequence": st.sequence if st else None,
            "events_applied": st.events_applied if st else 0,
            "as_of": st.as_of if st else None,
            "watermark": st.watermark if st else None,
        }

    @app.get("/", response_class=HTMLResponse, tags=["dashboard"])
    async def overview() -> str:
        assert runtime.engine is not None
        rows = await asyncio.to_thread(current_kpis, runtime.engine)
        body = "".join(
            f"<tr><td>{escape(r.kpi)}</td><td>{escape(r.cycle)}</td>"
            f"<td>{escape(r.breakdown)}</td><td>{'' if r.value is None else r.value:g}</td>"
            f"<td>{escape(str(r.as_of or ''))}</td></tr>"
            for r in rows
        )
        return (
            "<!doctype html><html lang=en><head><meta charset=utf-8>"
            "<title>sendwatch: partnership dashboard</title></head><body>"
            "<h1>SEND partnership dashboard</h1>"
            "<table><caption>Current KPI values</caption><thead><tr><th scope=col>KPI</th>"
            "<th scope=col>Cycle</th><th scope=col>Breakdown</th><th scope=col>Value</th>"
            f"<th scope=col>Data as of</th></tr></thead><tbody>{body}</tbody></table>"
            "</body></html>"
        )

    return app
