"""Import a CSDS-style referral extract through the ingest API
(``sendwatch import referrals REFERRALS.csv CONTACTS.csv [--wait]``).

The rows are read and pseudonymised first (bad rows reported by line and skipped), then
the events are posted in batches as the ``nhs-community`` source; a retry or a re-import
sends the same ids, so nothing is counted twice.  With ``wait``, it returns once the
timeliness service (and reporting and alerts, when given) has applied them.  Nothing
identifying is logged or reported: problems name a file, a line and a field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Unpack

from sendwatch.observability import get_logger
from services.ingest.sources import posting
from services.ingest.sources.csds.extract import ReferralPseudonyms, RowProblem, read_extract
from services.ingest.sources.sen2.pseudonymise import resolve_key

log = get_logger(__name__)


class ReferralImportError(posting.IngestPostError):
    """Ingest refused the import (bad key, wrong source) or stayed down."""


@dataclass
class ReferralImportSummary(posting.PostTally):
    error = ReferralImportError
    referrals: int = 0
    contacts: int = 0
    events: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    ingest_rejections: list[str] = field(default_factory=list)

    def reject(self, event: dict[str, Any], result: dict[str, Any]) -> None:
        self.ingest_rejections.append(
            f"{event['type']} rejected by ingest: {result.get('reason')} "
            f"({result.get('field') or ''})"
        )

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


def _event(event: dict[str, Any]) -> dict[str, Any]:
    return event


def import_referrals(
    referrals: Path,
    contacts: Path,
    ingest_url: str,
    api_key: str,
    *,
    key: str | None = None,
    batch_size: int = 2000,
    retries: int = 5,
    **wait: Unpack[posting.WaitOptions],
) -> ReferralImportSummary:
    pseudonyms = ReferralPseudonyms(resolve_key(key))
    waiting = posting.WaitFor.option(wait)
    posting.check_batch_size(batch_size)
    extract = read_extract(Path(referrals), Path(contacts), pseudonyms)
    summary = ReferralImportSummary(
        referrals=extract.referrals,
        contacts=extract.contacts,
        events=len(extract.events),
        problems=extract.problems,
    )
    with posting.ingest_client(None) as http:
        poster = posting.EventPoster(http, ingest_url, api_key, summary, _event, retries=retries)
        poster.post_all(posting.chunked(extract.events, batch_size))
        log.info(
            "referral_import_posted",
            referrals=summary.referrals,
            contacts=summary.contacts,
            events=summary.events,
            accepted=summary.accepted,
            rejected=summary.rejected,
            rows_rejected=len(summary.problems),
        )
        poster.wait(waiting)
    return summary
