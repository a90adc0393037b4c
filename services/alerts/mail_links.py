"""The pages behind the signed links in alert mails (``adapters/links.py``), served by the
alerts service at ``/mail/{token}`` with no sign-in: the signature is the credential.

- ``GET`` shows the alert and, for an acknowledge link, a confirmation button; it changes
  nothing, so a mail scanner (Safe Links, Mimecast) that follows every link is harmless.
- ``HEAD`` answers 200 (scanners check links that way) and changes nothing.
- ``POST`` on an acknowledge link acknowledges the alert as the recipient the mail went
  to; a second use says who acknowledged it and when.
- An expired link (410) or a changed one (403) is refused with a page saying so.

Every use is in the alert's audit trail (``link_opened``, ``acknowledged``,
``link_used_again``, ``link_refused``).
"""

from __future__ import annotations

import asyncio
import hashlib
from html import escape
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from services.alerts import views
from services.alerts.adapters.links import BadLink, Claims, Signer
from services.alerts.domain.actions import AlertNotFound, Conflict
from services.alerts.service_layer import handlers
from services.alerts.service_layer.handlers import Context
from services.alerts.service_layer.unit_of_work import SqlUnitOfWork

HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # the token is in the URL
    "X-Robots-Tag": "noindex",
}


def _page_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


# The pages a mail link can answer with besides the alert (documented for the fuzzer).
_PAGES_GET: dict[int | str, dict[str, Any]] = {
    403: _page_response("The link was changed or is not signed with this deployment's secret"),
    410: _page_response("The link has expired"),
}
_PAGES_POST: dict[int | str, dict[str, Any]] = {
    **_PAGES_GET,
    405: _page_response("A view link cannot acknowledge"),
    409: _page_response("The link is for an earlier episode, or nothing is open to acknowledge"),
}


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(title)} - sendwatch</title>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;"
        "padding:0 1rem;line-height:1.5}button{font-size:1.1rem;padding:.5rem 1.2rem}"
        "</style></head><body>"
        f"<h1>{escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def _summary(view: dict[str, Any]) -> str:
    rows = [
        ("Alert", view.get("title")),
        ("Rule", view.get("rule")),
        ("Status", view.get("status")),
        ("Level", view.get("level_body")),
        ("Opened", view.get("opened_at")),
    ]
    cells = "".join(
        f"<tr><th scope='row' style='text-align:left;padding-right:1rem'>{escape(k)}</th>"
        f"<td>{escape(str(v))}</td></tr>"
        for k, v in rows
        if v is not None
    )
    return f"<table>{cells}</table>"


def _acked_text(view: dict[str, Any]) -> str:
    return (
        f"This alert was already acknowledged by {view.get('acknowledged_by')} at "
        f"{view.get('acknowledged_at')}."
    )


def add_routes(app: FastAPI, db: Any, ctx: Context, signer: Signer) -> None:
    def audit(alert_id: str | None, kind: str, message: str, actor: str, **detail: Any) -> None:
        handlers.record_link_use(ctx, SqlUnitOfWork(db), alert_id, kind, message, actor, detail)

    def actor_of(c: Claims) -> str:
        return f"{c.recipient} (mail link)"

    def check(token: str, method: str) -> tuple[Claims, dict[str, Any]] | HTMLResponse:
        fingerprint = hashlib.sha256(token.encode()).hexdigest()[:16]
        try:
            c = signer.verify(token)
        except BadLink as exc:
            audit(
                None,
                "link_refused",
                f"A mail link that is not valid was refused ({exc}).",
                "unknown",
                reason="invalid",
                method=method,
                token_sha256=fingerprint,
            )
            return _page(
                "This link is not valid",
                "<p>The link has been changed or cut short, so sendwatch cannot trust it. "
                "Nothing has been changed. Open the alert from the dashboard instead, or "
                "use the link exactly as it came in the mail.</p>",
                403,
            )
        view = views.alert_detail(db, c.alert_id)
        if view is None:
            return _page("No such alert", "<p>This alert no longer exists.</p>", 404)
        if c.expired():
            audit(
                c.alert_id,
                "link_refused",
                f"An expired mail link ({c.action}) was refused.",
                actor_of(c),
                reason="expired",
                method=method,
                expired_at=c.expires.isoformat(),
            )
            return _page(
                "This link has expired",
                f"<p>The link expired at {escape(c.expires.isoformat())}. Nothing has been "
                "changed. Open the alert from the dashboard to acknowledge it.</p>"
                + _summary(view),
                410,
            )
        return c, view

    @app.head("/mail/{token}", include_in_schema=False)
    async def head(token: str) -> Response:
        return Response(status_code=200, headers=HEADERS)

    @app.get("/mail/{token}", tags=["alerts"], response_class=HTMLResponse, responses=_PAGES_GET)
    async def show(token: str) -> HTMLResponse:
        """A signed mail link: shows the alert (and a confirmation button); changes nothing."""
        found = await asyncio.to_thread(check, token, "GET")
        if isinstance(found, HTMLResponse):
            return found
        c, view = found
        await asyncio.to_thread(
            audit,
            c.alert_id,
            "link_opened",
            f"The {c.action} link mailed to {c.recipient} was opened (nothing changed).",
            actor_of(c),
            action=c.action,
            method="GET",
        )
        body = _summary(view)
        if view.get("status") == "acknowledged":
            return _page("Already acknowledged", f"<p>{escape(_acked_text(view))}</p>{body}")
        if c.action == "ack" and view.get("status") == "open" and view["episode"] == c.episode:
            body += (
                "<p>Acknowledging tells the partnership that you have seen this alert and "
                "are acting on it. It stops the escalation clock at this level.</p>"
                f"<form method='post' action='/mail/{escape(token)}'>"
                "<button type='submit'>Acknowledge this alert</button></form>"
            )
            return _page("Acknowledge this alert?", body)
        if view["episode"] != c.episode:
            body = "<p>This link was sent for an earlier episode of this alert.</p>" + body
        return _page("Alert", body)

    @app.post("/mail/{token}", tags=["alerts"], response_class=HTMLResponse, responses=_PAGES_POST)
    async def act(token: str, request: Request) -> HTMLResponse:
        """A signed acknowledge link, confirmed: acknowledges the alert."""

        def run() -> HTMLResponse:
            found = check(token, "POST")
            if isinstance(found, HTMLResponse):
                return found
            c, view = found
            if c.action != "ack":
                return _page("This link only shows the alert", _summary(view), 405)
            if view["episode"] != c.episode:
                return _page(
                    "This link is out of date",
                    "<p>It was sent for an earlier episode of this alert. Nothing has been "
                    "changed.</p>" + _summary(view),
                    409,
                )
            try:
                a = handlers.acknowledge(
                    ctx, SqlUnitOfWork(db), c.alert_id, actor_of(c), "from the mail link"
                )
            except Conflict as exc:
                again = views.alert_detail(db, c.alert_id) or view
                audit(
                    c.alert_id,
                    "link_used_again",
                    f"The acknowledge link mailed to {c.recipient} was used again: {exc}.",
                    actor_of(c),
                    method="POST",
                )
                if again.get("status") == "acknowledged":
                    text = _acked_text(again)
                    return _page("Already acknowledged", f"<p>{escape(text)}</p>")
                return _page("Nothing to acknowledge", f"<p>{escape(str(exc))}.</p>", 409)
            except AlertNotFound:
                return _page("No such alert", "<p>This alert no longer exists.</p>", 404)
            done = views.alert_view(a)
            return _page(
                "Acknowledged",
                f"<p>Acknowledged by {escape(str(done['acknowledged_by']))} at "
                f"{escape(str(done['acknowledged_at']))}. Thank you.</p>" + _summary(done),
            )

        response = await asyncio.to_thread(run)
        wake = getattr(app.state, "wake_relay", None)
        if callable(wake):
            wake()
        return response
