"""Delivery of the notification outbox: email over SMTP (smtplib, in a worker thread)
and JSON webhooks (httpx), with retries and exponential back-off in wall-clock time.

Guarantees:
- A notification is in the outbox before anyone is told (same transaction as the
  escalation decision), so a mail-server outage or a crash delays it but never loses it:
  transient failures are retried until they succeed.
- A row is marked sent immediately after the server accepted it (SMTP ``250`` after
  DATA, HTTP 2xx), one row at a time.  If the process dies in the instant between the
  server accepting and the mark being committed, that one message is sent again after a
  restart: at most one duplicate per crash.  The Message-ID and the webhook
  ``Idempotency-Key`` are derived from the outbox row, so receivers can drop it.
- Permanent refusals (SMTP 5xx for the recipient or the message, HTTP 4xx other than
  408/425/429) are marked ``failed`` with the reason and shown in the outbox.

One relay per database: run one alerts process per database (as ``sendwatch up`` and
docker-compose do).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import smtplib
import ssl
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
from services.alerts.adapters import outbox
from services.alerts.adapters.orm import OutboxRow
from services.alerts.domain import messages

log = get_logger(__name__)


class TransientError(Exception):
    pass


class PermanentError(Exception):
    pass


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


def build_email(row: OutboxRow, sender: str) -> EmailMessage:
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
    msg.set_content(row.body)
    return msg


def _rule_of(row: OutboxRow) -> str | None:
    try:
        return str(json.loads(row.payload).get("rule"))
    except ValueError:
        return None


def split_digests(rows: list[OutboxRow]) -> tuple[list[OutboxRow], list[list[OutboxRow]]]:
    """Which rows go out on their own and which together (``messages.split_digests``)."""
    return messages.split_digests(rows, _rule_of)


def build_digest(rows: list[OutboxRow], sender: str) -> EmailMessage:
    text = messages.digest([(r.subject, r.body) for r in rows])
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = rows[0].recipient
    msg["Subject"] = text.subject
    msg["Date"] = format_datetime(datetime.now(UTC))
    ids = "-".join(str(r.id) for r in rows[:3])
    msg["Message-ID"] = f"<sendwatch-digest-{ids}-{len(rows)}@sendwatch.local>"
    msg["X-Sendwatch-Alerts"] = ", ".join(r.alert_id for r in rows)
    msg.set_content(text.body)
    return msg


def send_email(settings: SmtpSettings, row: OutboxRow) -> None:
    """Deliver one outbox row; raise TransientError or PermanentError."""
    send_message(settings, build_email(row, settings.sender))


def send_message(settings: SmtpSettings, msg: EmailMessage) -> None:
    """Deliver one message; raise TransientError or PermanentError."""
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
        raise TransientError(f"message deferred: {exc.smtp_code}") from exc
    except (smtplib.SMTPException, OSError) as exc:
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
    ) -> None:
        self.db = db
        self.smtp = smtp
        self.poll_s = poll_s
        self.retry_base_s = retry_base_s
        self.retry_max_s = retry_max_s
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None

    @classmethod
    def from_settings(cls, db: DbEngine, smtp: SmtpConfig, relay: RelaySettings) -> Relay:
        return cls(
            db,
            SmtpSettings.from_settings(smtp),
            poll_s=relay.poll_s,
            retry_base_s=relay.retry_base_s,
            retry_max_s=relay.retry_max_s,
        )

    @property
    def channels(self) -> list[str]:
        return ["email", "webhook"] if self.smtp.host else ["webhook"]

    def wake(self) -> None:
        self._wake.set()

    def backoff(self, attempts: int) -> float:
        """Seconds before the next attempt after ``attempts`` failures (1, 2, ...)."""
        return float(min(self.retry_max_s, self.retry_base_s * 2 ** max(0, attempts - 1)))

    async def deliver_due(self) -> int:
        rows = await asyncio.to_thread(outbox.due_notifications, self.db, self.channels)
        single, digests = split_digests(rows)
        for row in single:
            await self.deliver(row)
        for group in digests:
            await self.deliver_digest(group)
        return len(rows)

    async def deliver_digest(self, rows: list[OutboxRow]) -> None:
        """Several case-level milestone slips for one recipient, due together: one email.
        Every row is marked with the outcome of that one delivery."""
        try:
            await asyncio.to_thread(send_message, self.smtp, build_digest(rows, self.smtp.sender))
        except PermanentError as exc:
            for row in rows:
                await asyncio.to_thread(self._mark, row, "failed", str(exc))
            NOTIFICATIONS.labels("email", "failed").inc(len(rows))
        except TransientError as exc:
            retry_at = datetime.now(UTC) + timedelta(seconds=self.backoff(rows[0].attempts + 1))
            for row in rows:
                await asyncio.to_thread(self._mark, row, "retry", str(exc), retry_at)
            NOTIFICATIONS.labels("email", "retry").inc(len(rows))
        else:
            for row in rows:
                await asyncio.to_thread(self._mark, row, "sent")
            NOTIFICATIONS.labels("email", "sent").inc(len(rows))
            log.info("digest_sent", to=rows[0].recipient, slips=len(rows))

    def _mark(
        self, row: OutboxRow, outcome: str, error: str | None = None, at: datetime | None = None
    ) -> None:
        outbox.mark_delivered(self.db, row, outcome, error, at)

    async def deliver(self, row: OutboxRow) -> None:
        try:
            if row.channel == "email":
                await asyncio.to_thread(send_email, self.smtp, row)
            else:
                assert self._client is not None
                await post_webhook(self._client, row)
        except PermanentError as exc:
            await asyncio.to_thread(self._mark, row, "failed", str(exc))
            NOTIFICATIONS.labels(row.channel, "failed").inc()
            log.warning("notification_failed", outbox_id=row.id, to=row.recipient, error=str(exc))
        except TransientError as exc:
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
            # Mark at once: the only window for a repeat is between accept and this commit.
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
