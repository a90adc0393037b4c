"""Signed, expiring links in the alert mails: to view an alert and to acknowledge it.

A token is ``base64url(JSON claims) "." base64url(HMAC-SHA256(secret, claims))``; the
claims are the alert id, its episode, the recipient the mail went to, what the link does
(``view`` or ``ack``) and when it expires (wall clock, seconds since the epoch).  The
secret is ``SENDWATCH_ALERTS_LINK_SECRET`` (the shipped development value is refused
outside development mode).  A link carries no personal data beyond the address it was
sent to, and acknowledging needs a POST: opening the link (a person, or a mail
scanner following it) only shows a confirmation page.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from contracts.tokens import same_secret, secret_bytes

Action = Literal["view", "ack"]


class BadLink(ValueError):
    """The token was not made with this secret, or has been changed."""


@dataclass(frozen=True)
class Claims:
    alert_id: str
    episode: int
    recipient: str
    action: Action
    expires: datetime

    def expired(self, now: datetime | None = None) -> bool:
        return (now or datetime.now(UTC)) >= self.expires


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Signer:
    secret: str
    ttl_days: float = 14.0
    base_url: str = "http://127.0.0.1:8003"

    def _mac(self, body: str) -> str:
        digest = hmac.new(self.secret.encode(), secret_bytes(body), hashlib.sha256).digest()
        return _b64(digest)

    def token(self, claims: Claims) -> str:
        body = _b64(
            json.dumps(
                {
                    "a": claims.alert_id,
                    "e": claims.episode,
                    "r": claims.recipient,
                    "k": claims.action,
                    "x": int(claims.expires.timestamp()),
                },
                separators=(",", ":"),
                sort_keys=True,
            ).encode()
        )
        return f"{body}.{self._mac(body)}"

    def verify(self, token: str) -> Claims:
        """The claims of a token made with this secret (expired or not); BadLink else."""
        body, _, mac = token.partition(".")
        if not body or not mac or not same_secret(mac, self._mac(body)):
            raise BadLink("signature does not match")
        try:
            raw = json.loads(_unb64(body))
            action = raw["k"]
            if action not in ("view", "ack"):
                raise BadLink("unknown action")
            return Claims(
                alert_id=str(raw["a"]),
                episode=int(raw["e"]),
                recipient=str(raw["r"]),
                action=action,
                expires=datetime.fromtimestamp(int(raw["x"]), UTC),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise BadLink("malformed claims") from exc

    def links(
        self, alert_id: str, episode: int, recipient: str, now: datetime | None = None
    ) -> tuple[str, str, datetime]:
        """The view and acknowledge URLs for one mail, and when they expire."""
        expires = (now or datetime.now(UTC)) + timedelta(days=self.ttl_days)
        base = self.base_url.rstrip("/")
        urls = [
            f"{base}/mail/{self.token(Claims(alert_id, episode, recipient, kind, expires))}"
            for kind in ("view", "ack")
        ]
        return urls[0], urls[1], expires


def mail_text(view: str, ack: str, expires: datetime) -> str:
    """The block appended to an alert mail."""
    return (
        "\n\nACT ON THIS ALERT\n"
        f"View the alert: {view}\n"
        f"Acknowledge it: {ack}\n"
        "Opening a link changes nothing: the acknowledge page asks you to confirm. "
        f"The links expire on {expires.strftime('%d %B %Y at %H:%M')} UTC.\n"
    )
