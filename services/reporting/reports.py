"""Documents: the monthly insight summary (Markdown, HTML, PDF, JSON) and the quarterly
data return (CSV).  The service renders them (``GET /v1/reports/insight``,
``GET /v1/exports/quarterly-return``); the functions at the end are what the
``sendwatch report ...`` commands call, over the reporting API."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

from services.reporting.adapters.upstream import NotFound, Unavailable
from services.reporting.context import Context
from services.reporting.domain import periods
from services.reporting.domain.insight import InsightSummary, to_markdown
from services.reporting.pdf import PdfUnavailable, html_to_pdf

FORMATS = ("md", "html", "pdf", "json")
MEDIA = {
    "md": "text/markdown; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "json": "application/json",
}


async def gather_insight(ctx: Context, month: str) -> InsightSummary:
    """The summary for ``month`` with what the alerts and timeliness services say (each
    may be unavailable; the summary says so)."""
    alerts: list[dict[str, Any]] | None
    try:
        alerts = (await ctx.upstreams.alerts(limit=5000))["alerts"]
    except (Unavailable, NotFound):
        alerts = None
    cases: list[dict[str, Any]] | None
    try:
        cases = (await ctx.upstreams.cases_at_risk(limit=5000))["cases"]
    except (Unavailable, NotFound):
        cases = None
    return await ctx.run(ctx.reporting.insight, month, alerts, cases)


def render_insight_html(ctx: Context, summary: InsightSummary) -> str:
    if ctx.templates is None:
        raise PdfUnavailable("HTML and PDF need jinja2 (pip install jinja2); use format=md")
    return ctx.templates.get_template("insight.html").render(
        s=summary, css=ctx.css(), period_title=periods.title(summary.month)
    )


async def insight_document(ctx: Context, month: str, fmt: str) -> tuple[bytes, str]:
    summary = await gather_insight(ctx, month)
    if fmt == "json":
        return json.dumps(summary.to_dict(), indent=2, default=str).encode(), MEDIA[fmt]
    if fmt == "md":
        return to_markdown(summary).encode(), MEDIA[fmt]
    html = render_insight_html(ctx, summary)
    if fmt == "html":
        return html.encode(), MEDIA[fmt]
    pdf = await ctx.run(html_to_pdf, html, 90.0, ctx.chromium)
    return pdf, MEDIA["pdf"]


__all__ = [
    "PdfUnavailable",
    "ReportError",
    "fetch_insight",
    "fetch_quarterly",
    "insight_document",
]


# --- client side, for the CLI -----------------------------------------------------------


DEFAULT_URL = "http://127.0.0.1:8000"


@dataclass
class ReportError(Exception):
    message: str

    def __str__(self) -> str:
        return self.message


def _headers(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def _get(url: str, params: dict[str, Any], token: str | None, timeout: float) -> httpx.Response:
    try:
        r = httpx.get(url, params=params, headers=_headers(token), timeout=timeout)
    except httpx.HTTPError as exc:
        raise ReportError(f"reporting service not reachable at {url}: {exc}") from exc
    if r.status_code != 200:
        try:
            detail = r.json().get("detail", r.text)
        except ValueError:
            detail = r.text
        raise ReportError(f"{r.status_code}: {detail}")
    return r


def fetch_insight(
    month: str,
    fmt: str = "md",
    *,
    url: str = DEFAULT_URL,
    token: str | None = None,
    timeout: float = 180.0,
    chromium: str | None = None,
) -> bytes:
    """``sendwatch report insight --month YYYY-MM --format md|html|pdf``: the document's
    bytes from the reporting service at ``url``.  A PDF the server cannot render (no
    Chromium there) is rendered here, with ``chromium`` or the one on PATH."""
    base = url.rstrip("/")
    try:
        r = _get(f"{base}/v1/reports/insight", {"month": month, "format": fmt}, token, timeout)
    except ReportError as exc:
        if fmt != "pdf" or not str(exc).startswith("503"):
            raise
        # the server has no Chromium: render the HTML here instead
        html = _get(
            f"{base}/v1/reports/insight", {"month": month, "format": "html"}, token, timeout
        ).text
        try:
            return html_to_pdf(html, chromium=chromium)
        except PdfUnavailable as local:
            raise ReportError(f"{exc}; and here: {local}") from local
    return r.content


def fetch_quarterly(
    quarter: str | None = None,
    *,
    url: str = DEFAULT_URL,
    token: str | None = None,
    timeout: float = 120.0,
) -> str:
    """``sendwatch report quarterly --quarter 2026/27-Q3``: the quarterly return CSV."""
    base = url.rstrip("/")
    params = {"quarter": quarter} if quarter else {}
    return _get(f"{base}/v1/exports/quarterly-return", params, token, timeout).text
