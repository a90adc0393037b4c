"""Deployment configuration: every ``SENDWATCH_*`` environment variable the services read,
in one place (the README's configuration table lists the same names; a test keeps the two
in step).

:meth:`Settings.from_env` is the only function that reads the environment.  A service's
``bootstrap`` calls it once (through :func:`get_settings`) and passes the groups down:
loaders in ``contracts/`` and the adapters take paths and values, never the environment.
A variable that is unset or empty means the default.  ``Settings()`` is the defaults
alone, whatever the environment says.
"""

from __future__ import annotations

import os
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

T = TypeVar("T")

CONTRACTS = Path(__file__).resolve().parents[1] / "contracts"
SERVICE_PORTS = {"reporting": 8000, "ingest": 8001, "timeliness": 8002, "alerts": 8003}


def env(name: str, default: T) -> T:
    """A setting read from the environment variable ``name`` (else ``default``)."""
    return field(default=default, metadata={"env": name})


@dataclass(frozen=True)
class KafkaSettings:
    bootstrap: str = env("SENDWATCH_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    # Consumers: group session (Tansu joins take about half of it), batch size and wait.
    session_timeout_ms: int = env("SENDWATCH_KAFKA_SESSION_TIMEOUT_MS", 10_000)
    batch_max_records: int = env("SENDWATCH_BATCH_MAX", 5_000)
    batch_timeout_ms: int = env("SENDWATCH_BATCH_TIMEOUT_MS", 100)
    # How long the broker may hold a fetch open waiting for data (the clients' default
    # is 500 ms, which Tansu spends in full: half a second on every event's latency).
    fetch_max_wait_ms: int = env("SENDWATCH_KAFKA_FETCH_MAX_WAIT_MS", 100)
    lag_interval_s: float = env("SENDWATCH_LAG_INTERVAL_S", 5.0)
    # auto: an idempotent producer (enable_idempotence, acks=all) wherever the broker
    # supports it (Apache Kafka does; Tansu does not); on | off force it.
    idempotence: str = env("SENDWATCH_KAFKA_IDEMPOTENCE", "auto")
    # Replication of the project's topics; 0 = min(3, brokers in the cluster), with
    # min.insync.replicas=2 at replication factor 3.
    replication_factor: int = env("SENDWATCH_KAFKA_REPLICATION_FACTOR", 0)
    # How long a publish may wait for the brokers' acknowledgement before ingest answers
    # 503 (e.g. no in-sync quorum); Kafka clients' default is 40 s.
    request_timeout_ms: int = env("SENDWATCH_KAFKA_REQUEST_TIMEOUT_MS", 15_000)
    # Several deployments on one cluster (one per local authority, docs/scaling.md):
    # prefixed to every consumer group id, as SENDWATCH_TOPICS_FILE names their topics.
    group_prefix: str = env("SENDWATCH_KAFKA_GROUP_PREFIX", "")
    # Client security, passed to every aiokafka / FastStream client (bus.py).
    security_protocol: str = env("SENDWATCH_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")
    sasl_mechanism: str | None = env("SENDWATCH_KAFKA_SASL_MECHANISM", None)
    sasl_username: str | None = env("SENDWATCH_KAFKA_SASL_USERNAME", None)
    sasl_password: str | None = field(
        default=None, repr=False, metadata={"env": "SENDWATCH_KAFKA_SASL_PASSWORD"}
    )


@dataclass(frozen=True)
class ConsumerSettings:
    """Poison messages and consumer health (sendwatch/consumer.py, sendwatch/health.py)."""

    # A message that still fails on its own after this many tries is dead-lettered
    # (reason unprocessable) instead of stopping its partition ...
    poison_max_tries: int = env("SENDWATCH_POISON_MAX_TRIES", 3)
    # ... but after this many dead-lettered in a row with nothing applied, the state (not
    # the data) is broken: stop dead-lettering, rewind, and report the consumer failing.
    poison_max_streak: int = env("SENDWATCH_POISON_MAX_STREAK", 10)
    # /healthz: 503 when a consumer has lag but has committed nothing for this long, or
    # has failed this many batches in a row.
    health_stall_s: float = env("SENDWATCH_HEALTH_STALL_S", 120.0)
    health_max_failures: int = env("SENDWATCH_HEALTH_MAX_FAILURES", 3)


@dataclass(frozen=True)
class DatabaseSettings:
    # PostgreSQL URL; unset: one SQLite file per service under the var dir.
    url: str | None = env("SENDWATCH_DATABASE_URL", None)


@dataclass(frozen=True)
class PortSettings:
    """Each service's HTTP port (``sendwatch serve`` and ``sendwatch up``)."""

    reporting: int = env("SENDWATCH_REPORTING_PORT", SERVICE_PORTS["reporting"])
    ingest: int = env("SENDWATCH_INGEST_PORT", SERVICE_PORTS["ingest"])
    timeliness: int = env("SENDWATCH_TIMELINESS_PORT", SERVICE_PORTS["timeliness"])
    alerts: int = env("SENDWATCH_ALERTS_PORT", SERVICE_PORTS["alerts"])

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in SERVICE_PORTS}


@dataclass(frozen=True)
class IngestSettings:
    max_body_bytes: int = env("SENDWATCH_INGEST_MAX_BODY_BYTES", 16 * 1024 * 1024)
    max_batch: int = env("SENDWATCH_INGEST_MAX_BATCH", 10_000)
    max_depth: int = env("SENDWATCH_INGEST_MAX_DEPTH", 32)  # nesting levels per event
    # Processes serving POST /v1/events on one port (each validates and publishes on
    # its own core; the work is CPU-bound Python, so one process uses one core).
    workers: int = env("SENDWATCH_INGEST_WORKERS", 1)


@dataclass(frozen=True)
class HttpSettings:
    """Reliability: limits on every service's HTTP requests."""

    max_body_bytes: int = env("SENDWATCH_MAX_BODY_BYTES", 1024 * 1024)  # ingest: its own
    sign_in_max_failures: int = env("SENDWATCH_SIGN_IN_MAX_FAILURES", 5)
    sign_in_lockout_s: float = env("SENDWATCH_SIGN_IN_LOCKOUT_S", 900.0)
    session_hours: float = env("SENDWATCH_SESSION_HOURS", 8.0)


@dataclass(frozen=True)
class FileSettings:
    """The YAML business configuration; each file has a typed loader in ``contracts/``."""

    sources: Path = env("SENDWATCH_SOURCES_FILE", CONTRACTS / "sources.yaml")
    topics: Path = env("SENDWATCH_TOPICS_FILE", CONTRACTS / "topics.yaml")
    tokens: Path = env("SENDWATCH_TOKENS_FILE", CONTRACTS / "tokens.yaml")
    kpis: Path = env("SENDWATCH_KPIS_FILE", CONTRACTS / "kpis.yaml")
    clocks: Path = env("SENDWATCH_CLOCKS_FILE", CONTRACTS / "clocks.yaml")
    authority: Path = env("SENDWATCH_AUTHORITY_FILE", CONTRACTS / "authority.yaml")
    escalation: Path = env("SENDWATCH_ESCALATION_FILE", CONTRACTS / "escalation.yaml")
    suppression: Path = env("SENDWATCH_SUPPRESSION_FILE", CONTRACTS / "suppression.yaml")
    placements: Path = env("SENDWATCH_PLACEMENTS_FILE", CONTRACTS / "placements.yaml")


@dataclass(frozen=True)
class SmtpSettings:
    """Outgoing mail of the alerts service; with no host, email waits in the outbox."""

    host: str | None = env("SENDWATCH_SMTP_HOST", None)
    port: int | None = env("SENDWATCH_SMTP_PORT", None)  # None: 25, 587 or 465 by tls
    tls: str = env("SENDWATCH_SMTP_TLS", "none")  # none | starttls | ssl
    user: str | None = env("SENDWATCH_SMTP_USER", None)
    password: str | None = env("SENDWATCH_SMTP_PASSWORD", None)
    sender: str = env("SENDWATCH_SMTP_FROM", "sendwatch@example.org")


@dataclass(frozen=True)
class RelaySettings:
    """The alerts notification relay: poll interval and retry back-off (doubling)."""

    poll_s: float = env("SENDWATCH_NOTIFY_POLL_S", 2.0)
    retry_base_s: float = env("SENDWATCH_NOTIFY_RETRY_BASE_S", 5.0)
    retry_max_s: float = env("SENDWATCH_NOTIFY_RETRY_MAX_S", 300.0)
    # How long a relay's claim on outbox rows lasts (renewed before each send); a killed
    # process's rows are taken over by another alerts process after it.
    lease_s: float = env("SENDWATCH_NOTIFY_LEASE_S", 60.0)


@dataclass(frozen=True)
class AlertsSettings:
    # Base of the links to the dashboard in notifications.
    dashboard_url: str = env("SENDWATCH_DASHBOARD_URL", "http://127.0.0.1:8000")
    # Backfill horizon in days; None: escalation.yaml's horizon_days.
    horizon_days: int | None = env("SENDWATCH_ALERTS_HORIZON_DAYS", None)
    # --- alerting: signed links in the mail to view and acknowledge an alert ---
    # HMAC key of the links; the shipped default is refused outside development mode.
    link_secret: str = field(
        default="dev-alerts-link-secret",
        repr=False,
        metadata={"env": "SENDWATCH_ALERTS_LINK_SECRET"},
    )
    link_ttl_days: float = env("SENDWATCH_ALERTS_LINK_TTL_DAYS", 14.0)
    # Public base of the link pages (the alerts service); None: SENDWATCH_ALERTS_URL.
    link_url: str | None = env("SENDWATCH_ALERTS_LINK_URL", None)


@dataclass(frozen=True)
class UpstreamSettings:
    """Where reporting reads cases at risk, the DfE exports and the alerts."""

    timeliness_url: str = env("SENDWATCH_TIMELINESS_URL", "http://127.0.0.1:8002")
    alerts_url: str = env("SENDWATCH_ALERTS_URL", "http://127.0.0.1:8003")
    # The well-known development token of contracts/tokens.yaml.
    alerts_token: str = env("SENDWATCH_ALERTS_TOKEN", "dev-alerts-read-token")
    timeliness_token: str = env("SENDWATCH_TIMELINESS_TOKEN", "dev-timeliness-read-token")
    timeout_s: float = env("SENDWATCH_UPSTREAM_TIMEOUT_S", 10.0)


@dataclass(frozen=True)
class TimelinessSettings:
    # Publish hourly wall-clock ticks (production, or ``sendwatch up --no-simulate``).
    wall_clock: bool = env("SENDWATCH_WALL_CLOCK", False)
    # While events stream, the current position of census KPIs (every open span read)
    # is recomputed at most this often, not on every batch; 0: on every batch.
    census_interval_s: float = env("SENDWATCH_CENSUS_INTERVAL_S", 2.0)
    # ... and takes at most this share of the time (the wait grows with its own cost,
    # which grows with the caseload: a replay is not spent re-reading open spans).
    census_budget: float = env("SENDWATCH_CENSUS_BUDGET", 0.1)
    # Benchmark comparison only (`sendwatch bench`, exactly-once cost): skip the inbox.
    # Never a production mode: refused unless SENDWATCH_DEV=1.
    bench_no_inbox: bool = env("SENDWATCH_BENCH_NO_INBOX", False)
    # The consumer group (replicas of one deployment share it; a second, independent
    # deployment on the same topics, e.g. a benchmark variant, takes its own).
    group: str = env("SENDWATCH_TIMELINESS_GROUP", "sendwatch-timeliness")


@dataclass(frozen=True)
class ReportingSettings:
    # Chromium for the insight summary's PDF; None: chromium on PATH or /usr/bin/chromium.
    chromium: str | None = env("SENDWATCH_CHROMIUM", None)


@dataclass(frozen=True)
class Settings:
    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    var_dir: Path = env("SENDWATCH_VAR_DIR", Path("var"))  # SQLite files and logs
    log_level: str = env("SENDWATCH_LOG_LEVEL", "INFO")
    ports: PortSettings = field(default_factory=PortSettings)
    ingest: IngestSettings = field(default_factory=IngestSettings)
    files: FileSettings = field(default_factory=FileSettings)
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    relay: RelaySettings = field(default_factory=RelaySettings)
    alerts: AlertsSettings = field(default_factory=AlertsSettings)
    upstream: UpstreamSettings = field(default_factory=UpstreamSettings)
    timeliness: TimelinessSettings = field(default_factory=TimelinessSettings)
    reporting: ReportingSettings = field(default_factory=ReportingSettings)
    consumer: ConsumerSettings = field(default_factory=ConsumerSettings)
    http: HttpSettings = field(default_factory=HttpSettings)
    # Development mode: the shipped development keys and tokens are allowed (see
    # devmode.py; `sendwatch up` and the test fixtures set it, a deployment never does).
    dev: bool = env("SENDWATCH_DEV", False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Every setting from ``environ`` (default: the process environment)."""
        return _read(cls, os.environ if environ is None else environ)

    @classmethod
    def variables(cls) -> list[str]:
        """The names of every environment variable the settings read."""
        return [name for name, _kind in _variables(cls)]

    def db_url_for(self, service: str) -> str:
        """PostgreSQL when SENDWATCH_DATABASE_URL is set, else a SQLite file per service."""
        if self.database.url:
            return self.database.url
        var_dir = self.var_dir.resolve()
        var_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{var_dir / f'{service}.db'}"


def get_settings() -> Settings:
    """The settings of this process, read from its environment now."""
    return Settings.from_env()


def service_ports() -> dict[str, int]:
    """Each service's port: the defaults, overridden by SENDWATCH_<SERVICE>_PORT."""
    return get_settings().ports.as_dict()


# --- reading ------------------------------------------------------------------------------


def _variables(cls: type[Any]) -> Iterator[tuple[str, Any]]:
    hints = get_type_hints(cls)
    for f in fields(cls):
        kind = hints[f.name]
        if is_dataclass(kind):
            yield from _variables(kind)  # type: ignore[arg-type]
        elif "env" in f.metadata:
            yield f.metadata["env"], kind


def _read(cls: type[T], environ: Mapping[str, str]) -> T:
    hints = get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in fields(cls):  # type: ignore[arg-type]
        kind = hints[f.name]
        if is_dataclass(kind):
            values[f.name] = _read(kind, environ)  # type: ignore[arg-type]
            continue
        name: str | None = f.metadata.get("env")
        raw = environ.get(name, "").strip() if name else ""
        if name and raw:
            values[f.name] = _parse(name, raw, kind)
    return cls(**values)


def _parse(name: str, raw: str, kind: Any) -> Any:
    if get_origin(kind) in (Union, types.UnionType):
        kind = next(k for k in get_args(kind) if k is not type(None))  # X | None
    try:
        if kind is bool:
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError("expected 1 or 0")
        return kind(raw)
    except ValueError as exc:
        raise ValueError(f"{name}={raw!r}: not a valid {kind.__name__} ({exc})") from None
