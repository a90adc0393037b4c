"""HTTP clients for the services the dashboard reads from: timeliness (cases at risk,
DfE-layout exports) and alerts (alerts, escalations, the dev-mode outbox).

Addresses and service tokens come from the settings (``SENDWATCH_TIMELINESS_URL``,
``SENDWATCH_TIMELINESS_TOKEN`` (role ``operational``), ``SENDWATCH_ALERTS_URL``,
``SENDWATCH_ALERTS_TOKEN`` (role ``read``)); ``sendwatch up`` sets them.  Outside
development mode the service refuses to start with them unset or set to the
development tokens (``sendwatch.devmode``).  Any
failure (refused, timeout, 5xx, bad JSON) becomes :class:`Unavailable`, which the pages
show as "... service unavailable" instead of failing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx

from sendwatch.config import UpstreamSettings


class Unavailable(Exception):
    """An upstream service did not answer usefully."""

    def __init__(self, service: str, reason: str) -> None:
        super().__init__(f"{service} service unavailable: {reason}")
        self.service = service
        self.reason = reason


class NotFound(Exception):
    pass


@dataclass(frozen=True)
class Upstreams:
    timeliness_url: str
    alerts_url: str
    alerts_token: str
    timeout_s: float = 10.0
    timeliness_token: str = "dev-timeliness-read-token"

    @classmethod
    def from_settings(cls, settings: UpstreamSettings) -> Upstreams:
        return cls(
            settings.timeliness_url.rstrip("/"),
            settings.alerts_url.rstrip("/"),
            settings.alerts_token,
            settings.timeout_s,
            settings.timeliness_token,
        )

    def _auth(self, service: str) -> dict[str, str]:
        token = self.timeliness_token if service == "timeliness" else self.alerts_token
        return {"Authorization": f"Bearer {token}"}

    async def _get(
        self,
        service: str,
        url: str,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        try:
            async with httpx.AsyncClient(timeout=self.timeout_s) as client:
                r = await client.get(url, params=params, headers=headers)
        except httpx.HTTPError as exc:
            raise Unavailable(service, type(exc).__name__) from exc
        if r.status_code == 404:
            raise NotFound(url)
        if r.status_code != 200:
            raise Unavailable(service, f"HTTP {r.status_code}")
        return r

    async def _json(self, service: str, url: str, params: dict[str, Any] | None = None) -> Any:
        r = await self._get(service, url, params, self._auth(service))
        try:
            return r.json()
        except ValueError as exc:
            raise Unavailable(service, "not JSON") from exc

    # --- timeliness ---

    async def cases_at_risk(self, limit: int = 5000) -> dict[str, Any]:
        data = await self._json(
            "timeliness", f"{self.timeliness_url}/v1/cases-at-risk", {"limit": limit}
        )
        if not isinstance(data, dict) or not isinstance(data.get("cases"), list):
            raise Unavailable("timeliness", "unexpected answer")
        return data

    async def dfe_export(self, name: str, year: int) -> str:
        r = await self._get(
            "timeliness",
            f"{self.timeliness_url}/v1/exports/{name}",
            {"year": year},
            self._auth("timeliness"),
        )
        return r.text

    async def dfe_caseload(self, day: date) -> str:
        """DfE's caseload row on ``day`` (placements and sufficiency)."""
        r = await self._get(
            "timeliness",
            f"{self.timeliness_url}/v1/exports/dfe-caseload",
            {"date": day.isoformat()},
            self._auth("timeliness"),
        )
        return r.text

    # --- alerts ---

    async def alerts(self, **params: Any) -> dict[str, Any]:
        query = {k: v for k, v in params.items() if v is not None}
        data = await self._json("alerts", f"{self.alerts_url}/v1/alerts", query)
        if not isinstance(data, dict) or not isinstance(data.get("alerts"), list):
            raise Unavailable("alerts", "unexpected answer")
        return data

    async def alert(self, alert_id: str) -> dict[str, Any]:
        data = await self._json("alerts", f"{self.alerts_url}/v1/alerts/{alert_id}")
        if not isinstance(data, dict):
            raise Unavailable("alerts", "unexpected answer")
        return data

    async def escalations(self) -> dict[str, Any]:
        data = await self._json("alerts", f"{self.alerts_url}/v1/escalations")
        if not isinstance(data, dict):
            raise Unavailable("alerts", "unexpected answer")
        return data

    async def outbox(self, limit: int = 50, offset: int = 0) -> dict[str, Any]:
        data = await self._json(
            "alerts",
            f"{self.alerts_url}/v1/outbox",
            {"limit": limit, "offset": offset},
        )
        if not isinstance(data, dict):
            raise Unavailable("alerts", "unexpected answer")
        return data
