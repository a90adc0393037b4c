"""Runtime configuration, from environment variables (documented in the README)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

SERVICE_PORTS = {"reporting": 8000, "ingest": 8001, "timeliness": 8002, "alerts": 8003}


def service_ports() -> dict[str, int]:
    """Default ports, each overridable with SENDWATCH_<SERVICE>_PORT."""
    return {
        name: int(os.environ.get(f"SENDWATCH_{name.upper()}_PORT", port))
        for name, port in SERVICE_PORTS.items()
    }


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _opt(name: str) -> str | None:
    return os.environ.get(name) or None


def dev_mode(env: Mapping[str, str] | None = None) -> bool:
    """``SENDWATCH_DEV=1``: the shipped development keys and tokens are allowed
    (``sendwatch up`` and the test fixtures set it; a deployment never does)."""
    value = (os.environ if env is None else env).get("SENDWATCH_DEV", "")
    return value.strip().lower() in ("1", "true", "yes")


@dataclass(frozen=True)
class Settings:
    kafka_bootstrap: str = field(
        default_factory=lambda: os.environ.get("SENDWATCH_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    )
    database_url: str | None = field(
        default_factory=lambda: os.environ.get("SENDWATCH_DATABASE_URL") or None
    )
    var_dir: Path = field(
        default_factory=lambda: Path(os.environ.get("SENDWATCH_VAR_DIR", "var")).resolve()
    )
    session_timeout_ms: int = field(
        default_factory=lambda: _int("SENDWATCH_KAFKA_SESSION_TIMEOUT_MS", 10_000)
    )
    batch_max_records: int = field(default_factory=lambda: _int("SENDWATCH_BATCH_MAX", 5_000))
    batch_timeout_ms: int = field(default_factory=lambda: _int("SENDWATCH_BATCH_TIMEOUT_MS", 100))
    ingest_max_body_bytes: int = field(
        default_factory=lambda: _int("SENDWATCH_INGEST_MAX_BODY_BYTES", 16 * 1024 * 1024)
    )
    ingest_max_batch: int = field(
        default_factory=lambda: _int("SENDWATCH_INGEST_MAX_BATCH", 10_000)
    )
    lag_interval_s: float = field(
        default_factory=lambda: float(os.environ.get("SENDWATCH_LAG_INTERVAL_S", "5"))
    )
    # auto: an idempotent producer (enable_idempotence, acks=all) wherever the broker
    # supports it (Apache Kafka does; Tansu does not); on | off force it.
    kafka_idempotence: str = field(
        default_factory=lambda: os.environ.get("SENDWATCH_KAFKA_IDEMPOTENCE", "auto").lower()
    )
    # Replication of the project's topics; 0 = min(3, brokers in the cluster), with
    # min.insync.replicas=2 at replication factor 3.
    kafka_replication_factor: int = field(
        default_factory=lambda: _int("SENDWATCH_KAFKA_REPLICATION_FACTOR", 0)
    )
    # How long a publish may wait for the brokers' acknowledgement before ingest answers
    # 503 (e.g. no in-sync quorum); Kafka clients' default is 40 s.
    kafka_request_timeout_ms: int = field(
        default_factory=lambda: _int("SENDWATCH_KAFKA_REQUEST_TIMEOUT_MS", 15_000)
    )
    # Kafka client security, passed to every aiokafka / FastStream client (bus.py).
    kafka_security_protocol: str = field(
        default_factory=lambda: os.environ.get("SENDWATCH_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")
    )
    kafka_sasl_mechanism: str | None = field(
        default_factory=lambda: _opt("SENDWATCH_KAFKA_SASL_MECHANISM")
    )
    kafka_sasl_username: str | None = field(
        default_factory=lambda: _opt("SENDWATCH_KAFKA_SASL_USERNAME")
    )
    kafka_sasl_password: str | None = field(
        default_factory=lambda: _opt("SENDWATCH_KAFKA_SASL_PASSWORD"), repr=False
    )
    # Poison messages: a message that still fails on its own after this many tries is
    # dead-lettered (reason unprocessable) instead of stopping its partition.
    poison_max_tries: int = field(default_factory=lambda: _int("SENDWATCH_POISON_MAX_TRIES", 3))
    # ... but after this many dead-lettered in a row with nothing applied, the state (not
    # the data) is broken: stop dead-lettering, rewind, and report the consumer failing.
    poison_max_streak: int = field(default_factory=lambda: _int("SENDWATCH_POISON_MAX_STREAK", 10))
    # /healthz: 503 when a consumer has lag but has committed nothing for this long, or
    # has failed this many batches in a row.
    health_stall_s: float = field(
        default_factory=lambda: float(os.environ.get("SENDWATCH_HEALTH_STALL_S", "120"))
    )
    health_max_failures: int = field(
        default_factory=lambda: _int("SENDWATCH_HEALTH_MAX_FAILURES", 3)
    )

    def db_url_for(self, service: str) -> str:
        """PostgreSQL when SENDWATCH_DATABASE_URL is set, else a SQLite file per service."""
        if self.database_url:
            return self.database_url
        self.var_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{self.var_dir / f'{service}.db'}"


def get_settings() -> Settings:
    return Settings()
