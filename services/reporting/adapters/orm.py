"""Tables owned by the reporting service (prefix ``reporting_``)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel


class KpiRevision(SQLModel, table=True):
    __tablename__ = "reporting_kpi_revision"

    id: int | None = Field(default=None, primary_key=True)
    kpi: str = Field(max_length=64, index=True)
    cycle: str = Field(max_length=32)
    breakdown: str = Field(max_length=80)
    revision: int
    sequence: int
    value: float | None = None
    numerator: int | None = None
    denominator: int | None = None
    as_of: datetime | None = None
    received_at: datetime
    detail: str | None = None  # the full KpiValue (target, RAG, closed, extra) as JSON


class ProducerState(SQLModel, table=True):
    __tablename__ = "reporting_producer_state"

    producer: str = Field(primary_key=True, max_length=32)
    sequence: int
    events_applied: int
    as_of: datetime | None = None
    watermark: datetime | None = None
    received_at: datetime | None = None  # wall time the latest snapshot was applied


class ReportingInbox(SQLModel, table=True):
    __tablename__ = "reporting_inbox"

    event_id: str = Field(primary_key=True, max_length=128)
    processed_at: datetime


class Benchmark(SQLModel, table=True):
    """A row of DfE's published EHC plan statistics (``sendwatch load-benchmarks``)."""

    __tablename__ = "reporting_benchmark"

    id: int | None = Field(default=None, primary_key=True)
    dataset: str = Field(max_length=64)
    time_period: int
    geographic_level: str = Field(max_length=32)
    area_code: str = Field(max_length=16)
    area_name: str = Field(max_length=80)
    region_name: str | None = Field(default=None, max_length=80)
    plans: int | None = None
    plans_ex: int | None = None
    within_20_weeks: int | None = None
    within_20_weeks_ex: int | None = None
    pc_within_20_weeks: float | None = None
    pc_within_20_weeks_ex: float | None = None
    over_52_weeks: int | None = None


class Neighbour(SQLModel, table=True):
    __tablename__ = "reporting_neighbour"

    la_name: str = Field(primary_key=True, max_length=80)
    rank: int = Field(primary_key=True)
    neighbour: str = Field(max_length=80)


class BenchmarkSource(SQLModel, table=True):
    __tablename__ = "reporting_benchmark_source"

    dataset: str = Field(primary_key=True, max_length=64)
    source: str = Field(max_length=400)
    rows: int
    loaded_at: datetime


class SignInSession(SQLModel, table=True):
    """A signed-in browser: the digest of its session id (the cookie holds the id itself,
    never the token), who it is and until when.  In the database, so that sign-out in
    one reporting process ends the session in every one, and a restart keeps it."""

    __tablename__ = "reporting_session"

    digest: str = Field(primary_key=True, max_length=64)
    principal: str = Field(max_length=80)
    roles: str = Field(max_length=200)  # comma-separated
    csrf: str = Field(max_length=64)
    expires: float = Field(index=True)  # Unix time


class SignInFailure(SQLModel, table=True):
    """A failed sign-in, by a keyed digest of the client address (no address is kept)."""

    __tablename__ = "reporting_sign_in_failure"

    id: int | None = Field(default=None, primary_key=True)
    address: str = Field(max_length=64, index=True)
    at: float  # Unix time
