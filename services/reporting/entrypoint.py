"""Reporting service process (port 8000): the partnership dashboard and reporting API.

Consumes KPI snapshots (every revision of every value is kept), serves the dashboard
pages, the reporting API (``/v1/kpis``, ``/v1/kpis/{id}``, ``/v1/cases-at-risk``, the
exports and the monthly insight summary) and KPI gauges on ``/metrics``.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from contracts.kpi_dictionary import load_kpis
from contracts.snapshots import KpiSnapshot
from contracts.tokens import load_tokens
from contracts.topics import load_topics
from sendwatch.bus import batch_subscriber, current_records, make_broker
from sendwatch.config import Settings, get_settings
from sendwatch.consumer import ConsumerPipeline
from sendwatch.db import make_engine
from sendwatch.observability import get_logger
from sendwatch.service import Runtime, create_service_app
from services.reporting import api, metrics, web
from services.reporting.adapters import repository as repo
from services.reporting.adapters.upstream import Upstreams
from services.reporting.context import STATIC, Context, make_templates
from services.reporting.domain.suppression import load_policy
from services.reporting.service import Reporting, load_place, local_date

SERVICE = "reporting"
GROUP = "sendwatch-reporting"
log = get_logger(__name__)


@dataclass(frozen=True)
class Incoming:
    """A KPI snapshot with where it came from (for the log's trace)."""

    snapshot: KpiSnapshot
    topic: str
    partition: int
    offset: int
    traceparent: str | None

    @property
    def id(self) -> str:
        return self.snapshot.id

    @property
    def trace_id(self) -> str:
        """W3C trace id: from the message's ``traceparent`` header when the producer set
        one, else derived from the event id (so every service logs the same one)."""
        if self.traceparent:
            parts = self.traceparent.split("-")
            if len(parts) >= 3 and len(parts[1]) == 32:
                return parts[1]
        return hashlib.sha256(self.snapshot.id.encode()).hexdigest()[:32]


def _parse(record: Any) -> Incoming:
    snap = KpiSnapshot.model_validate_json(record.value)
    traceparent = None
    for key, value in record.headers or ():
        if key == "traceparent" and value:
            traceparent = value.decode(errors="replace")
    return Incoming(snap, record.topic, record.partition, record.offset, traceparent)


def refresh_gauges(engine: Any) -> None:
    """KPI gauges and the snapshot age from what is stored."""
    st = repo.producer_state(engine, "timeliness")
    if st is None:
        return
    if st.received_at is not None:
        received = st.received_at
        if received.tzinfo is None:
            received = received.replace(tzinfo=UTC)
        metrics.snapshot_received(received, st.sequence)
    values = [s.value for s in repo.latest_values(engine) if s.value.breakdown == "all"]
    metrics.update_kpi_gauges(values, local_date(st.watermark or st.as_of))


def bootstrap(settings: Settings | None = None) -> Runtime:
    settings = settings or get_settings()
    topics = load_topics(settings.files.topics)
    broker = make_broker(settings, SERVICE)
    engine = make_engine(settings.db_url_for(SERVICE))

    def apply(items: list[Incoming]) -> int:
        applied = repo.apply_snapshots_detailed(engine, [i.snapshot for i in items])
        by_id = {i.id: i for i in items}
        for a in applied:
            i = by_id[a.event_id]
            log.info(
                "snapshot_applied",
                event_id=a.event_id,
                trace_id=i.trace_id,
                traceparent=i.traceparent,
                topic=i.topic,
                partition=i.partition,
                offset=i.offset,
                producer=a.producer,
                sequence=a.sequence,
                values=a.values,
                new_revisions=a.new_revisions,
            )
        if applied:
            try:
                refresh_gauges(engine)
            except Exception:  # noqa: BLE001 - the batch is stored; gauges catch up next time
                log.exception("gauges_not_refreshed")
        return len(applied)

    pipeline: ConsumerPipeline[Incoming] = ConsumerPipeline(
        service=SERVICE,
        broker=broker,
        dlq_topic=topics.name("dead-letter"),
        parse=_parse,
        apply=apply,
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

    async def start_gauges() -> None:
        await asyncio.to_thread(refresh_gauges, engine)

    return Runtime(
        name=SERVICE,
        settings=settings,
        broker=broker,
        engine=engine,
        groups={GROUP: [topics.name("kpi-snapshots")]},
        on_start=[start_gauges],
    )


def create_app(runtime: Runtime | None = None) -> FastAPI:
    runtime = runtime or bootstrap()
    assert runtime.engine is not None
    engine = runtime.engine
    app = create_service_app(
        runtime,
        title="sendwatch reporting",
        description="Partnership dashboard and reporting API. Tokens (Authorization: "
        "Bearer) with roles board (suppressed aggregates), operational (exact figures, "
        "cases at risk, DfE-layout files) and admin; without a token, the public "
        "(suppressed) view.",
    )
    settings = runtime.settings
    policy = load_policy(settings.files.suppression)
    ctx = Context(
        reporting=Reporting(
            engine,
            load_kpis(str(settings.files.kpis)),
            policy,
            load_place(settings.files.authority),
        ),
        upstreams=Upstreams.from_settings(settings.upstream),
        tokens=load_tokens(settings.files.tokens),
        policy=policy,
        templates=make_templates(),
        chromium=settings.reporting.chromium,
    )
    app.state.context = ctx
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    @app.get("/v1/status", tags=["operations"])
    async def status() -> dict[str, Any]:
        """The latest timeliness snapshot applied (``sendwatch import sen2 --wait``)."""
        st = await asyncio.to_thread(repo.producer_state, engine, "timeliness")
        return {
            "timeliness_sequence": st.sequence if st else None,
            "events_applied": st.events_applied if st else 0,
            "as_of": st.as_of if st else None,
            "watermark": st.watermark if st else None,
            "received_at": st.received_at if st else None,
        }

    api.register(app, ctx)
    web.register(app, ctx)

    def wants_html(request: Request) -> bool:
        return not request.url.path.startswith(("/v1/", "/healthz", "/metrics", "/docs"))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = []
        for err in exc.errors():
            where = ".".join(str(x) for x in err.get("loc", ()) if x not in ("query", "path"))
            problems.append(f"{where}: {err.get('msg', 'invalid')}")
        message = "; ".join(problems) or "invalid request"
        if wants_html(request):
            return ctx.render(
                request,
                "error.html",
                422,
                title="Bad request",
                heading="Something in the address is not valid",
                message=message,
            )
        return JSONResponse({"detail": message, "errors": _plain(exc.errors())}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if wants_html(request) and exc.status_code == 404:
            return ctx.render(
                request,
                "error.html",
                404,
                title="Not found",
                heading="Page not found",
                message="There is no page at this address.",
            )
        return JSONResponse(
            {"detail": exc.detail},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("request_failed", path=request.url.path)
        return JSONResponse({"detail": "internal error; see the reporting log"}, status_code=500)

    return app


def _plain(errors: Any) -> list[dict[str, Any]]:
    out = []
    for e in errors:
        out.append(
            {
                "loc": list(e.get("loc", ())),
                "msg": str(e.get("msg", "")),
                "type": str(e.get("type", "")),
            }
        )
    return out
