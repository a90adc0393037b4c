"""Timeliness service process (port 8002): clocks and KPIs for every registered event.

Consumes every topic that carries a registered event type (``contracts/events.py``),
with the clock ticks on them; keeps subject states and KPI cells; publishes milestone
alerts and KPI snapshots through a transactional outbox; serves caseload, KPI values,
cases at risk, replays and the DfE-layout exports.

The API holds unsuppressed figures and subject-level data: every route needs a token
with the ``operational`` role (``Authorization: Bearer``; reporting calls it with
``SENDWATCH_TIMELINESS_TOKEN``).  ``/healthz`` and ``/metrics`` stay open.
"""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Query
from fastapi.responses import PlainTextResponse
from pydantic import Field
from sqlalchemy.engine import Engine as DbEngine

from contracts.clock_rules import load_clocks
from contracts.events import EventRegistry, load_events
from contracts.kpi_dictionary import KpiDictionary, load_kpis
from contracts.snapshots import KpiSnapshot
from contracts.timeline import ClockTick, MilestoneAlert, TickData, TimelineMessage, tick_copies
from contracts.tokens import load_tokens
from contracts.topics import TopicCatalogue, load_topics
from sendwatch.auth import requires
from sendwatch.bodies import GuardedBody
from sendwatch.bus import make_broker, subscribe
from sendwatch.config import Settings, get_settings
from sendwatch.consumer import ConsumerPipeline
from sendwatch.db import make_engine
from sendwatch.observability import get_logger
from sendwatch.service import Runtime, create_service_app
from services.timeliness import placement_views, referral_api, views
from services.timeliness.adapters.outbox import mark_published, pending_outbox
from services.timeliness.domain.engine import Engine
from services.timeliness.service_layer import handlers
from services.timeliness.service_layer.messages import Topics
from services.timeliness.service_layer.unit_of_work import SqlUnitOfWork

SERVICE = "timeliness"
log = get_logger(__name__)


@dataclass
class Deps:
    """What the routes need (``Runtime.deps``), built once in :func:`bootstrap`."""

    db: DbEngine
    config: handlers.Config
    dictionary: KpiDictionary
    registry: EventRegistry
    authority: Path
    relay: Callable[[], Awaitable[None]] = field(default=lambda: _nothing())
    placements: Path | None = None  # placements.yaml (the DfE caseload cohort)

    def uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.db)


async def _nothing() -> None:
    return None


def _locked(lock: threading.Lock, fn: Callable[..., int], *args: Any) -> int:
    with lock:
        return fn(*args)


def lanes(registry: EventRegistry, catalogue: TopicCatalogue) -> dict[str, int]:
    """Every topic (alias) timeliness consumes, with its partition count."""
    return {alias: catalogue[alias].partitions for alias in registry.topics}


def bootstrap(settings: Settings | None = None) -> Runtime[Deps]:
    settings = settings or get_settings()
    topics = load_topics(settings.files.topics)
    registry = load_events()
    engine = Engine(
        load_kpis(str(settings.files.kpis)), load_clocks(str(settings.files.clocks)), registry
    )
    for problem in engine.problems:
        log.warning("kpi_definition_problem", problem=problem)
    broker = make_broker(settings, SERVICE)
    db = make_engine(settings.db_url_for(SERVICE))
    out_topics = Topics(
        snapshots=topics.name("kpi-snapshots"), milestones=topics.name("milestones")
    )
    cfg = handlers.Config(
        engine=engine,
        registry=registry,
        topics=out_topics,
        census_every_s=settings.timeliness.census_interval_s,
        census_budget=settings.timeliness.census_budget,
        census_pending=True,  # the position is brought up to date once at start
        inbox=not settings.timeliness.bench_no_inbox,
    )
    if not cfg.inbox:
        if not settings.dev:
            raise RuntimeError("SENDWATCH_BENCH_NO_INBOX is for benchmarks: set SENDWATCH_DEV=1")
        log.warning("inbox_off", reason="benchmark comparison; not exactly-once")
    # Batches and the census refresh write the same state row: one at a time.
    writing = threading.Lock()

    def apply(items: list[handlers.Incoming]) -> int:
        with writing:
            return handlers.apply_batch(deps.uow(), items, cfg)

    deps = Deps(db, cfg, engine.dictionary, registry, settings.files.authority)
    deps.placements = settings.files.placements
    snapshots = broker.publisher(
        out_topics.snapshots,
        title="kpi-snapshots",
        schema=KpiSnapshot,
        description="KPI values per cycle and breakdown; closed cycles carry revisions.",
    )
    milestones = broker.publisher(
        out_topics.milestones,
        title="milestones",
        schema=MilestoneAlert,
        description="Milestone early warnings and slips, one per subject, milestone and kind.",
    )
    by_topic = {out_topics.snapshots: snapshots, out_topics.milestones: milestones}
    relay_lock = asyncio.Lock()

    async def relay_outbox(_applied: int = 0) -> None:
        """Publish what the last transactions put in the outbox, then delete it."""
        async with relay_lock:
            while rows := await asyncio.to_thread(pending_outbox, db):
                futures = []
                for row in rows:
                    futures.append(
                        await by_topic[row.topic].publish(
                            row.payload.encode(),
                            key=row.key.encode() if row.key else None,
                            partition=row.partition,
                            no_confirm=True,
                        )
                    )
                await asyncio.gather(*futures)
                await asyncio.to_thread(
                    mark_published, db, [r.id for r in rows if r.id is not None]
                )

    alias = {topics.name(a): a for a in registry.topics}
    pipeline: ConsumerPipeline[handlers.Incoming] = ConsumerPipeline(
        service=SERVICE,
        broker=broker,
        dlq_topic=topics.name("dead-letter"),
        # Ingest, the only producer of these topics, scanned every event for personal
        # data before publishing it: the envelope's scan is not run a second time.
        parse=lambda record: handlers.Incoming(
            registry.parse(record.value, privacy_checked=True),
            alias[record.topic],
            record.partition,
        ),
        apply=apply,
        after_commit=relay_outbox,
        group=settings.timeliness.group,
        settings=settings,
    )
    deps.relay = relay_outbox
    consumed = [topics.name(a) for a in registry.topics]
    subscribe(
        broker,
        settings,
        pipeline,
        consumed,
        settings.timeliness.group,
        payload=TimelineMessage,
        title="events",
        description="Registered events and clock ticks",
    )

    async def wall_clock() -> None:
        """Production clock: one tick per hour of wall time, to every partition."""
        while True:
            now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
            tick = ClockTick(
                id=f"wall-{now:%Y%m%dT%H}",
                source="clock",
                type="clock.tick",
                subject="clock:wall",
                time=now,
                data=TickData(),
            )
            for topic, p, copy in tick_copies(tick, lanes(registry, topics)):
                await broker.publish(
                    copy.model_dump_json().encode(), topics.name(topic), partition=p
                )
            await asyncio.sleep(300)

    async def reconcile() -> None:
        try:
            outcome = await asyncio.to_thread(handlers.reconcile, deps.uow(), cfg)
            log.info("definitions_reconciled", outcome=outcome, fingerprint=engine.fingerprint)
        except handlers.ReplayRequired as exc:
            log.error("replay_required", reason=str(exc))

    async def census_refresh() -> None:
        """Bring the current census position up to date after batches that skipped it."""
        every = max(0.2, cfg.census_every_s)
        while True:
            await asyncio.sleep(every)
            if not cfg.census_pending or not cfg.census_due():
                continue
            try:
                if await asyncio.to_thread(
                    _locked, writing, handlers.refresh_census, deps.uow(), cfg
                ):
                    await relay_outbox()
            except Exception as exc:  # noqa: BLE001 - the next round tries again
                log.warning("census_refresh_failed", error=type(exc).__name__)

    async def start_clock() -> None:
        # A batch allocates many small, short-lived objects: collect young garbage less
        # often, and leave what start-up built out of the collector's way.
        gc.set_threshold(50_000, 20, 20)
        gc.freeze()
        loop = asyncio.get_running_loop()
        if settings.timeliness.wall_clock:
            loop.create_task(wall_clock())
        loop.create_task(census_refresh())

    return Runtime(
        name=SERVICE,
        settings=settings,
        broker=broker,
        deps=deps,
        engine=db,
        groups={settings.timeliness.group: consumed},
        on_start=[reconcile, relay_outbox, start_clock],
        consumers=[pipeline.health],
    )


class AppliedQuery(GuardedBody):
    ids: list[str]


class ReplayRequest(GuardedBody):
    reason: str = Field(min_length=3, description="Why the history is recomputed (audited)")
    from_day: date | None = Field(
        default=None, alias="from", description="Recompute cycles ending on or after this day"
    )


def create_app(runtime: Runtime[Deps] | None = None) -> FastAPI:
    runtime = runtime or bootstrap()
    deps = runtime.deps
    app = create_service_app(
        runtime,
        title="sendwatch timeliness",
        description="Clocks and KPIs for every registered event (the measure engine). "
        "Every route needs `Authorization: Bearer <token>` with the operational role.",
    )
    operational = [Depends(requires(load_tokens(runtime.settings.files.tokens), "operational"))]

    def run(fn: Any, *args: Any) -> Any:
        return asyncio.to_thread(fn, deps.uow(), *args)

    @app.get("/v1/caseload", tags=["kpis"], dependencies=operational)
    async def caseload() -> dict[str, Any]:
        view = await run(views.caseload)
        return {
            "open_caseload": view.open_caseload,
            "cases": view.cases,
            "events_applied": view.events_applied,
            "sequence": view.sequence,
            "as_of": view.as_of,
            "watermark": view.watermark,
        }

    @app.post("/v1/applied", tags=["operations"], dependencies=operational)
    async def applied(query: AppliedQuery) -> dict[str, Any]:
        """Which of these event ids has the service applied (for `--wait`)."""
        if len(query.ids) > 10_000:
            raise HTTPException(422, "at most 10,000 ids per request")
        found = await run(views.applied_ids, query.ids)
        view = await run(views.caseload)
        return {"applied": found, "sequence": view.sequence}

    @app.get("/v1/kpis", tags=["kpis"], dependencies=operational)
    async def kpis(
        kpi: str | None = None, cycle: str | None = None, breakdown: str | None = None
    ) -> dict[str, Any]:
        if kpi is not None and kpi not in deps.dictionary.kpis:
            raise HTTPException(422, f"unknown kpi {kpi!r}")
        values = await run(views.kpi_values, deps.dictionary, kpi, cycle, breakdown)
        return {"values": [v.model_dump(mode="json") for v in values]}

    @app.get("/v1/cases-at-risk", tags=["cases"], dependencies=operational)
    async def cases_at_risk(limit: int = Query(100, ge=1, le=5000)) -> dict[str, Any]:
        """Open cases by days to their next milestone (pseudonymous ids only)."""
        result: dict[str, Any] = await run(views.cases_at_risk, deps.config.engine, limit)
        return result

    @app.get("/v1/status", tags=["operations"], dependencies=operational)
    async def status() -> dict[str, Any]:
        view = await run(views.caseload)
        return {
            "fingerprint": deps.config.engine.fingerprint,
            "stored_fingerprint": view.fingerprint,
            "replay_required": view.fingerprint not in (None, deps.config.engine.fingerprint),
            "problems": deps.config.engine.problems,
            "topics": deps.registry.topics,
        }

    @app.post("/v1/replay", tags=["operations"], dependencies=operational)
    async def replay(body: ReplayRequest) -> dict[str, Any]:
        """Recompute the KPI cells from the stored subjects (audited; every closed cell
        that changes goes up a revision)."""
        report = await asyncio.to_thread(
            lambda: handlers.replay(
                deps.uow(), deps.config, reason=body.reason, from_day=body.from_day
            )
        )
        await deps.relay()
        return {
            "cells_changed": report.cells_changed,
            "closed_restated": report.closed_restated,
            "subjects": report.subjects,
            "restated": report.restated,
        }

    @app.get(
        "/v1/exports/{name}",
        tags=["exports"],
        response_class=PlainTextResponse,
        dependencies=operational,
    )
    async def export(
        name: str,
        year: int | None = Query(None, ge=2014, le=2100),
        on: date | None = Query(None, alias="date", description="dfe-caseload: the census day"),
    ) -> str:
        if name == "dfe-caseload":
            if on is None:
                raise HTTPException(422, "dfe-caseload needs date=YYYY-MM-DD")
            caseload: str = await run(
                placement_views.dfe_caseload, on, deps.authority, deps.placements
            )
            return caseload
        if name not in ("dfe-timeliness", "dfe-requests"):
            raise HTTPException(404, f"no export {name!r}")
        if year is None:
            raise HTTPException(422, f"{name} needs year=YYYY")
        text: str = await run(views.dfe_export, name, year, deps.authority)
        return text

    app.include_router(referral_api.router(deps.config.engine, deps.uow, operational))
    return app
