"""Error answers: pages for the dashboard's addresses, JSON for the API.  Never a bare 500."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from sendwatch.observability import get_logger
from sendwatch.openapi import error_body
from services.reporting.context import Context

log = get_logger(__name__)


def wants_html(request: Request) -> bool:
    return not request.url.path.startswith(("/v1/", "/healthz", "/metrics", "/docs"))


def _ctx(request: Request) -> Context:
    ctx: Context = request.app.state.runtime.deps
    return ctx


async def invalid(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for err in exc.errors():
        where = ".".join(str(x) for x in err.get("loc", ()) if x not in ("query", "path"))
        problems.append(f"{where}: {err.get('msg', 'invalid')}")
    message = "; ".join(problems) or "invalid request"
    if wants_html(request):
        return _ctx(request).render(
            request,
            "error.html",
            422,
            title="Bad request",
            heading="Something in the address is not valid",
            message=message,
        )
    return JSONResponse(error_body(message, list(exc.errors())), status_code=422)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if wants_html(request) and exc.status_code == 404:
        return _ctx(request).render(
            request,
            "error.html",
            404,
            title="Not found",
            heading="Page not found",
            message="There is no page at this address.",
        )
    return JSONResponse(
        error_body(exc.detail),
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )


async def database_unavailable(request: Request, exc: Exception) -> Response:
    """The database is down or unreachable (sign-in sessions live there): not a bug."""
    log.warning("database_unavailable", path=request.url.path, error=type(exc).__name__)
    return JSONResponse(
        {"detail": "the reporting database is unavailable; try again shortly"},
        status_code=503,
        headers={"Retry-After": "5"},
    )


async def unexpected(request: Request, exc: Exception) -> Response:
    log.exception("request_failed", path=request.url.path)
    return JSONResponse({"detail": "internal error; see the reporting log"}, status_code=500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(OperationalError, database_unavailable)
    app.add_exception_handler(Exception, unexpected)
