"""When a notification may be delivered: each recipient's quiet hours and daily digest,
in Europe/London time (GMT in winter, BST in summer).

Quiet hours hold delivery, not evaluation: the alert is decided, recorded and escalated
on time; only its mail waits until the end of the recipient's quiet hours.  Notices of
the ``digest_rules`` (case-level milestone slips) wait for the recipient's daily digest
hour and go out together as one mail.  A statutory breach at the board level (an alert
on one of ``bypass.statutory_kpis`` notified to one of ``bypass.board_bodies``) is never
held.  Pure functions of the configuration and event time.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from contracts.escalation import Delivery, QuietHours

Hold = Literal["quiet_hours", "digest"]


def _at(day: datetime, hhmm: str, zone: ZoneInfo) -> datetime:
    """The instant ``hhmm`` local time on the local date of ``day`` (aware, in UTC)."""
    hour, minute = (int(x) for x in hhmm.split(":"))
    return datetime.combine(day.date(), time(hour, minute), tzinfo=zone).astimezone(UTC)


def end_of_quiet(q: QuietHours, at: datetime, zone: ZoneInfo) -> datetime | None:
    """The end of the quiet hours ``at`` falls in (None: not in quiet hours)."""
    local = at.astimezone(zone)
    start, end = q.start, q.end
    now = local.strftime("%H:%M")
    if start < end:  # e.g. 12:00-14:00, within one day
        return _at(local, end, zone) if start <= now < end else None
    if now >= start:  # evening part of an overnight window: ends tomorrow
        return _at(local + timedelta(days=1), end, zone)
    if now < end:  # early-morning part
        return _at(local, end, zone)
    return None


def next_digest(hour: int, at: datetime, zone: ZoneInfo) -> datetime:
    """The first digest time (``hour``:00 local) after ``at``."""
    local = at.astimezone(zone)
    today = _at(local, f"{hour:02d}:00", zone)
    if today > at:
        return today
    return _at(local + timedelta(days=1), f"{hour:02d}:00", zone)


def hold(
    d: Delivery,
    *,
    address: str,
    rule: str,
    kpi: str,
    body: str | None,
    at: datetime,
) -> tuple[datetime | None, Hold | None]:
    """Until when (event time) a notice to ``address`` decided ``at`` is held, and why;
    (None, None): deliver at once."""
    if kpi in d.bypass.statutory_kpis and body is not None and body in d.bypass.board_bodies:
        return None, None
    zone = ZoneInfo(d.timezone)
    mine = d.for_address(address)
    until: datetime | None = None
    reason: Hold | None = None
    if rule in d.digest_rules and mine.digest_hour is not None:
        until, reason = next_digest(mine.digest_hour, at, zone), "digest"
    if mine.quiet_hours is not None:
        quiet = end_of_quiet(mine.quiet_hours, until or at, zone)
        if quiet is not None:
            until, reason = quiet, reason or "quiet_hours"
    return until, reason
