"""Reporting service process (port 8000): the partnership dashboard and reporting API.

Consumes KPI snapshots (every revision of every value is kept), serves the dashboard
pages, the reporting API (``/v1/kpis``, ``/v1/kpis/{id}``, ``/v1/cases-at-risk``, the
exports and the monthly insight summary) and KPI gauges on ``/metrics``.  ``/metrics`` is
unauthenticated, so its gauges carry the public (suppressed) figures only.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from contracts.kpi_dictionary import load_kpis
from contracts.snapshots import KpiSnapshot
from contracts.tokens import load_tokens
from contracts.topics import load_topics
from sendwatch.auth import requires
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
from services.reporting.views import Reporting, local_date

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


def refresh_gauges(reporting: Reporting) -> None:
    """KPI gauges and the snapshot age from what is stored.  The gauges show what the
    public view shows: a value small-number suppression hides is not exported (its
    series is removed), since ``/metrics`` needs no token."""
    st = reporting.state()
    if st is None:
        return
    if st.received_at is not None:
        received = st.received_at
        if received.tzinfo is None:
            received = received.replace(tzinfo=UTC)
        metrics.snapshot_received(received, st.sequence)
    values = []
    for kpi in reporting.dictionary.kpis:
        for (_cycle, breakdown), shown in reporting.published(kpi, suppressed=True).items():
            if breakdown == "all":
                values.append(shown.source.model_copy(update={"value": shown.value}))
    metrics.update_kpi_gauges(values, local_date(st.watermark or st.as_of))


def bootstrap(settings: Settings | None = None) -> Runtime:
    settings = settings or get_settings()
    topics = load_topics()
    broker = make_broker(settings, SERVICE)
    engine = make_engine(settings.db_url_for(SERVICE))
    reporting = Reporting(engine, load_kpis(), load_policy())

    def apply(items: list[Incoming]) -> int:
        applied = repo.apply_snapshots_detailed(engine, [i.snapshot for i in items])
        by_id = {i.id: i for i in items}
        for a in applied:
            i = by_id[a.event_id]
            log.info(
                "snapshot_applied",
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
        return len(applied)

    def refresh() -> None:
        try:
            refresh_gauges(reporting)
        except Exception as exc:  # noqa: BLE001 - the batch is stored; gauges catch up
            log.warning("gauges_not_refreshed", error=type(exc).__name__)

    async def after_commit(_applied: int) -> None:
        await asyncio.to_thread(refresh)

    pipeline: ConsumerPipeline[Incoming] = ConsumerPipeline(
        service=SERVICE,
        broker=broker,
        dlq_topic=topics.name("dead-letter"),
        parse=_parse,
        apply=apply,
        after_commit=after_commit,
        group=GROUP,
        settings=settings,
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
        await asyncio.to_thread(refresh)

    return Runtime(
        name=SERVICE,
        settings=settings,
        broker=broker,
        engine=engine,
        groups={GROUP: [topics.name("kpi-snapshots")]},
        on_start=[start_gauges],
        extras={"reporting": reporting},
        consumers=[pipeline.health],
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
    reporting: Reporting = runtime.extras.get("reporting") or Reporting(
        engine, load_kpis(), load_policy()
    )
    policy = reporting.policy
    tokens = load_tokens()
    ctx = Context(
        reporting=reporting,
        upstreams=Upstreams.from_env(),
        tokens=tokens,
        policy=policy,
        templates=make_templates(),
    )
    app.state.context = ctx
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    @app.get("/v1/status", tags=["operations"], dependencies=[Depends(requires(tokens, "read"))])
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
