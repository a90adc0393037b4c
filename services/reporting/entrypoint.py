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
from functools import partial
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy.engine import Engine

from contracts.kpi_dictionary import load_kpis
from contracts.snapshots import KpiSnapshot
from contracts.tokens import load_tokens
from contracts.topics import load_topics
from sendwatch.bus import make_broker, subscribe
from sendwatch.config import Settings, get_settings
from sendwatch.consumer import ConsumerPipeline
from sendwatch.db import make_engine
from sendwatch.observability import get_logger
from sendwatch.openapi import Extras
from sendwatch.service import Runtime, create_service_app
from services.reporting import api, metrics, web
from services.reporting.adapters import repository as repo
from services.reporting.adapters.sessions import SessionStore
from services.reporting.adapters.upstream import Upstreams
from services.reporting.context import STATIC, Context, make_templates
from services.reporting.domain.suppression import load_policy
from services.reporting.service import Reporting, load_place, local_date
from services.reporting.web import errors

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
    for published in reporting.all_published(suppressed=True).values():
        for (_cycle, breakdown), shown in published.items():
            if breakdown == "all":
                values.append(shown.source.model_copy(update={"value": shown.value}))
    metrics.update_kpi_gauges(values, local_date(st.watermark or st.as_of))


def refresh(reporting: Reporting) -> None:
    try:
        refresh_gauges(reporting)
    except Exception as exc:  # noqa: BLE001 - the batch is stored; gauges catch up
        log.warning("gauges_not_refreshed", error=type(exc).__name__)


def apply(engine: Engine, items: list[Incoming]) -> int:
    """Store a batch of snapshots (one transaction) and log each (its trace id, never
    its event id)."""
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


def bootstrap(settings: Settings | None = None) -> Runtime[Context]:
    settings = settings or get_settings()
    topics = load_topics(settings.files.topics)
    broker = make_broker(settings, SERVICE)
    engine = make_engine(settings.db_url_for(SERVICE))
    ctx = context(settings, engine)

    async def after_commit(_applied: int) -> None:
        await asyncio.to_thread(refresh, ctx.reporting)

    pipeline: ConsumerPipeline[Incoming] = ConsumerPipeline(
        service=SERVICE,
        broker=broker,
        dlq_topic=topics.name("dead-letter"),
        parse=_parse,
        apply=partial(apply, engine),
        after_commit=after_commit,
        group=GROUP,
        settings=settings,
    )
    subscribe(
        broker,
        settings,
        pipeline,
        topics.name("kpi-snapshots"),
        GROUP,
        payload=KpiSnapshot,
        title="kpi-snapshots",
        description="KPI values from timeliness",
    )

    async def start_gauges() -> None:
        await asyncio.to_thread(refresh, ctx.reporting)

    return Runtime(
        name=SERVICE,
        settings=settings,
        broker=broker,
        deps=ctx,
        engine=engine,
        groups={GROUP: [topics.name("kpi-snapshots")]},
        on_start=[start_gauges],
        consumers=[pipeline.health],
    )


def context(settings: Settings, engine: Engine) -> Context:
    """What the routes share: the application layer, upstreams, tokens, templates."""
    policy = load_policy(settings.files.suppression)
    return Context(
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
        sessions=SessionStore(
            engine,
            hours=settings.http.session_hours,
            max_failures=settings.http.sign_in_max_failures,
            lockout_s=settings.http.sign_in_lockout_s,
        ),
    )


def create_app(runtime: Runtime[Context] | None = None) -> FastAPI:
    runtime = runtime or bootstrap()
    app = create_service_app(
        runtime,
        title="sendwatch reporting",
        description="Partnership dashboard and reporting API. Tokens (Authorization: "
        "Bearer) with roles board (suppressed aggregates), operational (exact figures, "
        "cases at risk, DfE-layout files) and admin; without a token, the public "
        "(suppressed) view.",
        openapi=lambda: Extras(authenticated_prefixes=("/v1/",)),
    )
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    for router in (*api.routers(), *web.routers()):
        app.include_router(router)
    errors.install(app)
    return app
