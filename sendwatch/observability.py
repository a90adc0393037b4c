"""Metrics (Prometheus) and structured logging (structlog, JSON) shared by the services."""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

EVENTS_CONSUMED = Counter(
    "sendwatch_events_consumed", "Messages taken from the bus", ["service", "topic"]
)
EVENTS_APPLIED = Counter(
    "sendwatch_events_applied", "Distinct events applied to the service's state", ["service"]
)
EVENTS_DUPLICATE = Counter(
    "sendwatch_events_duplicate", "Redelivered or resent events skipped by id", ["service"]
)
EVENTS_REJECTED = Counter(
    "sendwatch_events_rejected",
    "Invalid input sent to the dead-letter topic",
    ["service", "reason"],
)
PROCESSING_LATENCY = Histogram(
    "sendwatch_processing_latency_seconds",
    "Time from the broker accepting a message to its effects being committed",
    ["service"],
    # fine around the 1 s goal: a quantile is interpolated within its bucket
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 2.5, 5, 10, 30, 60),
)
BATCH_SIZE = Histogram(
    "sendwatch_batch_size",
    "Messages per consumed batch",
    ["service"],
    buckets=(1, 10, 100, 500, 1000, 2500, 5000, 10000),
)
CONSUMER_LAG = Gauge(
    "sendwatch_consumer_lag",
    "Messages not yet committed by the consumer group, per partition",
    ["service", "group", "topic", "partition"],
)
INGEST_EVENTS = Counter(
    "sendwatch_ingest_events", "Events received by ingest", ["source", "outcome"]
)
INGEST_REQUEST_LATENCY = Histogram(
    "sendwatch_ingest_request_seconds",
    "Ingest request handling time (validation and publication)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
ALERTS_FIRED = Counter(
    "sendwatch_alerts_fired",
    "Alerts raised (new alerts and re-triggered episodes), by rule id",
    ["rule"],
)
NOTIFICATIONS = Counter(
    "sendwatch_notifications",
    "Alert notifications by channel and outcome (queued, muted, sent, retry, failed)",
    ["channel", "outcome"],
)


def metrics_payload() -> tuple[bytes, str]:
    return generate_latest(), CONTENT_TYPE_LATEST


def configure_logging(service: str, level: str = "INFO") -> None:
    """JSON logs on stderr, one object per line, with the service name on every line."""
    level_name = level.upper()
    logging.basicConfig(stream=sys.stderr, level=level_name, format="%(message)s", force=True)
    for noisy in ("aiokafka", "kafka", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level_name]
        ),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
