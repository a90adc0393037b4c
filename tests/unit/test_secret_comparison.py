"""Every comparison of a posted secret (API token, source key, CSRF token, mail-link
signature) takes any text.  ``hmac.compare_digest`` raises TypeError on a non-ASCII
``str``, which the fuzz run reached as a 500 from a mail link's signature; a lone
surrogate fails ``str.encode``.  Each must be refused, not raise."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from contracts.sources import load_sources
from contracts.tokens import load_tokens, same_secret
from services.alerts.adapters.links import BadLink, Claims, Signer
from services.reporting.sessions import csrf_matches

CLAIMS = Claims("R11:K1:2026-05", 1, "sro@example.org", "ack", datetime(2027, 1, 1, tzinfo=UTC))
HOSTILE = ["é", "сек", "\ud800", "x\x00y", "🙂" * 40]


@pytest.mark.parametrize("posted", HOSTILE)
def test_hostile_secrets_are_refused_not_raised(posted: str) -> None:
    assert load_tokens().authenticate(posted) is None
    assert load_sources().authenticate(posted) is None
    assert csrf_matches("expected-token", posted) is False
    signer = Signer("k")
    body, _, _mac = signer.token(CLAIMS).partition(".")
    with pytest.raises(BadLink):
        signer.verify(f"{body}.{posted}")
    with pytest.raises(BadLink):
        signer.verify(f"{posted}.{posted}")


def test_a_genuine_link_still_verifies() -> None:
    signer = Signer("k")
    assert signer.verify(signer.token(CLAIMS)) == CLAIMS


def test_same_secret_is_equality() -> None:
    assert same_secret("abc", "abc") and same_secret("é\ud800", "é\ud800")
    assert not same_secret("abc", "abd") and not same_secret("abc", "ab")
