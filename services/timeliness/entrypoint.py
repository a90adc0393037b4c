"""Timeliness service process (port 8002): statutory clocks and KPIs.

Consumes case events and clock ticks from the case-events topic; keeps case states and
KPI aggregates; publishes milestone alerts and KPI snapshots through a transactional
outbox; serves caseload, KPI values, cases at risk and the DfE-layout exports.

The API holds unsuppressed figures and case-level data: every route needs a token with
the ``operational`` role (``Authorization: Bearer``; reporting calls it with
``SENDWATCH_TIMELINESS_TOKEN``).  ``/healthz`` and ``/metrics`` stay open.
"""

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Query
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel

from contracts.clock_rules import ClockRules, load_clocks
from contracts.kpi_dictionary import KpiDictionary, load_kpis
from contracts.snapshots import KpiSnapshot
from contracts.timeline import ClockTick, MilestoneAlert, TickData, TimelineMessage, parse_timeline
from contracts.tokens import load_tokens
from contracts.topics import load_topics
from sendwatch.auth import requires
from sendwatch.bus import make_broker, subscribe
from sendwatch.config import Settings, get_settings
from sendwatch.consumer import ConsumerPipeline
from sendwatch.db import make_engine
from sendwatch.observability import get_logger
from sendwatch.service import Runtime, create_service_app
from services.timeliness.adapters import repository as repo
from services.timeliness.domain import clocks
from services.timeliness.domain.case import local_date

SERVICE = "timeliness"
GROUP = "sendwatch-timeliness"
log = get_logger(__name__)


@dataclass(frozen=True)
class Deps:
    """What the routes need besides the database (``Runtime.deps``)."""

    dictionary: KpiDictionary
    rules: ClockRules


def bootstrap(settings: Settings | None = None) -> Runtime[Deps]:
    settings = settings or get_settings()
    topics = load_topics(settings.files.topics)
    dictionary = load_kpis(str(settings.files.kpis))
    rules = load_clocks(str(settings.files.clocks))
    broker = make_broker(settings, SERVICE)
    engine = make_engine(settings.db_url_for(SERVICE))
    out_topics = repo.Topics(
        snapshots=topics.name("kpi-snapshots"), milestones=topics.name("milestones")
    )
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
        description="Milestone early warnings and slips, one per case, milestone and kind.",
    )
    by_topic = {out_topics.snapshots: snapshots, out_topics.milestones: milestones}
    relay_lock = asyncio.Lock()

    async def relay_outbox(_applied: int = 0) -> None:
        """Publish what the last transactions put in the outbox, then delete it."""
        async with relay_lock:
            while rows := await asyncio.to_thread(repo.pending_outbox, engine):
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
                    repo.mark_published, engine, [r.id for r in rows if r.id is not None]
                )

    pipeline: ConsumerPipeline[repo.Incoming] = ConsumerPipeline(
        service=SERVICE,
        broker=broker,
        dlq_topic=topics.name("dead-letter"),
        parse=lambda record: repo.Incoming(parse_timeline(record.value), record.partition),
        apply=lambda items: repo.apply_batch(engine, items, dictionary, rules, out_topics),
        after_commit=relay_outbox,
        group=GROUP,
        settings=settings,
    )

    subscribe(
        broker,
        settings,
        pipeline,
        topics.name("case-events"),
        GROUP,
        payload=TimelineMessage,
        title="case-events",
        description="Case events and clock ticks",
    )

    case_topic = topics.name("case-events")
    partitions = topics["case-events"].partitions

    async def wall_clock() -> None:
        """Production clock: one tick per hour of wall time, to every partition."""
        while True:
            now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
            for p in range(partitions):
                tick = ClockTick(
                    id=f"wall-{now:%Y%m%dT%H}:p{p}",
                    source="clock",
                    type="clock.tick",
                    subject="clock:wall",
                    time=now,
                    data=TickData(partition=p),
                )
                await broker.publish(tick.model_dump_json().encode(), case_topic, partition=p)
            await asyncio.sleep(300)

    async def start_clock() -> None:
        if settings.timeliness.wall_clock:
            asyncio.get_running_loop().create_task(wall_clock())

    return Runtime(
        name=SERVICE,
        settings=settings,
        broker=broker,
        deps=Deps(dictionary, rules),
        engine=engine,
        groups={GROUP: [case_topic]},
        on_start=[relay_outbox, start_clock],
        consumers=[pipeline.health],
    )


class AppliedQuery(BaseModel):
    ids: list[str]


def create_app(runtime: Runtime[Deps] | None = None) -> FastAPI:
    runtime = runtime or bootstrap()
    dictionary = runtime.deps.dictionary
    rules = runtime.deps.rules
    engine = runtime.engine
    assert engine is not None
    app = create_service_app(
        runtime,
        title="sendwatch timeliness",
        description="Statutory clocks and KPIs for EHC needs assessments. Every route "
        "needs `Authorization: Bearer <token>` with the operational role.",
    )
    operational = [Depends(requires(load_tokens(), "operational"))]

    @app.get("/v1/caseload", tags=["kpis"], dependencies=operational)
    async def caseload() -> dict[str, Any]:
        view = await asyncio.to_thread(repo.read_caseload, engine)
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
        found = await asyncio.to_thread(repo.applied_ids, engine, query.ids)
        view = await asyncio.to_thread(repo.read_caseload, engine)
        return {"applied": found, "sequence": view.sequence}

    @app.get("/v1/kpis", tags=["kpis"], dependencies=operational)
    async def kpis(
        kpi: str | None = None, cycle: str | None = None, breakdown: str | None = None
    ) -> dict[str, Any]:
        if kpi is not None and kpi not in dictionary.kpis:
            raise HTTPException(422, f"unknown kpi {kpi!r}")
        rows = await asyncio.to_thread(repo.read_aggregates, engine, kpi, cycle, breakdown)
        return {
            "values": [
                repo.kpi_value(
                    dictionary,
                    (r.kpi, r.cycle, r.breakdown),
                    repo.Agg(r.num, r.den, r.days, r.over_year),
                    closed=r.revision > 0,
                    revision=r.revision,
                ).model_dump(mode="json")
                for r in rows
            ]
        }

    @app.get("/v1/cases-at-risk", tags=["cases"], dependencies=operational)
    async def cases_at_risk(limit: int = Query(100, ge=1, le=5000)) -> dict[str, Any]:
        """Open cases by days to their next statutory deadline (pseudonymous ids only)."""
        view = await asyncio.to_thread(repo.read_caseload, engine)
        stamp = view.watermark or view.as_of
        if stamp is None:
            return {"as_of": None, "cases": []}
        today = local_date(stamp)
        states = await asyncio.to_thread(repo.open_case_states, engine)
        rows = []
        for c in states:
            nxt = clocks.next_deadline(c, rules, today)
            if nxt is not None:
                rows.append(
                    {
                        "case_id": c.case_id,
                        "locality": c.locality,
                        "age_band": c.age_band,
                        "milestone": nxt.milestone,
                        "due": nxt.due,
                        "days_left": nxt.days_left(today),
                        "day": c.day_of(today),
                    }
                )
        rows.sort(key=lambda r: (r["days_left"], r["case_id"]))
        return {"as_of": today, "cases": rows[:limit]}

    @app.get(
        "/v1/exports/{name}",
        tags=["exports"],
        response_class=PlainTextResponse,
        dependencies=operational,
    )
    async def export(name: str, year: int = Query(..., ge=2014, le=2100)) -> str:
        from services.timeliness.domain import dfe

        if name not in ("dfe-timeliness", "dfe-requests"):
            raise HTTPException(404, f"no export {name!r}")
        states = await asyncio.to_thread(repo.all_case_states, engine)
        la = dfe.load_authority(runtime.settings.files.authority)
        if name == "dfe-timeliness":
            return dfe.to_csv(dfe.timeliness_rows(states, year, la), dfe.TIMELINESS_COLUMNS)
        return dfe.to_csv(dfe.requests_rows(states, year, la), dfe.REQUESTS_COLUMNS)

    return app
