"""Signing in and out: the token goes into an HTTP-only, same-site cookie."""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.reporting.auth import COOKIE
from services.reporting.context import Ctx

router = APIRouter(tags=["dashboard"])


@router.get("/sign-in", response_class=HTMLResponse, include_in_schema=False)
async def sign_in_form(request: Request, ctx: Ctx) -> HTMLResponse:
    return ctx.render(request, "signin.html", title="Sign in", nav="signin", error="")


@router.post("/sign-in", include_in_schema=False)
async def sign_in(request: Request, ctx: Ctx) -> Response:
    body = (await request.body())[:4096].decode("utf-8", errors="replace")
    token = (parse_qs(body).get("token") or [""])[0].strip()
    principal = ctx.tokens.authenticate(token) if token else None
    if principal is None:
        return ctx.render(
            request,
            "signin.html",
            401,
            title="Sign in",
            nav="signin",
            error="That token is not recognised.",
        )
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        COOKIE,
        token,
        max_age=8 * 3600,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.get("/sign-out", response_class=HTMLResponse, include_in_schema=False)
async def sign_out_form(request: Request, ctx: Ctx) -> HTMLResponse:
    return ctx.render(request, "signout.html", title="Sign out", nav="signin")


@router.post("/sign-out", include_in_schema=False)
async def sign_out(request: Request) -> Response:
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response
