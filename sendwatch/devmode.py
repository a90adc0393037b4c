"""Refuse to run with the shipped development secrets unless ``SENDWATCH_DEV=1``.

``contracts/sources.yaml`` and ``contracts/tokens.yaml`` ship the hashes of well-known
development keys and tokens (``dev-<source>-key``, ``dev-...-token``), and reporting
falls back to development tokens for its upstream calls.  Anyone who has read the README
knows them, so a service refuses to start while one of them would be accepted or sent,
unless the development flag is set (``sendwatch up``, the benchmark and the test
fixtures set it).  The refusal names each offending setting.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from sendwatch.config import Settings

DEV_SOURCE_KEYS = tuple(
    f"dev-{source}-key"
    for source in ("case-management", "nhs-community", "placements", "sen2-import", "clock")
)
DEV_TOKENS = (
    "dev-alerts-read-token",
    "dev-alerts-ack-token",
    "dev-board-token",
    "dev-operational-token",
    "dev-admin-token",
    "dev-timeliness-read-token",
)
DEV_PSEUDONYM_KEYS = ("bench-pseudonym-key-000000",)
DEV_LINK_SECRET = "dev-alerts-link-secret"  # alerting: the mail links' shipped HMAC key
# Upstream tokens reporting sends, and their development defaults when unset.
USES_TOKENS = frozenset({"timeliness", "alerts", "reporting"})


class DevelopmentSecretsError(RuntimeError):
    """A development key or token is active outside development mode."""


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


_DEV_KEY_HASHES = {_sha(k): k for k in DEV_SOURCE_KEYS}
_DEV_TOKEN_HASHES = {_sha(t): t for t in DEV_TOKENS}


def development_secrets(service: str, env: Mapping[str, str] | None = None) -> list[str]:
    """What in ``service``'s configuration is a development secret, setting by setting."""
    from contracts.sources import load_sources
    from contracts.tokens import load_tokens

    settings = Settings.from_env(env)
    problems: list[str] = []
    if service == "ingest":
        where = settings.files.sources
        registry = load_sources(where)
        for source, source_spec in registry.sources.items():
            if any(h in _DEV_KEY_HASHES for h in source_spec.key_sha256):
                problems.append(
                    f"SENDWATCH_SOURCES_FILE ({where.name}): source {source!r} accepts its "
                    "development key"
                )
    if service in USES_TOKENS:
        where = settings.files.tokens
        tokens = load_tokens(where)
        for name, token_spec in tokens.tokens.items():
            if any(h in _DEV_TOKEN_HASHES for h in token_spec.sha256):
                problems.append(
                    f"SENDWATCH_TOKENS_FILE ({where.name}): token {name!r} is a development token"
                )
    if service == "alerts" and settings.alerts.link_secret == DEV_LINK_SECRET:
        problems.append(
            "SENDWATCH_ALERTS_LINK_SECRET is the development secret of the mail links (or unset)"
        )
    if service == "reporting":
        upstream = {
            "SENDWATCH_TIMELINESS_TOKEN": settings.upstream.timeliness_token,
            "SENDWATCH_ALERTS_TOKEN": settings.upstream.alerts_token,
        }
        for setting, value in upstream.items():
            if value in DEV_TOKENS:
                problems.append(f"{setting} is a development token (or unset)")
    return problems


def dev_pseudonym_key(key: str | None) -> bool:
    return key in DEV_PSEUDONYM_KEYS


def refuse_development_secrets(service: str, env: Mapping[str, str] | None = None) -> None:
    """Raise :class:`DevelopmentSecretsError` naming every development secret in use,
    unless ``SENDWATCH_DEV=1``."""
    if Settings.from_env(env).dev:
        return
    problems = development_secrets(service, env)
    if problems:
        raise DevelopmentSecretsError(
            f"refusing to start {service} with development secrets (replace them, or set "
            "SENDWATCH_DEV=1 on a development machine): " + "; ".join(problems)
        )
