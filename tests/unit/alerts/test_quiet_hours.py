"""Quiet hours and daily digests per recipient, in Europe/London time, across both
clock changes (the last Sundays of March and October), and through the real handlers:
quiet hours hold delivery, not evaluation, and a statutory breach at the board level
bypasses them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from contracts.escalation import Delivery, EscalationConfig
from services.alerts.domain.delivery import end_of_quiet, hold, next_digest
from tests.unit.alerts.scenario import CONFIG, Scenario, at

LONDON = ZoneInfo("Europe/London")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


DELIVERY = Delivery.model_validate(
    {
        "digest_rules": ["MS1"],
        "defaults": {"quiet_hours": {"start": "19:00", "end": "08:00"}},
        "recipients": {
            "ws3@example.org": {"digest_hour": 9},
            "lunch@example.org": {"quiet_hours": {"start": "12:00", "end": "13:30"}},
        },
        "bypass": {"statutory_kpis": ["ehcp_20wk"], "board_bodies": ["The Board"]},
    }
)


def held(address: str, at_utc: str, rule: str = "R11", body: str | None = "WS3") -> Any:
    return hold(DELIVERY, address=address, rule=rule, kpi="ehcp_20wk", body=body, at=utc(at_utc))


@pytest.mark.parametrize(
    ("decided", "until", "why"),
    [
        # winter (GMT = UTC): 20:00 waits until 08:00 the next morning
        ("2026-12-01T20:00:00", "2026-12-02T08:00:00", "quiet_hours"),
        # summer (BST = UTC+1): 19:30 BST is 18:30 UTC; 08:00 BST is 07:00 UTC
        ("2026-07-01T18:30:00", "2026-07-02T07:00:00", "quiet_hours"),
        ("2026-07-01T17:59:00", None, None),  # 18:59 BST: not yet quiet
        ("2026-07-02T06:30:00", "2026-07-02T07:00:00", "quiet_hours"),  # 07:30 BST
        # last Sunday of March 2026 (29th): clocks go forward at 01:00 GMT.  20:00 GMT
        # on Saturday waits until 08:00 BST on Sunday = 07:00 UTC, 11 hours later
        ("2026-03-28T20:00:00", "2026-03-29T07:00:00", "quiet_hours"),
        # decided in the hour that does not exist locally (01:30 GMT = 02:30 BST)
        ("2026-03-29T01:30:00", "2026-03-29T07:00:00", "quiet_hours"),
        # last Sunday of October 2026 (25th): clocks go back at 01:00 UTC.  20:00 BST on
        # Saturday (19:00 UTC) waits until 08:00 GMT = 08:00 UTC, 13 hours later
        ("2026-10-24T19:00:00", "2026-10-25T08:00:00", "quiet_hours"),
        # in the repeated hour (01:30 local, twice): both wait until 08:00 GMT
        ("2026-10-25T00:30:00", "2026-10-25T08:00:00", "quiet_hours"),
        ("2026-10-25T01:30:00", "2026-10-25T08:00:00", "quiet_hours"),
        # the last Sunday of March 2027 (28th)
        ("2027-03-27T21:00:00", "2027-03-28T07:00:00", "quiet_hours"),
    ],
)
def test_quiet_hours_in_london_time_across_the_clock_changes(
    decided: str, until: str | None, why: str | None
) -> None:
    assert held("someone@example.org", decided) == (until and utc(until), why)


def test_a_window_within_the_day() -> None:
    assert held("lunch@example.org", "2026-07-01T11:15:00") == (
        utc("2026-07-01T12:30:00"),
        "quiet_hours",
    )
    assert held("lunch@example.org", "2026-07-01T20:00:00") == (None, None)  # own hours only


@pytest.mark.parametrize(
    ("decided", "digest"),
    [
        ("2026-07-01T07:00:00", "2026-07-01T08:00:00"),  # 08:00 BST: 09:00 digest today
        ("2026-07-01T08:00:00", "2026-07-02T08:00:00"),  # 09:00 BST exactly: tomorrow's
        ("2026-12-01T10:00:00", "2026-12-02T09:00:00"),  # winter: 09:00 GMT
        # across the March change: Saturday 10:00 GMT -> Sunday 09:00 BST = 08:00 UTC
        ("2026-03-28T10:00:00", "2026-03-29T08:00:00"),
        # across the October change: Saturday 10:00 BST -> Sunday 09:00 GMT = 09:00 UTC
        ("2026-10-24T09:00:00", "2026-10-25T09:00:00"),
    ],
)
def test_milestone_slips_wait_for_the_recipients_daily_digest_hour(
    decided: str, digest: str
) -> None:
    assert held("ws3@example.org", decided, rule="MS1") == (utc(digest), "digest")
    assert next_digest(9, utc(decided), LONDON) == utc(digest)


def test_digests_are_for_the_digest_rules_only_and_bypass_is_board_and_statutory() -> None:
    assert held("ws3@example.org", "2026-07-01T10:00:00", rule="R11") == (None, None)
    night = "2026-07-01T22:00:00"
    assert held("board@example.org", night, body="The Board") == (None, None)  # bypass
    not_statutory = hold(
        DELIVERY, address="b@example.org", rule="R11", kpi="other", body="The Board", at=utc(night)
    )
    assert not_statutory[1] == "quiet_hours"
    assert held("board@example.org", night, body="WS3")[1] == "quiet_hours"  # not the board


def test_end_of_quiet_is_none_outside_the_window() -> None:
    q = DELIVERY.defaults.quiet_hours
    assert q is not None
    assert end_of_quiet(q, utc("2026-07-01T12:00:00"), LONDON) is None


# --- through the handlers ------------------------------------------------------------


def shipped_with(delivery: dict[str, Any]) -> EscalationConfig:
    raw = CONFIG.model_dump()
    raw["delivery"] = delivery
    return EscalationConfig.model_validate(raw)


def test_quiet_hours_hold_delivery_not_evaluation() -> None:
    """The alert is decided and escalates on time; only its notice waits."""
    config = shipped_with({"defaults": {"quiet_hours": {"start": "19:00", "end": "08:00"}}})
    h = Scenario(config=config)
    h.run(
        [
            {"at": "2026-06-11", "cycle": "2026-05", "value": 40.0},
            {"at": "2026-07-11", "cycle": "2026-06", "value": 45.0},  # 23:59:59 BST
        ]
    )
    r11 = h.find("R11")
    assert (r11.status, r11.level) == ("open", 1)  # evaluated at once
    ws3 = [n for n in h.sent if n.alert_id == r11.id]
    assert [(n.hold_reason, n.hold_until) for n in ws3] == [
        ("quiet_hours", datetime(2026, 7, 12, 7, 0, tzinfo=UTC))  # 08:00 BST
    ]
    h.run([{"at": "2026-07-19", "tick": True}])  # 7 days: QAG, on time, also held
    assert h.find("R11").level == 2
    qag = [n for n in h.sent if n.recipient == "qag@example.org"]
    assert qag and qag[0].hold_reason == "quiet_hours"


def test_a_statutory_breach_at_the_board_level_is_not_held() -> None:
    assert "ehcp_20wk" in CONFIG.delivery.bypass.statutory_kpis
    assert "SEND and Inclusion Partnership Board" in CONFIG.delivery.bypass.board_bodies
    config = shipped_with(
        {
            **CONFIG.delivery.model_dump(),
            "defaults": {"quiet_hours": {"start": "19:00", "end": "08:00"}},
        }
    )
    h = Scenario(config=config)
    h.run(
        [
            {"at": "2026-06-11", "cycle": "2026-05", "value": 40.0},
            {"at": "2026-07-11", "cycle": "2026-06", "value": 45.0},
            {"at": "2026-07-19", "tick": True},  # QAG
            {"at": "2026-08-03", "tick": True},  # 14 days at QAG: the Partnership Board
        ]
    )
    assert h.find("R11").level == 3
    board = [n for n in h.sent if n.recipient == "send-partnership-board@example.org"]
    assert board and all(n.hold_until is None for n in board if n.notice == "alert")
    qag = [n for n in h.sent if n.recipient == "qag@example.org"]
    assert qag[0].hold_until is not None  # below the board: held overnight


def test_shipped_delivery_settings_match_the_policies() -> None:
    from contracts.kpi_dictionary import load_kpis

    assert CONFIG.problems(load_kpis()) == []
    assert CONFIG.delivery.digest_rules  # milestone slips go as a daily digest
    assert at("2026-07-11").tzinfo is not None


def test_programme_notices_wait_for_quiet_hours_and_digests_too() -> None:
    """R1-R4 notices (exception reports, board packs, reminders) go through the same
    delivery rules: decided at 21:00, a reminder to a forum with quiet hours is queued at
    once and held until 08:00; a rule listed in ``digest_rules`` waits for the digest
    hour; nothing is held for a recipient without quiet hours or digest."""
    from datetime import date

    from contracts.programme import load_programme, mailbox
    from services.alerts.domain.programme_rules import Notice
    from services.alerts.service_layer.programme import ProgrammeContext, notification

    programme = load_programme()
    forum = next(iter(programme.forums))
    address = mailbox(programme, forum)
    notice = Notice("R4:x", "R4", "reminder", date(2026, 12, 1), (forum,), "R4 reminder", ())
    decided = utc("2026-12-01T21:00:00")

    quiet = Delivery.model_validate(
        {"recipients": {address: {"quiet_hours": {"start": "19:00", "end": "08:00"}}}}
    )
    n = notification(ProgrammeContext(programme, delivery=quiet), notice, forum, decided)
    assert (n.hold_until, n.hold_reason) == (utc("2026-12-02T08:00:00"), "quiet_hours")
    assert n.decided_at == decided  # decided on time; only the mail waits

    digest = Delivery.model_validate({"digest_rules": ["R4"], "defaults": {"digest_hour": 9}})
    n = notification(ProgrammeContext(programme, delivery=digest), notice, forum, decided)
    assert (n.hold_until, n.hold_reason) == (utc("2026-12-02T09:00:00"), "digest")

    n = notification(ProgrammeContext(programme), notice, forum, decided)
    assert (n.hold_until, n.hold_reason) == (None, None)
