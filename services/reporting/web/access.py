"""Who may see a page: the sign-in and "not available" answers shared by the pages."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from services.reporting.auth import Viewer
from services.reporting.context import Context


def denied(ctx: Context, request: Request, who: Viewer, role: str) -> HTMLResponse | None:
    """The 401 or 403 page when ``who`` lacks ``role``, else None."""
    if who.principal is None or who.invalid_token:
        return ctx.render(
            request,
            "error.html",
            401,
            viewer=who,
            title="Sign in",
            heading="You need to sign in",
            message=f"This page needs a token with the {role} role.",
            sign_in=True,
        )
    if not who.can(role):
        return ctx.render(
            request,
            "error.html",
            403,
            viewer=who,
            title="Not available",
            heading="You cannot see this page",
            message=f"Your token ({who.name}) does not have the {role} role.",
            sign_in=True,
        )
    return None


def error_message(exc: Exception) -> str:
    """An upstream failure as the pages show it ("... unavailable: reason" -> reason)."""
    return str(exc).split(": ", 1)[-1]
