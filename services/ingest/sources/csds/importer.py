"""Import a CSDS-style referral extract through the ingest API
(``sendwatch import referrals REFERRALS.csv CONTACTS.csv [--wait]``).

The rows are read and pseudonymised first (bad rows reported by line and skipped), then
the events are posted in batches as the ``nhs-community`` source; a retry or a re-import
sends the same ids, so nothing is counted twice.  With ``wait``, it returns once the
timeliness service (and reporting and alerts, when given) has applied them.  Nothing
identifying is logged or reported: problems name a file, a line and a field.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from sendwatch.observability import get_logger
from services.ingest.sources.csds.extract import ReferralPseudonyms, RowProblem, read_extract
from services.ingest.sources.sen2.importer import (
    MAX_BATCH,
    RETRY_STATUS,
    WaitResult,
    wait_until_applied,
)
from services.ingest.sources.sen2.pseudonymise import resolve_key

log = get_logger(__name__)


class ReferralImportError(RuntimeError):
    """Ingest refused the import (bad key, wrong source) or stayed down."""


@dataclass
class ReferralImportSummary:
    referrals: int = 0
    contacts: int = 0
    events: int = 0
    accepted: int = 0
    rejected: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    ingest_rejections: list[str] = field(default_factory=list)
    wait: WaitResult | None = None

    @property
    def ok(self) -> bool:
        waited = self.wait is None or self.wait.complete
        return not self.problems and not self.rejected and waited

    def lines(self) -> list[str]:
        out = [
            f"referrals imported: {self.referrals}, contacts imported: {self.contacts}",
            f"events posted: {self.events} (accepted {self.accepted}, rejected {self.rejected})",
            f"rows rejected: {len(self.problems)}",
        ]
        if self.wait is not None:
            state = "applied" if self.wait.complete else f"timed out on {self.wait.timed_out_on}"
            out.append(f"wait: {state} ({self.wait.applied} applied, {self.wait.pending} pending)")
        return out


def _post(http: httpx.Client, url: str, api_key: str, body: list[Any], retries: int) -> Any:
    for attempt in range(retries + 1):
        try:
            resp = http.post(url, json=body, headers={"Authorization": f"Bearer {api_key}"})
        except httpx.TransportError as exc:
            if attempt == retries:
                raise ReferralImportError(
                    f"ingest unreachable ({type(exc).__name__}); re-run the import: "
                    "the event ids are the same, so nothing is counted twice"
                ) from None
        else:
            if resp.status_code not in RETRY_STATUS:
                if resp.status_code not in (200, 207, 422):
                    raise ReferralImportError(
                        f"ingest refused the import: HTTP {resp.status_code} {resp.text[:200]}"
                    )
                return resp.json()
            if attempt == retries:
                raise ReferralImportError(f"ingest kept answering HTTP {resp.status_code}")
        time.sleep(min(0.5 * 2**attempt, 10.0))
    raise AssertionError("unreachable")


def import_referrals(
    referrals: Path,
    contacts: Path,
    ingest_url: str,
    api_key: str,
    *,
    key: str | None = None,
    batch_size: int = 2000,
    wait: bool = False,
    timeliness_url: str | None = None,
    reporting_url: str | None = None,
    alerts_url: str | None = None,
    wait_timeout: float = 600.0,
    token: str | None = None,
    retries: int = 5,
) -> ReferralImportSummary:
    pseudonyms = ReferralPseudonyms(resolve_key(key))
    if wait and not timeliness_url:
        raise ValueError("waiting for the import to be applied needs the timeliness URL")
    if not 1 <= batch_size <= MAX_BATCH:
        raise ValueError(f"batch_size must be between 1 and {MAX_BATCH}")
    extract = read_extract(Path(referrals), Path(contacts), pseudonyms)
    summary = ReferralImportSummary(
        referrals=extract.referrals,
        contacts=extract.contacts,
        events=len(extract.events),
        problems=extract.problems,
    )
    accepted: list[str] = []
    url = f"{ingest_url.rstrip('/')}/v1/events"
    with httpx.Client(timeout=120) as http:
        for i in range(0, len(extract.events), batch_size):
            batch = extract.events[i : i + batch_size]
            payload = _post(http, url, api_key, batch, retries)
            for result in payload.get("results", []) if isinstance(payload, dict) else []:
                if result.get("status") == "accepted":
                    summary.accepted += 1
                    accepted.append(str(result.get("id")))
                else:
                    summary.rejected += 1
                    index = result.get("index")
                    etype = batch[index]["type"] if isinstance(index, int) else "event"
                    summary.ingest_rejections.append(
                        f"{etype} rejected by ingest: {result.get('reason')} "
                        f"({result.get('field') or ''})"
                    )
        log.info(
            "referral_import_posted",
            referrals=summary.referrals,
            contacts=summary.contacts,
            events=summary.events,
            accepted=summary.accepted,
            rejected=summary.rejected,
            rows_rejected=len(summary.problems),
        )
        if wait:
            assert timeliness_url is not None
            summary.wait = wait_until_applied(
                http,
                accepted,
                timeliness_url,
                reporting_url=reporting_url,
                alerts_url=alerts_url,
                timeout=wait_timeout,
                token=token,
            )
    return summary
