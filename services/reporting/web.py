"""The partnership dashboard: server-rendered pages (no JavaScript), GOV.UK style.

Pages: overview (headline tiles), a KPI page (trend, already-decided outcome,
breakdowns, alerts, benchmark), cases at risk (operational role), alerts with their
timelines and the dev-mode outbox (``read`` role), downloads, sign in and out.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs, urlencode

from fastapi import FastAPI, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.reporting.adapters.upstream import NotFound, Unavailable
from services.reporting.auth import COOKIE, Viewer
from services.reporting.context import Context
from services.reporting.domain import periods

KPI_LEVEL_KINDS = ("deterioration", "escalation", "overdue")
MILESTONES = {
    "decision_to_assess": "Decision whether to assess (6 weeks)",
    "not_issue_decision": "Decision not to issue (16 weeks)",
    "draft_plan": "Draft plan (18 weeks)",
    "final_plan": "Final plan (20 weeks)",
}


def register(app: FastAPI, ctx: Context) -> None:
    dictionary = ctx.reporting.dictionary

    def denied(request: Request, who: Viewer, role: str) -> HTMLResponse | None:
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

    @app.get("/", response_class=HTMLResponse, tags=["dashboard"], include_in_schema=False)
    async def overview(request: Request) -> HTMLResponse:
        who = ctx.viewer(request)
        tiles = await ctx.run(ctx.reporting.tiles, who.suppressed)
        state = await ctx.run(ctx.reporting.state)
        today = await ctx.run(ctx.reporting.today)
        lagging = [
            t
            for t in tiles
            if dictionary.kpis[t.kpi].limit_days == 140
            and dictionary.kpis[t.kpi].measure == "within_days"
        ]
        leading = [t for t in tiles if t not in lagging]
        groups = [
            {
                "title": "Outcomes (lagging indicators)",
                "hint": "EHC plans issued within the statutory 20 weeks (Reform Plan K1).",
                "tiles": lagging,
            },
            {
                "title": "Leading indicators",
                "hint": "Early steps of the statutory process, the caseload and the backlog: "
                "they show where the 20-week outcome is heading.",
                "tiles": leading,
            },
        ]
        others = [(kpi, k.name) for kpi, k in dictionary.kpis.items() if not k.headline]
        stale = False
        if state is not None and state.received_at is not None:
            received = state.received_at
            if received.tzinfo is None:
                received = received.replace(tzinfo=UTC)
            stale = datetime.now(UTC) - received > timedelta(hours=1)
        return ctx.render(
            request,
            "overview.html",
            viewer=who,
            title="Overview",
            nav="overview",
            groups=groups,
            others=others,
            data_date=periods.short_date(today) if today else "no data yet",
            stale=stale,
        )

    @app.get(
        "/kpis/{kpi}", response_class=HTMLResponse, tags=["dashboard"], include_in_schema=False
    )
    async def kpi_page(
        request: Request,
        kpi: str,
        view: Annotated[Literal["month", "quarter", "week"], Query()] = "month",
        cycle: Annotated[str | None, Query(max_length=16)] = None,
    ) -> HTMLResponse:
        who = ctx.viewer(request)
        if kpi not in dictionary.kpis:
            return ctx.render(
                request,
                "error.html",
                404,
                viewer=who,
                title="Not found",
                heading="Page not found",
                message=f"There is no measure {kpi!r}.",
            )
        if cycle is not None and not periods.is_cycle(cycle):
            return ctx.render(
                request,
                "error.html",
                422,
                viewer=who,
                title="Bad request",
                heading="That period is not valid",
                message=f"{cycle!r} is not a period label such as 2026-10.",
            )
        k = dictionary.kpis[kpi]
        page = await ctx.run(ctx.reporting.kpi_page, kpi, who.suppressed, view, cycle)
        bench, bench_note = await ctx.run(ctx.reporting.benchmark, kpi, who.suppressed)
        alerts: list[dict[str, Any]] | None = None
        alerts_error = ""
        alerts_total = 0
        if who.can("read"):
            try:
                data = await ctx.upstreams.alerts(kpi=kpi, limit=200)
                rows = [
                    a
                    for a in data["alerts"]
                    if not (who.suppressed and a.get("kind") == "milestone")
                ]
                rows.sort(
                    key=lambda a: (
                        a.get("kind") == "milestone",
                        a.get("status") not in ("open", "acknowledged"),
                    )
                )
                alerts = rows[:15]
                alerts_total = len(rows) if who.suppressed else int(data.get("total", len(rows)))
            except (Unavailable, NotFound) as exc:
                alerts_error = str(exc).split(": ", 1)[-1]
        kinds = [c for c in ("month", "quarter", "week") if c in k.cycles]
        return ctx.render(
            request,
            "kpi.html",
            viewer=who,
            title=k.name,
            nav="overview",
            kpi=kpi,
            k=k,
            page=page,
            kinds=kinds,
            period_title=periods.title(page.cycle)
            if page.cycle and page.cycle != "current"
            else "Now",
            alerts=alerts,
            alerts_total=alerts_total,
            alerts_error=alerts_error,
            benchmark=bench,
            benchmark_note=bench_note,
        )

    @app.get(
        "/cases-at-risk", response_class=HTMLResponse, tags=["dashboard"], include_in_schema=False
    )
    async def cases_page(
        request: Request,
        locality: Annotated[str | None, Query(max_length=40)] = None,
    ) -> HTMLResponse:
        who = ctx.viewer(request)
        no = denied(request, who, "operational")
        if no is not None:
            return no
        locality = locality or None
        try:
            data = await ctx.upstreams.cases_at_risk(limit=5000)
        except (Unavailable, NotFound) as exc:
            return ctx.render(
                request,
                "cases.html",
                viewer=who,
                title="Cases at risk",
                nav="cases",
                error=str(exc).split(": ", 1)[-1],
            )
        every = data["cases"]
        localities = sorted({str(c.get("locality")) for c in every if c.get("locality")})
        chosen = [c for c in every if locality is None or c.get("locality") == locality]
        shown_cases = chosen[:500]
        return ctx.render(
            request,
            "cases.html",
            viewer=who,
            title="Cases at risk",
            nav="cases",
            as_of=data.get("as_of"),
            cases=shown_cases,
            total=len(chosen),
            shown_count=len(shown_cases),
            overdue=sum(1 for c in chosen if (c.get("days_left") or 0) < 0),
            localities=localities,
            locality=locality,
            milestones=MILESTONES,
            error="",
        )

    @app.get("/alerts", response_class=HTMLResponse, tags=["dashboard"], include_in_schema=False)
    async def alerts_page(
        request: Request,
        status: Annotated[
            Literal["", "open", "acknowledged", "resolved", "superseded"], Query()
        ] = "",
        kind: Annotated[
            Literal["", "deterioration", "escalation", "milestone", "overdue"], Query()
        ] = "",
        kpi: Annotated[str | None, Query(max_length=64)] = None,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> HTMLResponse:
        who = ctx.viewer(request)
        no = denied(request, who, "read")
        if no is not None:
            return no
        if kpi is not None and kpi not in dictionary.kpis:
            kpi = None
        limit = 50
        error, rows, total = "", [], 0
        case_level_hidden = who.suppressed
        try:
            if not case_level_hidden:
                data = await ctx.upstreams.alerts(
                    status=status or None, kind=kind or None, kpi=kpi, limit=limit, offset=offset
                )
                rows, total = data["alerts"], int(data.get("total", 0))
            elif kind != "milestone":
                # Case-level (milestone) alerts name cases: operational role only.
                merged: list[dict[str, Any]] = []
                for k in [kind] if kind else KPI_LEVEL_KINDS:
                    data = await ctx.upstreams.alerts(
                        status=status or None, kind=k, kpi=kpi, limit=5000
                    )
                    merged += data["alerts"]
                merged.sort(key=lambda a: str(a.get("updated_at") or ""), reverse=True)
                rows, total = merged[offset : offset + limit], len(merged)
        except (Unavailable, NotFound) as exc:
            error = str(exc).split(": ", 1)[-1]
        esc_error, escalations = "", []
        try:
            escalations = (await ctx.upstreams.escalations()).get("open", [])
        except (Unavailable, NotFound) as exc:
            esc_error = str(exc).split(": ", 1)[-1]

        def query(at: int) -> str:
            q = {"status": status, "kind": kind, "kpi": kpi or "", "offset": max(0, at)}
            return urlencode({k: v for k, v in q.items() if v not in ("", None)})

        return ctx.render(
            request,
            "alerts.html",
            viewer=who,
            title="Alerts",
            nav="alerts",
            alerts=rows,
            total=total,
            offset=offset,
            limit=limit,
            status=status,
            kind=kind,
            kpi=kpi,
            kpi_name=dictionary.kpis[kpi].name if kpi else "",
            error=error,
            escalations=escalations,
            esc_error=esc_error,
            query=query,
            case_level_hidden=case_level_hidden,
        )

    @app.get(
        "/alerts/outbox", response_class=HTMLResponse, tags=["dashboard"], include_in_schema=False
    )
    async def outbox_page(
        request: Request, offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0
    ) -> HTMLResponse:
        """Development mode's outbox: every notification with its text, recipients and
        case ids, so for the operational role only."""
        who = ctx.viewer(request)
        no = denied(request, who, "operational")
        if no is not None:
            return no
        try:
            data = await ctx.upstreams.outbox(limit=50, offset=offset)
        except (Unavailable, NotFound) as exc:
            return ctx.render(
                request,
                "outbox.html",
                viewer=who,
                title="Outbox",
                nav="alerts",
                error=str(exc).split(": ", 1)[-1],
                notifications=[],
            )
        return ctx.render(
            request,
            "outbox.html",
            viewer=who,
            title="Outbox",
            nav="alerts",
            error="",
            notifications=data.get("notifications", []),
            total=data.get("total", 0),
            pending=data.get("pending", {}),
            smtp=data.get("smtp_configured"),
        )

    @app.get(
        "/alerts/{alert_id}",
        response_class=HTMLResponse,
        tags=["dashboard"],
        include_in_schema=False,
    )
    async def alert_page(request: Request, alert_id: str) -> HTMLResponse:
        who = ctx.viewer(request)
        no = denied(request, who, "read")
        if no is not None:
            return no
        if not alert_id.replace("-", "").replace("_", "").isalnum() or len(alert_id) > 64:
            return ctx.render(
                request,
                "error.html",
                404,
                viewer=who,
                title="Not found",
                heading="Page not found",
                message="There is no such alert.",
            )
        try:
            a = await ctx.upstreams.alert(alert_id)
        except NotFound:
            return ctx.render(
                request,
                "error.html",
                404,
                viewer=who,
                title="Not found",
                heading="Page not found",
                message=f"There is no alert {alert_id}.",
            )
        except Unavailable as exc:
            return ctx.render(
                request,
                "error.html",
                503,
                viewer=who,
                title="Unavailable",
                heading="Alerts service unavailable",
                message=str(exc).split(": ", 1)[-1],
            )
        if who.suppressed and a.get("kind") == "milestone":
            return ctx.render(
                request,
                "error.html",
                403,
                viewer=who,
                title="Not available",
                heading="You cannot see this alert",
                message="Case-level alerts are for the operational role.",
            )
        return ctx.render(
            request, "alert.html", viewer=who, title=str(a.get("title", "Alert")), nav="alerts", a=a
        )

    @app.get("/downloads", response_class=HTMLResponse, tags=["dashboard"], include_in_schema=False)
    async def downloads(request: Request) -> HTMLResponse:
        who = ctx.viewer(request)
        today = await ctx.run(ctx.reporting.today)
        quarters = await ctx.run(ctx.reporting.quarters_available)
        months: list[tuple[str, str]] = []
        years: list[int] = []
        if today is not None:
            y, m = today.year, today.month
            for _ in range(12):
                label = f"{y:04d}-{m:02d}"
                months.append((label, periods.title(label)))
                y, m = periods.add_months(y, m, -1)
            years = [today.year - i for i in range(3)]
        return ctx.render(
            request,
            "downloads.html",
            viewer=who,
            title="Downloads",
            nav="downloads",
            months=months,
            quarters=quarters,
            years=years,
        )

    @app.get("/sign-in", response_class=HTMLResponse, tags=["dashboard"], include_in_schema=False)
    async def sign_in_form(request: Request) -> HTMLResponse:
        return ctx.render(request, "signin.html", title="Sign in", nav="signin", error="")

    @app.post("/sign-in", tags=["dashboard"], include_in_schema=False)
    async def sign_in(request: Request) -> Response:
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

    @app.get("/sign-out", response_class=HTMLResponse, tags=["dashboard"], include_in_schema=False)
    async def sign_out_form(request: Request) -> HTMLResponse:
        return ctx.render(request, "signout.html", title="Sign out", nav="signin")

    @app.post("/sign-out", tags=["dashboard"], include_in_schema=False)
    async def sign_out(request: Request) -> Response:
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response
