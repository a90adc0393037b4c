"""Delivery of the notification outbox: email over SMTP (smtplib, in a worker thread)
and JSON webhooks (httpx), with retries and exponential back-off in wall-clock time.

Guarantees:
- A notification is in the outbox before anyone is told (same transaction as the
  escalation decision), so a mail-server outage or a crash delays it but never loses it:
  transient failures are retried until they succeed.
- An email's rows (one, or every row of a digest) are recorded as sent in a transaction
  opened before the message is handed to the server and committed as soon as it answers
  ``250`` after DATA (``outbox.sending``): a busy database is waited for before the
  mail goes, not after.  A webhook row is marked right after its HTTP 2xx.  If the
  process dies in the instant between the server accepting and the commit, that one
  message is sent again after a restart: at most one duplicate per crash.  The
  Message-ID and the webhook ``Idempotency-Key`` are derived from the outbox row, so
  receivers can drop it.
- Permanent refusals (SMTP 5xx for the recipient or the message, HTTP 4xx other than
  408/425/429) are marked ``failed`` with the reason and shown in the outbox.

Several alerts processes may share one database: each relay claims the rows it sends
with a lease (``outbox.claim``: ``FOR UPDATE SKIP LOCKED`` on PostgreSQL), renews it
just before each send, and a killed relay's rows are taken over when its lease runs out
(``SENDWATCH_NOTIFY_LEASE_S``), so each row is sent by one relay.

Order: each recipient's mail goes in the order it was decided (``outbox.claim``).  When
the mail server cannot be reached at all (connection refused, dropped, 421), the relay
stops sending email for the back-off period instead of trying every row: the first row
waiting is retried first, and after the outage the held mail goes out in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import smtplib
import socket
import ssl
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Literal

import httpx
from sqlalchemy.engine import Engine as DbEngine

from sendwatch.config import RelaySettings
from sendwatch.config import SmtpSettings as SmtpConfig
from sendwatch.observability import NOTIFICATIONS, get_logger
from services.alerts.adapters import links, outbox
from services.alerts.adapters.orm import OutboxRow
from services.alerts.domain import messages

log = get_logger(__name__)


class TransientError(Exception):
    pass


class PermanentError(Exception):
    pass


class ServerUnavailable(TransientError):
    """The mail server could not be reached or dropped the connection: no row can go."""


def relay_id() -> str:
    """This relay's name in the outbox claims (host, process, random suffix)."""
    return f"{socket.gethostname()[:40]}-{os.getpid()}-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class SmtpSettings:
    host: str | None
    port: int
    tls: Literal["none", "starttls", "ssl"]
    user: str | None
    password: str | None
    sender: str
    timeout_s: float = 15.0

    @classmethod
    def from_settings(cls, config: SmtpConfig) -> SmtpSettings:
        tls = config.tls.lower()
        if tls not in ("none", "starttls", "ssl"):
            raise ValueError("SENDWATCH_SMTP_TLS must be none, starttls or ssl")
        default_port = {"none": 25, "starttls": 587, "ssl": 465}[tls]
        return cls(
            host=config.host,
            port=config.port or default_port,
            tls=tls,  # type: ignore[arg-type]
            user=config.user,
            password=config.password,
            sender=config.sender,
        )


def build_email(
    row: OutboxRow, sender: str, relay: str | None = None, extra: str = ""
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = row.recipient
    msg["Subject"] = row.subject
    msg["Date"] = format_datetime(datetime.now(UTC))
    # Stable per outbox row: a repeat after a crash carries the same Message-ID.
    msg["Message-ID"] = f"<sendwatch-outbox-{row.id}-{row.alert_id}@sendwatch.local>"
    msg["X-Sendwatch-Alert"] = row.alert_id
    msg["X-Sendwatch-Episode"] = str(row.episode)
    msg["X-Sendwatch-Level"] = str(row.level)
    msg["X-Sendwatch-Notice"] = row.notice
    if relay:
        msg["X-Sendwatch-Relay"] = relay
    msg.set_content(row.body + extra)
    return msg


def _rule_of(row: OutboxRow) -> str | None:
    try:
        return str(json.loads(row.payload).get("rule"))
    except ValueError:
        return None


def split_digests(rows: list[OutboxRow]) -> tuple[list[OutboxRow], list[list[OutboxRow]]]:
    """Which rows go out on their own and which together (``messages.split_digests``)."""
    return messages.split_digests(rows, _rule_of)


def build_digest(
    rows: list[OutboxRow],
    sender: str,
    relay: str | None = None,
    extras: list[str] | None = None,
) -> EmailMessage:
    """One mail for several slips; ``extras``: text after each slip (its links)."""
    more = extras or [""] * len(rows)
    text = messages.digest([(r.subject, r.body + x) for r, x in zip(rows, more, strict=True)])
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = rows[0].recipient
    daily = all(r.hold_reason == "digest" for r in rows)
    subject = text.subject.replace("] ", "] Daily digest: ", 1) if daily else text.subject
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.now(UTC))
    ids = "-".join(str(r.id) for r in rows[:3])
    msg["Message-ID"] = f"<sendwatch-digest-{ids}-{len(rows)}@sendwatch.local>"
    msg["X-Sendwatch-Alerts"] = ", ".join(r.alert_id for r in rows)
    if relay:
        msg["X-Sendwatch-Relay"] = relay
    msg.set_content(text.body)
    return msg


Guard = Callable[[], AbstractContextManager[None]]


def send_email(
    settings: SmtpSettings,
    row: OutboxRow,
    relay: str | None = None,
    extra: str = "",
    guard: Guard | None = None,
) -> None:
    """Deliver one outbox row; raise TransientError or PermanentError."""
    send_message(settings, build_email(row, settings.sender, relay, extra), guard)


def send_message(settings: SmtpSettings, msg: EmailMessage, guard: Guard | None = None) -> None:
    """Deliver one message; raise TransientError or PermanentError.  ``guard``: entered
    once the connection is up (and logged in), around handing over the message; it
    exits with the server's answer (an exception when it refused)."""
    assert settings.host is not None
    try:
        client: smtplib.SMTP
        if settings.tls == "ssl":
            client = smtplib.SMTP_SSL(
                settings.host,
                settings.port,
                timeout=settings.timeout_s,
                context=ssl.create_default_context(),
            )
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_s)
        with client:
            if settings.tls == "starttls":
                client.starttls(context=ssl.create_default_context())
            if settings.user:
                client.login(settings.user, settings.password or "")
            with guard() if guard is not None else contextlib.nullcontext():
                refused = client.send_message(msg)
                if refused:
                    raise PermanentError(f"recipient refused: {refused}")
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        if codes and all(c >= 500 for c in codes):
            raise PermanentError(f"recipient refused: {exc.recipients}") from exc
        raise TransientError(f"recipient deferred: {exc.recipients}") from exc
    except smtplib.SMTPDataError as exc:
        if exc.smtp_code >= 500:
            raise PermanentError(f"message refused: {exc.smtp_code} {exc.smtp_error!r}") from exc
        if exc.smtp_code == 421:
            raise ServerUnavailable(f"server closing: {exc.smtp_code}") from exc
        raise TransientError(f"message deferred: {exc.smtp_code}") from exc
    except (
        smtplib.SMTPConnectError,
        smtplib.SMTPServerDisconnected,
        smtplib.SMTPHeloError,
        OSError,
    ) as exc:
        raise ServerUnavailable(f"{type(exc).__name__}: {exc}") from exc
    except smtplib.SMTPException as exc:
        raise TransientError(f"{type(exc).__name__}: {exc}") from exc


async def post_webhook(client: httpx.AsyncClient, row: OutboxRow) -> None:
    try:
        r = await client.post(
            row.recipient,
            content=row.payload.encode(),
            headers={
                "Content-Type": "application/json",
                "Idempotency-Key": f"sendwatch-outbox-{row.id}",
                "User-Agent": "sendwatch-alerts/1.0",
            },
        )
    except httpx.HTTPError as exc:
        raise TransientError(f"{type(exc).__name__}: {exc}") from exc
    if 200 <= r.status_code < 300:
        return
    if 400 <= r.status_code < 500 and r.status_code not in (408, 425, 429):
        raise PermanentError(f"HTTP {r.status_code}")
    raise TransientError(f"HTTP {r.status_code}")


class Relay:
    """Delivers due outbox rows; woken after each commit, and polls for retries."""

    def __init__(
        self,
        db: DbEngine,
        smtp: SmtpSettings,
        *,
        poll_s: float = 2.0,
        retry_base_s: float = 5.0,
        retry_max_s: float = 300.0,
        lease_s: float = 60.0,
        owner: str | None = None,
        batch: int = 10,
        signer: links.Signer | None = None,
    ) -> None:
        self.db = db
        self.smtp = smtp
        self.poll_s = poll_s
        self.retry_base_s = retry_base_s
        self.retry_max_s = retry_max_s
        self.lease_s = lease_s
        self.owner = owner or relay_id()
        self.batch = batch  # rows claimed at a time (others are left to other relays)
        self.signer = signer  # signed view / acknowledge links in alert mails
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None
        self._server_failures = 0  # consecutive: the mail server unreachable
        self._email_paused_until = 0.0  # monotonic

    @classmethod
    def from_settings(
        cls,
        db: DbEngine,
        smtp: SmtpConfig,
        relay: RelaySettings,
        signer: links.Signer | None = None,
    ) -> Relay:
        return cls(
            db,
            SmtpSettings.from_settings(smtp),
            poll_s=relay.poll_s,
            retry_base_s=relay.retry_base_s,
            retry_max_s=relay.retry_max_s,
            lease_s=relay.lease_s,
            signer=signer,
        )

    @property
    def channels(self) -> list[str]:
        return ["email", "webhook"] if self.smtp.host else ["webhook"]

    def wake(self) -> None:
        self._wake.set()

    def backoff(self, attempts: int) -> float:
        """Seconds before the next attempt after ``attempts`` failures (1, 2, ...)."""
        return float(min(self.retry_max_s, self.retry_base_s * 2 ** max(0, attempts - 1)))

    def _email_paused(self) -> bool:
        return time.monotonic() < self._email_paused_until

    async def deliver_due(self) -> int:
        """Claim the rows due, deliver them in order; the number attempted."""
        channels = [c for c in self.channels if not (c == "email" and self._email_paused())]
        rows = await asyncio.to_thread(
            outbox.claim, self.db, self.owner, channels, lease_s=self.lease_s, limit=self.batch
        )
        single, digests = split_digests(rows)
        work = sorted([[r] for r in single] + digests, key=lambda g: min(r.id or 0 for r in g))
        attempted = 0
        untouched: list[int] = []
        for group in work:
            ids = [r.id for r in group if r.id is not None]
            if group[0].channel == "email" and self._email_paused():
                untouched += ids
                continue
            mine = await asyncio.to_thread(outbox.renew, self.db, self.owner, ids, self.lease_s)
            group = [r for r in group if r.id in mine]
            if not group:
                continue  # another relay has taken them over
            attempted += 1
            if len(group) == 1:
                await self.deliver(group[0])
            else:
                await self.deliver_digest(group)
        await asyncio.to_thread(outbox.release, self.db, self.owner, untouched)
        return attempted

    def _server_down(self, exc: TransientError) -> datetime:
        """The mail server is unreachable: pause email; when to try the first row again."""
        self._server_failures += 1
        wait = self.backoff(self._server_failures)
        self._email_paused_until = time.monotonic() + wait
        log.warning(
            "smtp_unavailable", error=str(exc), failures=self._server_failures, retry_in_s=wait
        )
        return datetime.now(UTC) + timedelta(seconds=wait)

    def _retry_at(self, rows: list[OutboxRow], exc: TransientError) -> datetime:
        if isinstance(exc, ServerUnavailable):
            return self._server_down(exc)
        return datetime.now(UTC) + timedelta(seconds=self.backoff(rows[0].attempts + 1))

    async def deliver_digest(self, rows: list[OutboxRow]) -> None:
        """Several case-level milestone slips for one recipient, due together: one email.
        Every row is marked with the outcome of that one delivery."""
        try:
            extras = [await asyncio.to_thread(self._links, r) for r in rows]
            msg = build_digest(rows, self.smtp.sender, self.owner, extras)
            # every row is recorded as sent in one transaction, committed on acceptance
            await asyncio.to_thread(send_message, self.smtp, msg, self._sending(rows))
        except PermanentError as exc:
            for row in rows:
                await asyncio.to_thread(self._mark, row, "failed", str(exc))
            NOTIFICATIONS.labels("email", "failed").inc(len(rows))
        except TransientError as exc:
            retry_at = self._retry_at(rows, exc)
            for row in rows:
                await asyncio.to_thread(self._mark, row, "retry", str(exc), retry_at)
            NOTIFICATIONS.labels("email", "retry").inc(len(rows))
        else:
            self._server_failures = 0
            NOTIFICATIONS.labels("email", "sent").inc(len(rows))
            log.info("digest_sent", to=rows[0].recipient, slips=len(rows))

    def _links(self, row: OutboxRow) -> str:
        """The signed view / acknowledge links of an alert mail (none for notices of
        resolution and for mails that are not about an alert one can acknowledge)."""
        if self.signer is None or row.notice != "alert":
            return ""
        if not outbox.is_open_alert(self.db, row.alert_id):
            return ""
        view, ack, expires = self.signer.links(row.alert_id, row.episode, row.recipient)
        return links.mail_text(view, ack, expires)

    def _sending(self, rows: list[OutboxRow]) -> Guard:
        """Recording ``rows`` as sent around the hand-over (``outbox.sending``)."""
        return lambda: outbox.sending(self.db, rows)

    def _mark(
        self, row: OutboxRow, outcome: str, error: str | None = None, at: datetime | None = None
    ) -> None:
        outbox.mark_delivered(self.db, row, outcome, error, at, owner=self.owner)

    async def deliver(self, row: OutboxRow) -> None:
        try:
            if row.channel == "email":
                extra = await asyncio.to_thread(self._links, row)
                await asyncio.to_thread(
                    send_email, self.smtp, row, self.owner, extra, self._sending([row])
                )
            else:
                assert self._client is not None
                await post_webhook(self._client, row)
        except PermanentError as exc:
            await asyncio.to_thread(self._mark, row, "failed", str(exc))
            NOTIFICATIONS.labels(row.channel, "failed").inc()
            log.warning("notification_failed", outbox_id=row.id, to=row.recipient, error=str(exc))
        except TransientError as exc:
            if row.channel == "email":
                retry_at = self._retry_at([row], exc)
            else:
                retry_at = datetime.now(UTC) + timedelta(seconds=self.backoff(row.attempts + 1))
            await asyncio.to_thread(self._mark, row, "retry", str(exc), retry_at)
            NOTIFICATIONS.labels(row.channel, "retry").inc()
            log.warning(
                "notification_retry",
                outbox_id=row.id,
                to=row.recipient,
                attempts=row.attempts + 1,
                error=str(exc),
            )
        else:
            if row.channel == "email":
                self._server_failures = 0  # recorded as sent on acceptance (outbox.sending)
            else:
                # Mark at once: the only window for a repeat is between the 2xx and this
                # commit (the Idempotency-Key lets the receiver drop a repeat).
                await asyncio.to_thread(self._mark, row, "sent")
            NOTIFICATIONS.labels(row.channel, "sent").inc()
            log.info("notification_sent", outbox_id=row.id, to=row.recipient, channel=row.channel)

    async def run(self) -> None:
        if not self.smtp.host:
            pending = await asyncio.to_thread(outbox.pending_counts, self.db)
            log.warning(
                "smtp_not_configured",
                message="SENDWATCH_SMTP_HOST is unset: email stays in the outbox until it is",
                pending_email=pending.get("email", 0),
            )
        async with httpx.AsyncClient(timeout=10.0) as client:
            self._client = client
            while True:
                self._wake.clear()
                try:
                    delivered = await self.deliver_due()
                except Exception:  # noqa: BLE001 - database away: try again later
                    log.exception("relay_failed")
                    delivered = 0
                if delivered:
                    continue  # more may be due
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self.poll_s)

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="alerts-outbox-relay")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
