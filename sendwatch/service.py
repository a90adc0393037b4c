"""The common shell of a service process: FastAPI for HTTP, FastStream for Kafka.

Start-up order: logging, database migrations, missing topics created, broker started
(subscribers join their groups), lag monitors, then the service's own start hooks.
Every service gets ``GET /healthz`` and ``GET /metrics``.

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

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from faststream.kafka import KafkaBroker
from sqlalchemy import text
from sqlalchemy.engine import Engine

from contracts.topics import load_topics
from sendwatch.bus import LagMonitor, configure_idempotence, ensure_topics
from sendwatch.config import Settings
from sendwatch.db import migrate
from sendwatch.observability import configure_logging, get_logger, metrics_payload

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


def deps_of(request: Request) -> Any:
    """The FastAPI dependency behind each service's ``Deps`` alias: ``Runtime.deps``."""
    return request.app.state.runtime.deps


def create_service_app(runtime: Runtime[Any], *, title: str, description: str = "") -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        configure_logging(runtime.name, runtime.settings.log_level)
        if runtime.engine is not None:
            await asyncio.to_thread(migrate, runtime.name, runtime.engine)
        await ensure_topics(
            runtime.settings.kafka.bootstrap,
            load_topics(runtime.settings.files.topics),
            replication_factor=runtime.settings.kafka.replication_factor,
        )
        await configure_idempotence(runtime.broker, runtime.settings)
        await runtime.broker.start()
        for group, topics in runtime.groups.items():
            monitor = LagMonitor(
                runtime.settings.kafka.bootstrap,
                runtime.name,
                group,
                topics,
                runtime.settings.kafka.lag_interval_s,
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

    app = FastAPI(title=title, description=description, version="1.0", lifespan=lifespan)
    app.state.runtime = runtime
    app.include_router(operations)
    return app


operations = APIRouter(tags=["operations"])


@operations.get("/healthz")
async def healthz(request: Request) -> JSONResponse:
    runtime: Runtime[Any] = request.app.state.runtime
    checks: dict[str, str] = {}
    try:
        ok = await runtime.broker.ping(timeout=2.0)
        checks["broker"] = "ok" if ok else "unreachable"
    except Exception as exc:  # noqa: BLE001
        checks["broker"] = f"error: {exc}"
    if runtime.engine is not None:
        try:
            await asyncio.to_thread(_db_ping, runtime.engine)
            checks["database"] = "ok"
        except Exception as exc:  # noqa: BLE001
            checks["database"] = f"error: {exc}"
    healthy = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"service": runtime.name, "status": "ok" if healthy else "degraded", "checks": checks},
        status_code=200 if healthy else 503,
    )


@operations.get("/metrics")
async def metrics() -> Response:
    body, content_type = metrics_payload()
    return Response(body, media_type=content_type)


def _db_ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
