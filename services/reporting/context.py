"""What the HTTP handlers share: the application layer, upstream clients, tokens, the
suppression policy and the page templates.  The reporting service's ``Runtime.deps``; a
route takes it as a parameter ``ctx: Ctx``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse

from contracts.kpi_dictionary import KpiDictionary
from contracts.tokens import TokenRegistry
from sendwatch.service import deps_of
from services.reporting.adapters.sessions import SessionStore
from services.reporting.adapters.upstream import Upstreams
from services.reporting.auth import Viewer, viewer
from services.reporting.domain import dashboard
from services.reporting.domain.suppression import SuppressionPolicy
from services.reporting.service import Reporting
from services.reporting.web import charts

if TYPE_CHECKING:
    from jinja2 import Environment

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
T = TypeVar("T")


def make_templates() -> Environment | None:
    """The Jinja2 environment, or None when jinja2 is not installed (the API still works;
    pages answer 503 saying so)."""
    try:
        from jinja2 import Environment, FileSystemLoader, select_autoescape
    except ImportError:
        return None
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html"]),
        trim_blocks=False,
        lstrip_blocks=False,
    )
    env.globals.update(
        svg=charts.svg,
        shown=dashboard.shown,
        group_label=dashboard.group_label,
        dimensions=dashboard.DIMENSIONS,
    )
    return env


@dataclass
class Context:
    reporting: Reporting
    upstreams: Upstreams
    tokens: TokenRegistry
    policy: SuppressionPolicy
    templates: Environment | None  # None without jinja2
    sessions: SessionStore  # sign-in sessions and the lockout (in the database)
    chromium: str | None = None  # the PDF renderer (None: chromium on PATH)

    @property
    def dictionary(self) -> KpiDictionary:
        return self.reporting.dictionary

    def viewer(self, request: Request) -> Viewer:
        return viewer(request, self.tokens, self.policy, self.sessions)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(fn, *args)

    def render(
        self, request: Request, name: str, status_code: int = 200, **values: Any
    ) -> HTMLResponse:
        who = values.pop("viewer", None) or self.viewer(request)
        if self.templates is None:
            return HTMLResponse("The dashboard needs jinja2 (pip install jinja2).", 503)
        html = self.templates.get_template(name).render(
            viewer=who, policy=self.policy, place=self.reporting.place, **values
        )
        return HTMLResponse(html, status_code=status_code)

    def css(self) -> str:
        return (STATIC / "sendwatch.css").read_text(encoding="utf-8")


Ctx = Annotated[Context, Depends(deps_of)]
