"""Signing in and out.  The token is checked once and a server-side session opened; the
browser's HTTP-only, same-site cookie holds only the session id, and signing out
revokes it.  Form posts carry a CSRF token and must come from this site (Origin, else
Referer); an address that fails too often is locked out for a while (429)."""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.reporting.context import Context, Ctx
from services.reporting.sessions import CSRF_COOKIE, SESSION_COOKIE, csrf_matches, same_origin

router = APIRouter(tags=["dashboard"])
FORM_BYTES = 4096


def _form(request: Request, ctx: Context, status: int = 200, error: str = "") -> HTMLResponse:
    csrf = secrets.token_urlsafe(24)
    page = ctx.render(
        request, "signin.html", status, title="Sign in", nav="signin", error=error, csrf=csrf
    )
    page.set_cookie(
        CSRF_COOKIE,
        csrf,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=_tls(request),
        path="/sign-in",
    )
    return page


def _tls(request: Request) -> bool:
    proto = request.headers.get("x-forwarded-proto", request.url.scheme)
    return proto.split(",")[0].strip() == "https"


async def _fields(request: Request) -> dict[str, str]:
    body = (await request.body())[:FORM_BYTES].decode("utf-8", errors="replace")
    return {k: v[0] for k, v in parse_qs(body).items() if v}


def _refused(request: Request, ctx: Context, message: str) -> HTMLResponse:
    return ctx.render(
        request,
        "error.html",
        403,
        title="Refused",
        heading="This form could not be accepted",
        message=message,
    )


@router.get("/sign-in", response_class=HTMLResponse, include_in_schema=False)
async def sign_in_form(request: Request, ctx: Ctx) -> HTMLResponse:
    return _form(request, ctx)


@router.post("/sign-in", include_in_schema=False)
async def sign_in(request: Request, ctx: Ctx) -> Response:
    if not same_origin(request):
        return _refused(request, ctx, "Sign in from this site's own sign-in page.")
    fields = await _fields(request)
    if not csrf_matches(request.cookies.get(CSRF_COOKIE), fields.get("csrf")):
        return _form(request, ctx, 403, "The form had expired. Please try again.")
    address = request.client.host if request.client else "unknown"
    wait = ctx.sessions.locked(address)
    if wait:
        page = _form(request, ctx, 429, "Too many failed attempts. Try again later.")
        page.headers["Retry-After"] = str(int(wait))
        return page
    token = fields.get("token", "").strip()
    principal = ctx.tokens.authenticate(token) if token else None
    if principal is None:
        ctx.sessions.failed(address)
        return _form(request, ctx, 401, "That token is not recognised.")
    ctx.sessions.succeeded(address)
    sid, _session = ctx.sessions.open(principal)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        sid,
        max_age=int(ctx.sessions.hours * 3600),
        httponly=True,
        samesite="strict",
        secure=_tls(request),
        path="/",
    )
    response.delete_cookie(CSRF_COOKIE, path="/sign-in")
    return response


@router.get("/sign-out", response_class=HTMLResponse, include_in_schema=False)
async def sign_out_form(request: Request, ctx: Ctx) -> HTMLResponse:
    session = ctx.sessions.get(request.cookies.get(SESSION_COOKIE))
    return ctx.render(
        request,
        "signout.html",
        title="Sign out",
        nav="signin",
        csrf=session.csrf if session else "",
    )


@router.post("/sign-out", include_in_schema=False)
async def sign_out(request: Request, ctx: Ctx) -> Response:
    sid = request.cookies.get(SESSION_COOKIE)
    session = ctx.sessions.get(sid)
    if session is not None:
        fields = await _fields(request)
        if not same_origin(request) or not csrf_matches(session.csrf, fields.get("csrf")):
            return _refused(request, ctx, "Sign out from this site's own sign-out page.")
        ctx.sessions.revoke(sid)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
