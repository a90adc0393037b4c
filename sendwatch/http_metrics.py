"""Request latency of every service's HTTP API, as a Prometheus histogram labelled by
route template (never the raw path, which can carry ids): what the reporting API's
p50 for one KPI-cell read is measured with."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import Histogram

HTTP_LATENCY = Histogram(
    "sendwatch_http_request_seconds",
    "HTTP request handling time, from the request to the last byte of the answer",
    ["service", "route", "method"],
    buckets=(0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5),
)


class RequestTimer:
    """Pure ASGI middleware (no per-request task or body copy)."""

    def __init__(self, app: Any, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            HTTP_LATENCY.labels(self.service, template, scope.get("method", "")).observe(
                time.perf_counter() - started
            )
