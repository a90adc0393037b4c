"""The common shell of a service process: FastAPI for HTTP, FastStream for Kafka.

Start-up order: the development-secrets check, logging, database migrations, missing
topics created, broker started (subscribers join their groups), lag monitors, then the
service's own start hooks.  Every service gets ``GET /healthz`` and ``GET /metrics``,
both unauthenticated and so both free of data: health answers short status words
(never exception text), and a 422 never repeats the input it rejects.

What a service's routes need (its store, relay, registries, ...) is built once by its
``bootstrap`` into one typed object, ``Runtime.deps``; a route reads it through one
FastAPI dependency, e.g. ``Deps = Annotated[IngestDeps, Depends(deps_of)]``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from faststream.kafka import KafkaBroker
from sqlalchemy import text
from sqlalchemy.engine import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException

from contracts.topics import load_topics
from sendwatch.bus import LagMonitor, configure_idempotence, ensure_topics, kafka_client_options
from sendwatch.config import Settings
from sendwatch.db import migrate
from sendwatch.devmode import refuse_development_secrets
from sendwatch.health import ConsumerHealth
from sendwatch.http_limits import Guard
from sendwatch.http_metrics import RequestTimer
from sendwatch.observability import configure_logging, get_logger, metrics_payload
from sendwatch.openapi import Extras, error_body
from sendwatch.openapi import install as install_openapi

log = get_logger(__name__)
D = TypeVar("D")


@dataclass
class Runtime(Generic[D]):
    """What a service is made of; built by the service's ``bootstrap`` function.
    ``deps`` is the service's own typed dependencies object (a dataclass)."""

    name: str
    settings: Settings
    broker: KafkaBroker
    deps: D
    engine: Engine | None = None
    groups: dict[str, list[str]] = field(default_factory=dict)  # group id -> topics
    on_start: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    lag_monitors: list[LagMonitor] = field(default_factory=list)
    consumers: list[ConsumerHealth] = field(default_factory=list)  # one per pipeline


def deps_of(request: Request) -> Any:
    """The FastAPI dependency behind each service's ``Deps`` alias: ``Runtime.deps``."""
    return request.app.state.runtime.deps


def create_service_app(
    runtime: Runtime[Any],
    *,
    title: str,
    description: str = "",
    openapi: Callable[[], Extras] | None = None,
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        refuse_development_secrets(runtime.name)
        configure_logging(runtime.name, runtime.settings.log_level)
        if runtime.engine is not None:
            await asyncio.to_thread(migrate, runtime.name, runtime.engine)
        options = kafka_client_options(runtime.settings)
        await ensure_topics(
            runtime.settings.kafka.bootstrap,
            load_topics(runtime.settings.files.topics),
            client_options=options,
            replication_factor=runtime.settings.kafka.replication_factor,
            wait_s=None,  # a service may start before its broker: wait, with back-off
        )
        await configure_idempotence(runtime.broker, runtime.settings)
        await runtime.broker.start()
        for group, topics in runtime.groups.items():
            monitor = LagMonitor(
                runtime.settings.kafka.bootstrap,
                runtime.name,
                runtime.settings.kafka.group_prefix + group,
                topics,
                runtime.settings.kafka.lag_interval_s,
                client_options=options,
                health=[h for h in runtime.consumers if h.group == group],
            )
            monitor.start()
            runtime.lag_monitors.append(monitor)
        for hook in runtime.on_start:
            await hook()
        log.info("service_started", bootstrap=runtime.settings.kafka.bootstrap)
        try:
            yield
        finally:
            for monitor in runtime.lag_monitors:
                await monitor.stop()
            await runtime.broker.stop()
            if runtime.engine is not None:
                runtime.engine.dispose()
            log.info("service_stopped")

    app = FastAPI(
        title=title,
        description=description,
        version="1.0",
        lifespan=lifespan,
        dependencies=[Depends(no_nul_characters)],
    )
    app.state.runtime = runtime
    limit = runtime.settings.http.max_body_bytes
    if runtime.name == "ingest":
        limit = max(limit, runtime.settings.ingest.max_body_bytes)
    app.add_middleware(Guard, max_body=limit)
    app.add_middleware(RequestTimer, service=runtime.name)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        """Which parameter or field is wrong and why, without echoing the input."""
        return JSONResponse(error_body(list(exc.errors())), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        """Every error in the one documented shape (``detail`` is text)."""
        return JSONResponse(
            error_body(exc.detail), status_code=exc.status_code, headers=exc.headers
        )

    install_openapi(app, openapi)

    app.include_router(operations)
    return app


async def no_nul_characters(request: Request) -> None:
    """A NUL character in the path or a parameter is a 422: PostgreSQL cannot store or
    compare one in a text column (it was a 500), and no identifier or date has one."""
    if "\x00" in request.scope.get("path", "") or b"%00" in request.scope.get("query_string", b""):
        raise HTTPException(422, "a NUL character is not allowed in a path or parameter")


operations = APIRouter(tags=["operations"])


@operations.get("/healthz")
async def healthz(request: Request) -> JSONResponse:
    """200 when the broker and database answer and every consumer makes progress;
    503 with a reason word otherwise (``broker_unreachable``, ``database_unreachable``,
    ``consumer_failing``, ``consumer_stalled``), never exception text."""
    runtime: Runtime[Any] = request.app.state.runtime
    checks: dict[str, str] = {}
    try:
        ok = await runtime.broker.ping(timeout=2.0)
    except Exception:  # noqa: BLE001 - the reason word only: no exception text
        ok = False
    checks["broker"] = "ok" if ok else "unreachable"
    if runtime.engine is not None:
        try:
            await asyncio.to_thread(_db_ping, runtime.engine)
            checks["database"] = "ok"
        except Exception:  # noqa: BLE001
            checks["database"] = "unreachable"
    for consumer in runtime.consumers:
        problem = consumer.problem()
        checks[f"consumer:{consumer.group}"] = "ok" if problem is None else problem
    reasons = [
        v if v.startswith("consumer_") else f"{k}_{v}" for k, v in checks.items() if v != "ok"
    ]
    body: dict[str, Any] = {
        "service": runtime.name,
        "status": "degraded" if reasons else "ok",
        "checks": checks,
    }
    if reasons:
        body["reason"] = reasons[0]
    return JSONResponse(body, status_code=503 if reasons else 200)


@operations.get("/metrics")
async def metrics() -> Response:
    body, content_type = metrics_payload()
    return Response(body, media_type=content_type)


def _db_ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
