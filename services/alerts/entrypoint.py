"""Alerts service process (port 8003): exception alerts and escalation along the
partnership's governance chain.

Consumes KPI snapshots and milestone alerts; evaluates the rules and pending escalations
in event time (the latest watermark seen) in one transaction per batch, with the
notifications in a transactional outbox; a relay delivers them by SMTP and webhook.
API (``Authorization: Bearer``; roles ``read``, ``cases`` and ``ack``, ``admin`` implies
all): alerts with their full timeline, escalations, acknowledgements, recovery plans,
silences and the notification outbox.  Case-level data (milestone alerts, which name
cases, and the outbox, whose mails name cases and recipients) needs ``cases`` as well as
``read``: a board token sees KPI-level alerts only.

Configuration (environment, read by ``sendwatch/config.py``):

    SENDWATCH_SMTP_HOST / _PORT / _TLS (none|starttls|ssl) / _USER / _PASSWORD / _FROM
        mail server; with no host, email waits in the outbox (webhooks still go)
    SENDWATCH_DASHBOARD_URL        base of the alert links (default http://127.0.0.1:8000)
    SENDWATCH_ESCALATION_FILE      policies and rule settings (default contracts/escalation.yaml)
    SENDWATCH_TOKENS_FILE          API tokens (default contracts/tokens.yaml)
    SENDWATCH_ALERTS_HORIZON_DAYS  backfill horizon (default: the file's horizon_days, 14)
    SENDWATCH_NOTIFY_POLL_S / _RETRY_BASE_S / _RETRY_MAX_S
        relay poll interval (2 s) and retry back-off (5 s doubling, at most 300 s)

Time: "now" is the latest event-time watermark seen (a snapshot's ``watermark``, else its
``as_of``; and milestone alert times), taken per consumed batch.  Snapshots arriving
together after an outage are therefore judged against the latest of them: cycles that
closed more than the horizon before it are historical and notify nobody.

Exactly once: the inbox, the decision and its outbox rows commit together; a level
notifies a recipient at most once per episode (a unique key on the outbox).  Delivery
marks each row sent right after the server accepts it, so only a crash in that instant
can repeat one message (same Message-ID / Idempotency-Key).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Path, Query
from fastapi.responses import JSONResponse
from pydantic import ConfigDict, Field, field_validator

from contracts.escalation import horizon_days, load_escalation
from contracts.kpi_dictionary import KpiDictionary, load_kpis
from contracts.placements import load_placements
from contracts.plausibility import PlausibleDate, load_window
from contracts.snapshots import KpiSnapshot
from contracts.timeline import MilestoneAlert
from contracts.tokens import Principal, load_tokens
from contracts.topics import load_topics
from sendwatch.auth import requires
from sendwatch.bodies import GuardedBody
from sendwatch.bus import make_broker, subscribe
from sendwatch.config import Settings, get_settings
from sendwatch.consumer import ConsumerPipeline
from sendwatch.db import make_engine
from sendwatch.observability import ALERTS_FIRED, NOTIFICATIONS, get_logger
from sendwatch.openapi import Extras, error_response
from sendwatch.service import Runtime, create_service_app
from services.alerts import mail_links, programme_api, views
from services.alerts.adapters.links import Signer
from services.alerts.adapters.notify import Relay
from services.alerts.adapters.outbox import pending_counts as outbox_counts
from services.alerts.domain.actions import AlertNotFound, Conflict
from services.alerts.domain.model import PlanAction, RecoveryPlan, silence_until
from services.alerts.service_layer import handlers
from services.alerts.service_layer.handlers import Context, Incoming
from services.alerts.service_layer.unit_of_work import Outcome, SqlUnitOfWork

SERVICE = "alerts"
GROUP = "sendwatch-alerts"
GROUP_MILESTONES = "sendwatch-alerts-milestones"
log = get_logger(__name__)


def count(out: Outcome) -> None:
    for rule, n in out.fired.items():
        ALERTS_FIRED.labels(rule).inc(n)
    for channel, n in out.queued.items():
        NOTIFICATIONS.labels(channel, "queued").inc(n)
    for channel, n in out.muted.items():
        NOTIFICATIONS.labels(channel, "muted").inc(n)


@dataclass(frozen=True)
class Deps:
    """What the routes need besides the database (``Runtime.deps``)."""

    ctx: Context
    relay: Relay
    dictionary: KpiDictionary
    signer: Signer


def bootstrap(settings: Settings | None = None) -> Runtime[Deps]:
    settings = settings or get_settings()
    topics = load_topics(settings.files.topics)
    config = load_escalation(settings.files.escalation)
    dictionary = load_kpis(str(settings.files.kpis))
    problems = config.problems(dictionary)
    if problems:
        raise ValueError(
            "escalation.yaml does not match the KPI dictionary: " + "; ".join(problems)
        )
    broker = make_broker(settings, SERVICE)
    engine = make_engine(settings.db_url_for(SERVICE))
    ctx = Context(
        config,
        dictionary,
        horizon_days=horizon_days(config, settings.alerts.horizon_days),
        base_url=settings.alerts.dashboard_url,
        capacity=load_placements(str(settings.files.placements)).alerts,
    )
    signer = Signer(
        settings.alerts.link_secret,
        settings.alerts.link_ttl_days,
        settings.alerts.link_url or settings.upstream.alerts_url,
    )
    relay = Relay.from_settings(engine, settings.smtp, settings.relay, signer)

    def apply(items: list[Incoming]) -> int:
        uow = SqlUnitOfWork(engine)
        handlers.handle(ctx, uow, items)
        count(uow.outcome)
        return uow.outcome.applied

    async def after_commit(_applied: int) -> None:
        relay.wake()

    snapshots: ConsumerPipeline[Incoming] = ConsumerPipeline(
        service=SERVICE,
        broker=broker,
        dlq_topic=topics.name("dead-letter"),
        parse=lambda record: KpiSnapshot.model_validate_json(record.value),
        apply=apply,
        after_commit=after_commit,
        group=GROUP,
        settings=settings,
    )
    milestones: ConsumerPipeline[Incoming] = ConsumerPipeline(
        service=SERVICE,
        broker=broker,
        dlq_topic=topics.name("dead-letter"),
        parse=lambda record: MilestoneAlert.model_validate_json(record.value),
        apply=apply,
        after_commit=after_commit,
        group=GROUP_MILESTONES,
        settings=settings,
    )

    subscribe(
        broker,
        settings,
        snapshots,
        topics.name("kpi-snapshots"),
        GROUP,
        payload=KpiSnapshot,
        title="kpi-snapshots",
        description="Closed KPI cycles the rules evaluate; their watermark is 'now'",
    )
    subscribe(
        broker,
        settings,
        milestones,
        topics.name("milestones"),
        GROUP_MILESTONES,
        payload=MilestoneAlert,
        title="milestones",
        description="Milestone slips (MS1) and early warnings (MS2)",
    )

    # --- programme delivery (R1-R4) ---
    programme = programme_api.subscribe_programme(
        broker,
        settings,
        engine,
        topics,
        ctx.horizon_days,
        ctx.base_url,
        after_commit,
        config.delivery,
    )

    return Runtime(
        name=SERVICE,
        settings=settings,
        broker=broker,
        deps=Deps(ctx, relay, dictionary, signer),
        engine=engine,
        groups={
            GROUP: [topics.name("kpi-snapshots")],
            GROUP_MILESTONES: [topics.name("milestones")],
            programme_api.GROUP: [topics.name(programme_api.TOPIC)],
        },
        consumers=[snapshots.health, milestones.health, programme.health],
    )


# --- request bodies ------------------------------------------------------------------


class _Body(GuardedBody):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AckBody(_Body):
    by: str | None = Field(default=None, max_length=120, description="Who is acknowledging")
    note: str | None = Field(default=None, max_length=2000)


class PlanActionBody(_Body):
    action: str = Field(min_length=3, max_length=1000)
    owner: str = Field(min_length=2, max_length=200, description="Named owner")
    due: PlausibleDate = Field(description="Timescale: the date the action is due")


class PlanBody(_Body):
    summary: str = Field(min_length=3, max_length=4000)
    recorded_by: str | None = Field(default=None, max_length=120)
    actions: list[PlanActionBody] = Field(min_length=1, max_length=100)


class SilenceBody(_Body):
    kpi: str | None = Field(default=None, max_length=64)
    breakdown: str | None = Field(default=None, max_length=80)
    until: datetime | date = Field(description="Mute until this time (a date: its end)")
    reason: str = Field(min_length=3, max_length=2000)
    by: str | None = Field(default=None, max_length=120)

    @field_validator("until", mode="before")
    @classmethod
    def _date_or_time(cls, value: Any) -> Any:
        if isinstance(value, str) and len(value) == 10:
            return date.fromisoformat(value)  # a date: until the end of that day
        return value

    @field_validator("until")
    @classmethod
    def _aware(cls, value: datetime | date) -> datetime | date:
        if isinstance(value, datetime) and value.tzinfo is None:
            raise ValueError("give a time zone (e.g. 2026-12-01T00:00:00Z) or a date")
        problem = load_window().problem(value)
        if problem is not None:
            raise ValueError(f"until is {problem}")
        return value

    def until_utc(self) -> datetime:
        return silence_until(self.until)


# --- the app -------------------------------------------------------------------------


def create_app(runtime: Runtime[Deps] | None = None) -> FastAPI:
    runtime = runtime or bootstrap()
    ctx = runtime.deps.ctx
    relay = runtime.deps.relay
    dictionary = runtime.deps.dictionary
    db = runtime.engine
    assert db is not None
    tokens = load_tokens(runtime.settings.files.tokens)
    app = create_service_app(
        runtime,
        title="sendwatch alerts",
        description="Exception alerts and escalation along the partnership's governance chain.",
        openapi=lambda: Extras(
            responses={
                f"POST {path}": {409: error_response(409)}
                for path in (
                    "/v1/alerts/{alert_id}/ack",
                    "/v1/alerts/{alert_id}/recovery-plan",
                    "/v1/alerts/{alert_id}/recovery-actions/{number}/done",
                    "/v1/silences",
                )
            }
        ),
    )

    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: FastAPI) -> AsyncIterator[Any]:
        async with inner(a) as state:
            relay.start()
            try:
                yield state
            finally:
                await relay.stop()

    app.router.lifespan_context = lifespan

    reader = Depends(requires(tokens, "read"))
    acker = Depends(requires(tokens, "ack"))
    case_reader = Depends(requires(tokens, "cases"))
    read_principal = requires(tokens, "read")

    def actor(who: Principal, name: str | None) -> str:
        return f"{name} ({who.name})" if name else who.name

    @app.get("/v1/caseload", tags=["kpis"], dependencies=[reader])
    async def caseload() -> dict[str, Any]:
        return await asyncio.to_thread(views.caseload, db, dictionary)

    @app.get("/v1/status", tags=["operations"], dependencies=[reader])
    async def status() -> dict[str, Any]:
        """The latest timeliness snapshot applied (``sendwatch import sen2 --wait``)."""
        return await asyncio.to_thread(views.status, db)

    @app.get("/v1/alerts", tags=["alerts"])
    async def list_alerts(
        status: Literal["open", "acknowledged", "resolved", "superseded"] | None = None,
        kpi: str | None = Query(None, max_length=64),
        rule: str | None = Query(None, pattern=r"^[A-Z]{1,3}[0-9]{1,3}[a-z]?$"),
        historical: bool | None = None,
        kind: Literal["deterioration", "escalation", "milestone", "overdue"] | None = None,
        limit: int = Query(200, ge=1, le=5000),
        offset: int = Query(0, ge=0, le=1_000_000),
        who: Principal = Depends(read_principal),
    ) -> dict[str, Any]:
        """Without the ``cases`` role, case-level kinds are left out (and asked for, 403)."""
        if kpi is not None and kpi not in dictionary.kpis:
            raise HTTPException(422, f"unknown kpi {kpi!r}")
        hidden = () if who.allows("cases") else views.CASE_LEVEL_KINDS
        if kind in hidden:
            raise HTTPException(403, f"{kind} alerts name cases: this token lacks the 'cases' role")
        total, rows = await asyncio.to_thread(
            lambda: views.list_alerts(
                db,
                status=status,
                kpi=kpi,
                rule=rule,
                historical=historical,
                kind=kind,
                exclude_kinds=hidden,
                limit=limit,
                offset=offset,
            )
        )
        return {"total": total, "alerts": rows, "now": await asyncio.to_thread(views.now, db)}

    @app.get("/v1/alerts/{alert_id}", tags=["alerts"])
    async def get_alert(alert_id: str, who: Principal = Depends(read_principal)) -> dict[str, Any]:
        view = await asyncio.to_thread(views.alert_detail, db, alert_id[:64])
        if view is None:
            raise HTTPException(404, f"no alert {alert_id!r}")
        if view.get("kind") in views.CASE_LEVEL_KINDS and not who.allows("cases"):
            raise HTTPException(403, "this alert names a case: this token lacks the 'cases' role")
        return view

    @app.get("/v1/escalations", tags=["alerts"], dependencies=[reader])
    async def escalations() -> dict[str, Any]:
        return await asyncio.to_thread(views.escalations, db, ctx.config, ctx.horizon_days)

    def _act(fn: Callable[[SqlUnitOfWork], dict[str, Any] | None]) -> dict[str, Any]:
        uow = SqlUnitOfWork(db)
        try:
            view = fn(uow)
        except AlertNotFound as exc:
            raise HTTPException(404, f"no alert {exc.args[0]!r}") from exc
        except Conflict as exc:
            raise HTTPException(409, str(exc)) from exc
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from exc
        count(uow.outcome)
        relay.wake()
        assert view is not None
        return view

    @app.post("/v1/alerts/{alert_id}/ack", tags=["alerts"])
    async def ack(
        alert_id: str, body: AckBody | None = None, who: Principal = acker
    ) -> dict[str, Any]:
        b = body or AckBody()
        return await asyncio.to_thread(
            _act,
            lambda uow: views.alert_view(
                handlers.acknowledge(ctx, uow, alert_id[:64], actor(who, b.by), b.note)
            ),
        )

    @app.post("/v1/alerts/{alert_id}/recovery-plan", tags=["alerts"])
    async def recovery_plan(
        alert_id: str, body: PlanBody, who: Principal = acker
    ) -> dict[str, Any]:
        plan = RecoveryPlan(
            summary=body.summary,
            actions=tuple(PlanAction(a.action, a.owner, a.due) for a in body.actions),
            recorded_by=actor(who, body.recorded_by),
        )
        return await asyncio.to_thread(
            _act, lambda uow: views.alert_view(handlers.record_plan(ctx, uow, alert_id[:64], plan))
        )

    @app.post("/v1/alerts/{alert_id}/recovery-actions/{number}/done", tags=["alerts"])
    async def action_done(
        alert_id: str,
        number: int = Path(ge=1, le=1000),
        body: AckBody | None = None,
        who: Principal = acker,
    ) -> dict[str, Any]:
        """Mark action ``number`` of the alert's recovery plan done (R5)."""
        by = actor(who, (body or AckBody()).by)
        return await asyncio.to_thread(
            _act,
            lambda uow: views.alert_view(
                handlers.complete_action(ctx, uow, alert_id[:64], number, by)
            ),
        )

    @app.post("/v1/silences", tags=["alerts"], status_code=201)
    async def create_silence(body: SilenceBody, who: Principal = acker) -> dict[str, Any]:
        def run(uow: SqlUnitOfWork) -> dict[str, Any] | None:
            s = handlers.create_silence(
                ctx,
                uow,
                kpi=body.kpi,
                breakdown=body.breakdown,
                until=body.until_utc(),
                reason=body.reason,
                by=actor(who, body.by),
            )
            return views.silence_by_id(db, s.id)

        return await asyncio.to_thread(_act, run)

    @app.get("/v1/silences", tags=["alerts"], dependencies=[reader])
    async def silences() -> dict[str, Any]:
        return {"silences": await asyncio.to_thread(views.silences, db)}

    @app.get("/v1/outbox", tags=["alerts"], dependencies=[reader, case_reader])
    async def outbox(
        status: Literal["pending", "sent", "failed"] | None = None,
        alert_id: str | None = Query(None, max_length=64),
        limit: int = Query(100, ge=1, le=1000),
        offset: int = Query(0, ge=0, le=1_000_000),
    ) -> dict[str, Any]:
        total, rows = await asyncio.to_thread(
            lambda: views.outbox(db, status=status, alert_id=alert_id, limit=limit, offset=offset)
        )
        pending = await asyncio.to_thread(outbox_counts, db)
        return {
            "total": total,
            "pending": pending,
            "smtp_configured": relay.smtp.host is not None,
            "notifications": rows,
        }

    # --- programme delivery (R1-R4) ---
    programme_api.add_routes(app, runtime, tokens)
    # --- alerting: the pages of the signed links in alert mails ---
    app.state.wake_relay = relay.wake
    mail_links.add_routes(app, db, ctx, runtime.deps.signer)

    @app.exception_handler(Conflict)
    async def _conflict(_request: Any, exc: Conflict) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=409)

    return app
