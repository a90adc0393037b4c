"""The reporting API (JSON and CSV; OpenAPI at ``/docs``).

Roles (``Authorization: Bearer <token>``, tokens in ``contracts/tokens.yaml``):

* no token: the public view, the same suppressed aggregates a board member sees;
* ``board``: suppressed aggregates, the insight summary, the quarterly return;
* ``operational``: exact figures, cases at risk, the DfE-layout files;
* ``admin``: everything.

Bad input is a 422 with a message saying what is wrong; an unknown token is a 401; a
role that may not see something is a 403; a service reporting depends on that does not
answer is a 503.  Never a 500.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import PlainTextResponse, Response

from services.reporting.adapters.upstream import NotFound, Unavailable
from services.reporting.auth import Viewer
from services.reporting.context import Context
from services.reporting.domain import periods
from services.reporting.domain.suppression import UNPUBLISHED_KINDS, protect_revision
from services.reporting.pdf import PdfUnavailable
from services.reporting.reports import FORMATS, insight_document

BREAKDOWN_PATTERN = (
    r"^(all|outlook|\*|(locality|age_band|primary_need|sex|ethnicity|phase|setting_type)"
    r"(=[A-Za-z0-9 _.+-]{1,60})?)$"
)
KPI_PATTERN = r"^[a-z0-9][a-z0-9_.-]{1,63}$"


def _require(who: Viewer, role: str) -> None:
    if who.invalid_token:
        raise HTTPException(401, "unknown token", headers={"WWW-Authenticate": "Bearer"})
    if who.principal is None:
        raise HTTPException(
            401,
            f"this needs a token with the {role!r} role (Authorization: Bearer <token>)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not who.can(role):
        raise HTTPException(403, f"this token lacks the {role!r} role")


def _checked(who: Viewer) -> Viewer:
    if who.invalid_token:
        raise HTTPException(401, "unknown token", headers={"WWW-Authenticate": "Bearer"})
    return who


def _matches(breakdown: str, wanted: str | None) -> bool:
    if wanted is None:
        return breakdown in ("all", "outlook")
    if wanted == "*":
        return True
    if "=" in wanted:
        return breakdown == wanted
    if wanted in ("all", "outlook"):
        return breakdown == wanted
    return breakdown.startswith(f"{wanted}=")  # a whole dimension


def register(app: FastAPI, ctx: Context) -> None:
    dictionary = ctx.reporting.dictionary

    def known_kpi(kpi: str | None) -> None:
        if kpi is not None and kpi not in dictionary.kpis:
            raise HTTPException(
                422, f"unknown kpi {kpi!r}; known: {', '.join(sorted(dictionary.kpis))}"
            )

    def check_cycle(cycle: str | None) -> None:
        if cycle is not None and not periods.is_cycle(cycle):
            raise HTTPException(422, f"cycle {cycle!r} is not a valid cycle label")

    @app.get("/v1/kpis", tags=["kpis"], summary="Latest KPI values")
    async def kpis(
        request: Request,
        kpi: Annotated[str | None, Query(pattern=KPI_PATTERN)] = None,
        cycle: Annotated[
            str | None, Query(max_length=16, description="e.g. 2026-10, 2026/27-Q3, current")
        ] = None,
        breakdown: Annotated[
            str | None,
            Query(
                pattern=BREAKDOWN_PATTERN,
                description="all (default with outlook), outlook, a dimension "
                "(locality), one group (locality=wem) or * for every breakdown",
            ),
        ] = None,
    ) -> dict[str, Any]:
        """The latest revision of each KPI value.  Without a token (or with a board
        token) small numbers are suppressed; rolling 12-month and calendar-year values
        are then left out."""
        who = _checked(ctx.viewer(request))
        known_kpi(kpi)
        check_cycle(cycle)

        def collect() -> list[dict[str, Any]]:
            out = []
            for name in [kpi] if kpi else list(dictionary.kpis):
                stored = ctx.reporting.stored(name)
                for (c, b), p in sorted(ctx.reporting.published(name, who.suppressed).items()):
                    if cycle is not None and c != cycle:
                        continue
                    if not _matches(b, breakdown):
                        continue
                    meta = stored.get((c, b))
                    item = p.as_dict()
                    item.update(
                        revision=meta.revision if meta else None,
                        sequence=meta.sequence if meta else None,
                        as_of=meta.as_of if meta else None,
                    )
                    out.append(item)
            return out

        rows = await ctx.run(collect)
        today = await ctx.run(ctx.reporting.today)
        return {
            "view": who.audience,
            "data_as_of": today,
            "suppression": ctx.policy.describe() if who.suppressed else None,
            "kpis": rows,
        }

    @app.get("/v1/kpis/{kpi}", tags=["kpis"], summary="Every revision of a KPI's values")
    async def kpi_revisions(
        request: Request,
        kpi: Annotated[str, Path(pattern=KPI_PATTERN)],
        cycle: Annotated[str | None, Query(max_length=16)] = None,
        breakdown: Annotated[str, Query(pattern=BREAKDOWN_PATTERN)] = "all",
    ) -> dict[str, Any]:
        """Every stored revision (oldest first) of the KPI's values for one breakdown,
        for one cycle or all.  A closed cycle restated by late events has several."""
        who = _checked(ctx.viewer(request))
        if kpi not in dictionary.kpis:
            raise HTTPException(404, f"no KPI {kpi!r}")
        check_cycle(cycle)
        if breakdown == "*" or ("=" not in breakdown and breakdown not in ("all", "outlook")):
            raise HTTPException(422, "breakdown must be all, outlook or one group (locality=wem)")
        if who.suppressed and cycle is not None and periods.kind_of(cycle) in UNPUBLISHED_KINDS:
            raise HTTPException(
                403,
                "rolling 12-month and calendar-year values are not published with small "
                "numbers suppressed; they need the operational role",
            )

        def collect() -> list[dict[str, Any]]:
            from services.reporting.adapters.repository import value_history

            latest = ctx.reporting.published(kpi, who.suppressed)
            out = []
            for s in value_history(ctx.reporting.engine, kpi, cycle, breakdown):
                v = s.value
                if who.suppressed and periods.kind_of(v.cycle) in UNPUBLISHED_KINDS:
                    continue
                last = latest.get((v.cycle, v.breakdown))
                if not who.suppressed:
                    item = {**v.model_dump(mode="json"), "suppressed": {}}
                else:
                    item = protect_revision(v, last, ctx.policy).as_dict()
                item["upstream_revision"] = v.revision
                item.pop("revision", None)
                item.update(
                    revision=s.revision,
                    sequence=s.sequence,
                    as_of=s.as_of,
                    received_at=s.received_at,
                )
                out.append(item)
            return out

        rows = await ctx.run(collect)
        k = dictionary.kpis[kpi]
        return {
            "kpi": kpi,
            "name": k.name,
            "unit": k.unit,
            "cycle": cycle,
            "breakdown": breakdown,
            "view": who.audience,
            "revisions": rows,
        }

    @app.get("/v1/cases-at-risk", tags=["cases"], summary="Open cases by days to deadline")
    async def cases_at_risk(
        request: Request,
        limit: Annotated[int, Query(ge=1, le=5000)] = 100,
        locality: Annotated[str | None, Query(pattern=r"^[a-z][a-z-]{1,39}$")] = None,
    ) -> dict[str, Any]:
        """Operational role only: pseudonymous case ids, locality and the next statutory
        deadline, soonest (or most overdue) first."""
        _require(ctx.viewer(request), "operational")
        try:
            data = await ctx.upstreams.cases_at_risk(limit=5000)
        except (Unavailable, NotFound) as exc:
            raise HTTPException(503, f"timeliness service unavailable: {exc}") from exc
        cases = [c for c in data["cases"] if locality is None or c.get("locality") == locality]
        return {"as_of": data.get("as_of"), "total": len(cases), "cases": cases[:limit]}

    @app.get(
        "/v1/exports/quarterly-return",
        tags=["exports"],
        response_class=PlainTextResponse,
        summary="Quarterly data return (CSV, suppressed)",
    )
    async def quarterly_return(
        request: Request,
        quarter: Annotated[str | None, Query(pattern=periods.QUARTER_PATTERN)] = None,
    ) -> Response:
        """One row per KPI per plan-year quarter (all quarters with data, or one):
        value, numerator, denominator, baseline, trajectory target, standard, RAG."""
        _checked(ctx.viewer(request))
        if quarter is not None and not periods.is_cycle(quarter):
            raise HTTPException(422, f"quarter {quarter!r} is not a plan-year quarter")
        text = await ctx.run(ctx.reporting.quarterly_csv, [quarter] if quarter else None)
        name = f"quarterly-return-{(quarter or 'all').replace('/', '-')}.csv"
        return Response(
            text,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    @app.get(
        "/v1/exports/{name}",
        tags=["exports"],
        response_class=PlainTextResponse,
        summary="DfE-layout CSV (operational role)",
    )
    async def dfe_export(
        request: Request,
        name: Literal["dfe-timeliness", "dfe-requests"],
        year: Annotated[int, Query(ge=2014, le=2100)],
    ) -> Response:
        """The timeliness service's DfE-layout files, exactly as DfE computes and
        publishes them (unsuppressed), for the operational and admin roles only."""
        _require(ctx.viewer(request), "operational")
        try:
            text = await ctx.upstreams.dfe_export(name, year)
        except (Unavailable, NotFound) as exc:
            raise HTTPException(503, f"timeliness service unavailable: {exc}") from exc
        return Response(
            text,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}-{year}.csv"'},
        )

    @app.get("/v1/reports/insight", tags=["reports"], summary="Monthly insight summary")
    async def insight(
        request: Request,
        month: Annotated[str, Query(pattern=periods.MONTH_PATTERN, description="YYYY-MM")],
        format: Annotated[str, Query(description="md, html, pdf or json")] = "html",
    ) -> Response:
        """Each headline KPI with value, RAG and movement; exceptions raised in the month
        and their status; what is due.  Small numbers suppressed for every reader."""
        _checked(ctx.viewer(request))
        if not periods.is_cycle(month):
            raise HTTPException(422, "month is outside the plausible years")
        if format not in FORMATS:
            raise HTTPException(422, f"format must be one of {', '.join(FORMATS)}")
        try:
            body, media = await insight_document(ctx, month, format)
        except PdfUnavailable as exc:
            raise HTTPException(503, str(exc)) from exc
        headers = {}
        if format in ("pdf", "md"):
            headers["Content-Disposition"] = f'attachment; filename="insight-{month}.{format}"'
        return Response(body, media_type=media, headers=headers)

    @app.get("/v1/benchmarks", tags=["kpis"], summary="DfE benchmark for a 20-week KPI")
    async def benchmarks(
        request: Request, kpi: Annotated[str, Query(pattern=KPI_PATTERN)] = "ehcp_20wk"
    ) -> dict[str, Any]:
        who = _checked(ctx.viewer(request))
        known_kpi(kpi)
        view, note = await ctx.run(ctx.reporting.benchmark, kpi, who.suppressed)
        if view is None:
            return {"kpi": kpi, "loaded": False, "note": note}
        return {
            "kpi": kpi,
            "loaded": True,
            "year": view.year,
            "rank": view.rank,
            "of": view.of,
            "neighbour_mean": view.neighbour_mean,
            "rows": [r.__dict__ for r in view.rows],
            "note": note,
        }
