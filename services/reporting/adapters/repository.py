"""Reporting's unit of work: snapshot revisions and the inbox in one transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from contracts.snapshots import KpiSnapshot, KpiValue
from sendwatch.inbox import claim_new
from services.reporting.adapters.orm import (
    Benchmark,
    BenchmarkSource,
    KpiRevision,
    Neighbour,
    ProducerState,
    ReportingInbox,
)
from services.reporting.domain.revisions import Key, Stored, key_of, new_revisions, stored_of


def _latest(session: Session, kpi: str | None = None) -> dict[Key, KpiRevision]:
    newest_q = select(
        col(KpiRevision.kpi),
        col(KpiRevision.cycle),
        col(KpiRevision.breakdown),
        func.max(KpiRevision.revision).label("rev"),
    )
    if kpi is not None:
        newest_q = newest_q.where(col(KpiRevision.kpi) == kpi)
    newest = newest_q.group_by(KpiRevision.kpi, KpiRevision.cycle, KpiRevision.breakdown).subquery()
    rows = session.execute(
        select(KpiRevision).join(
            newest,
            (col(KpiRevision.kpi) == newest.c.kpi)
            & (col(KpiRevision.cycle) == newest.c.cycle)
            & (col(KpiRevision.breakdown) == newest.c.breakdown)
            & (col(KpiRevision.revision) == newest.c.rev),
        )
    ).scalars()
    return {(r.kpi, r.cycle, r.breakdown): r for r in rows}


def _stored(r: KpiRevision) -> Stored:
    if r.detail:
        return stored_of(KpiValue.model_validate_json(r.detail), r.sequence)
    return Stored(r.sequence, r.value, r.numerator, r.denominator)


@dataclass(frozen=True)
class Applied:
    """One snapshot applied: for the log line that carries its event id and trace."""

    event_id: str
    producer: str
    sequence: int
    values: int
    new_revisions: int


def apply_snapshots(engine: Engine, snapshots: Sequence[KpiSnapshot]) -> int:
    return len(apply_snapshots_detailed(engine, snapshots))


def apply_snapshots_detailed(engine: Engine, snapshots: Sequence[KpiSnapshot]) -> list[Applied]:
    """Store the new revisions of a batch of snapshots and the inbox in one transaction;
    return what each fresh snapshot added (redeliveries are left out)."""
    applied: list[Applied] = []
    with Session(engine) as session:
        fresh = claim_new(session, ReportingInbox, snapshots)
        if fresh:
            latest = _latest(session)
            stored = {k: _stored(r) for k, r in latest.items()}
            now = datetime.now(UTC)
            for snap in sorted(fresh, key=lambda s: s.data.sequence):
                news = new_revisions(stored, snap)
                applied.append(
                    Applied(
                        snap.id,
                        snap.data.producer,
                        snap.data.sequence,
                        len(snap.data.values),
                        len(news),
                    )
                )
                for v in news:
                    prev = latest.get(key_of(v))
                    row = KpiRevision(
                        kpi=v.kpi,
                        cycle=v.cycle,
                        breakdown=v.breakdown,
                        revision=(prev.revision + 1) if prev else 1,
                        sequence=snap.data.sequence,
                        value=v.value,
                        numerator=v.numerator,
                        denominator=v.denominator,
                        as_of=snap.data.as_of,
                        received_at=now,
                        detail=v.model_dump_json(),
                    )
                    session.add(row)
                    latest[key_of(v)] = row
                    stored[key_of(v)] = stored_of(v, snap.data.sequence)
            for snap in fresh:
                _record_producer(session, snap)
        session.commit()
        return applied


def _record_producer(session: Session, snap: KpiSnapshot) -> None:
    row = session.get(ProducerState, snap.data.producer)
    if row is None:
        row = ProducerState(producer=snap.data.producer, sequence=-1, events_applied=0)
        session.add(row)
    if snap.data.sequence >= row.sequence:
        row.sequence = snap.data.sequence
        row.events_applied = snap.data.events_applied
        row.as_of = snap.data.as_of
        row.watermark = snap.data.watermark
    row.received_at = datetime.now(UTC)


def producer_state(engine: Engine, producer: str) -> ProducerState | None:
    with Session(engine) as session:
        return session.get(ProducerState, producer)


def current_kpis(engine: Engine) -> list[KpiRevision]:
    with Session(engine) as session:
        rows = list(_latest(session).values())
        return sorted(rows, key=lambda r: (r.kpi, r.cycle, r.breakdown))


# --- reads for the dashboard, API and reports -----------------------------------------


@dataclass(frozen=True)
class StoredValue:
    """One stored revision of a KPI value: reporting's revision number (1, 2, ... each
    time the value changed), the snapshot it came from and the value itself."""

    revision: int
    sequence: int
    as_of: datetime | None
    received_at: datetime | None
    value: KpiValue


def _value(r: KpiRevision) -> KpiValue:
    if r.detail:
        return KpiValue.model_validate_json(r.detail)
    return KpiValue(
        kpi=r.kpi,
        cycle=r.cycle,
        breakdown=r.breakdown,
        value=r.value,
        numerator=r.numerator,
        denominator=r.denominator,
    )


def _aware(d: datetime | None) -> datetime | None:
    if d is not None and d.tzinfo is None:
        return d.replace(tzinfo=UTC)  # SQLite hands back naive UTC
    return d


def _stored_value(r: KpiRevision) -> StoredValue:
    return StoredValue(r.revision, r.sequence, _aware(r.as_of), _aware(r.received_at), _value(r))


def latest_values(engine: Engine, kpi: str | None = None) -> list[StoredValue]:
    """The latest revision of every (kpi, cycle, breakdown), or of one KPI's."""
    with Session(engine) as session:
        rows = _latest(session, kpi).values()
        return sorted(
            (_stored_value(r) for r in rows),
            key=lambda s: (s.value.kpi, s.value.cycle, s.value.breakdown),
        )


def value_history(
    engine: Engine, kpi: str, cycle: str | None = None, breakdown: str | None = None
) -> list[StoredValue]:
    """Every stored revision of one KPI's values, oldest first."""
    with Session(engine) as session:
        q = select(KpiRevision).where(col(KpiRevision.kpi) == kpi)
        if cycle is not None:
            q = q.where(col(KpiRevision.cycle) == cycle)
        if breakdown is not None:
            q = q.where(col(KpiRevision.breakdown) == breakdown)
        q = q.order_by(KpiRevision.cycle, KpiRevision.breakdown, KpiRevision.revision)  # type: ignore[arg-type]
        return [_stored_value(r) for r in session.execute(q).scalars()]


def data_version(engine: Engine, kpi: str | None = None) -> int:
    """Grows whenever a revision (of ``kpi``) is stored (cache key for published views);
    an index on (kpi, id) answers it for one KPI without a scan."""
    stmt = select(func.max(KpiRevision.id))
    if kpi is not None:
        stmt = stmt.where(col(KpiRevision.kpi) == kpi)
    with Session(engine) as session:
        return int(session.execute(stmt).scalar() or 0)


def read_marks(
    engine: Engine, kpis: Sequence[str], producer: str
) -> tuple[dict[str, int], ProducerState | None]:
    """What a read of ``kpis`` checks first, in one session: each KPI's data version (as
    :func:`data_version`) and the producer's state (the date of the data).  One session,
    not one per KPI and one for the state: on PostgreSQL each is a pool check-out with
    its ping, a query and a rollback."""
    with Session(engine) as session:
        if len(kpis) == 1:  # max() alone reads one index entry; grouped, every one
            one = session.execute(
                select(func.max(KpiRevision.id)).where(col(KpiRevision.kpi) == kpis[0])
            ).scalar()
            versions = {kpis[0]: int(one or 0)}
        else:
            versions = dict.fromkeys(kpis, 0)
            rows = session.execute(
                select(col(KpiRevision.kpi), func.max(KpiRevision.id))
                .where(col(KpiRevision.kpi).in_(list(kpis)))
                .group_by(KpiRevision.kpi)
            )
            versions.update((kpi, int(v or 0)) for kpi, v in rows)
        return versions, session.get(ProducerState, producer)


def producer_states(engine: Engine) -> list[ProducerState]:
    with Session(engine) as session:
        return list(session.execute(select(ProducerState)).scalars())


# --- benchmarks ------------------------------------------------------------------------


def replace_benchmarks(
    engine: Engine,
    dataset: str,
    rows: Iterable[Benchmark],
    neighbours: dict[str, list[str]],
    source: str,
) -> int:
    """Replace one dataset's rows and the statistical-neighbour lists in one transaction."""
    with Session(engine) as session:
        session.execute(Benchmark.__table__.delete().where(Benchmark.dataset == dataset))  # type: ignore[attr-defined]
        n = 0
        for row in rows:
            session.add(row)
            n += 1
        if neighbours:
            session.execute(Neighbour.__table__.delete())  # type: ignore[attr-defined]
            for la, names in neighbours.items():
                for rank, name in enumerate(names, start=1):
                    session.add(Neighbour(la_name=la, rank=rank, neighbour=name))
        src = session.get(BenchmarkSource, dataset)
        if src is None:
            src = BenchmarkSource(
                dataset=dataset, source=source, rows=n, loaded_at=datetime.now(UTC)
            )
            session.add(src)
        src.source, src.rows, src.loaded_at = source[:400], n, datetime.now(UTC)
        session.commit()
        return n


def benchmark_rows(engine: Engine, dataset: str, year: int | None = None) -> list[Benchmark]:
    with Session(engine) as session:
        q = select(Benchmark).where(col(Benchmark.dataset) == dataset)
        if year is not None:
            q = q.where(col(Benchmark.time_period) == year)
        return list(session.execute(q).scalars())


def neighbours_of(engine: Engine, la_name: str) -> list[str]:
    with Session(engine) as session:
        q = select(Neighbour).where(Neighbour.la_name == la_name).order_by(Neighbour.rank)  # type: ignore[arg-type]
        return [n.neighbour for n in session.execute(q).scalars()]


def benchmark_source(engine: Engine, dataset: str) -> BenchmarkSource | None:
    with Session(engine) as session:
        return session.get(BenchmarkSource, dataset)
