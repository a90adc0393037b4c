"""Alert ids and fingerprints.  Ids are derived from the fingerprint, so a replay into
an empty database gives the same ids, and re-triggers of one condition keep one id
(with a new episode)."""

from __future__ import annotations

import hashlib


def alert_id(fingerprint: str) -> str:
    return "al-" + hashlib.sha256(fingerprint.encode()).hexdigest()[:12]


def series_fingerprint(family: str, kpi: str, cycle_kind: str, breakdown: str) -> str:
    return f"{family}|{kpi}|{cycle_kind}|{breakdown}"


def deterioration_id(kpi: str, cycle_kind: str, breakdown: str) -> str:
    return alert_id(series_fingerprint("R10", kpi, cycle_kind, breakdown))


def escalation_id(kpi: str, cycle_kind: str, breakdown: str) -> str:
    return alert_id(series_fingerprint("ESC", kpi, cycle_kind, breakdown))


def milestone_fingerprint(case: str, milestone: str, kind: str) -> str:
    return f"MS|{case}|{milestone}|{kind}"


def overdue_fingerprint(parent_id: str, episode: int) -> str:
    return f"R1|{parent_id}|{episode}"
