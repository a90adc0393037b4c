"""Case-level milestone emails due together for one recipient go out as one digest."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from services.alerts.adapters.notify import build_digest, split_digests
from services.alerts.adapters.orm import OutboxRow


def row(i: int, rule: str, to: str = "ws3@example.org", channel: str = "email") -> OutboxRow:
    now = datetime(2026, 11, 1, tzinfo=UTC)
    return OutboxRow(
        id=i,
        alert_id=f"al-{i}",
        episode=1,
        level=1,
        notice="raised",
        channel=channel,
        recipient=to,
        subject=f"[sendwatch {rule}] case {i}",
        body=f"body of case {i}",
        payload=json.dumps({"rule": rule}),
        status="pending",
        next_attempt_at=now,
        decided_at=now,
    )


def test_milestone_emails_for_one_recipient_are_grouped() -> None:
    rows = [
        row(1, "MS1"),
        row(2, "MS1"),
        row(3, "R11"),
        row(4, "MS1", to="dco@example.org"),
        row(5, "MS1", channel="webhook"),
        row(6, "MS1"),
    ]
    single, digests = split_digests(rows)
    assert sorted(r.id for r in single) == [3, 4, 5]  # escalations, lone mail, webhooks
    assert [[r.id for r in g] for g in digests] == [[1, 2, 6]]
    msg = build_digest(digests[0], "sendwatch@example.org")
    assert msg["Subject"] == "[sendwatch MS1] 3 statutory milestones slipped"
    text = msg.get_content()
    assert all(f"body of case {i}" in text for i in (1, 2, 6))
    assert "- case 1" in text
