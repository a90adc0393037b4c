"""``sendwatch soak``: the whole stack under SIGKILLs, compared with a clean run.

The stream is the simulated county (every source with its own key, a clock tick at the
end of each simulated day), posted through ingest's HTTP API as fast as ingest takes it;
``--events`` beyond one county-year are made of further simulated counties (seeds
``seed+1, seed+2 ...``; every source but the programme office, which is one per
partnership) folded into the same days.  The stream is cut at the end of the first
simulated day on which it reaches ``--events``.

Two runs of the same events, each on a fresh broker, fresh databases and a real SMTP
sink (``cli/mailsink.py``):

1. **clean**: the four services run undisturbed;
2. **faults**: while the events are posted, timeliness, reporting and alerts are killed
   with SIGKILL ``--kills`` times in all, at moments and in an order drawn from ``--seed``,
   and each is restarted at once.

When both have settled (no consumer lag, nothing left in the outbox, the results stable)
the soak compares what each run serves: timeliness's caseload and its DfE exports
(timeliness, requests, caseload), every KPI value reporting serves (every breakdown,
the operational view), and the mail: every notification of the faults run was sent
exactly once (one message per Message-ID) and the two runs sent the same notifications.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from cli.kafka import KafkaCluster, start_kafka
from cli.mailsink import MailSink
from cli.stack import Stack
from cli.tansu import TansuBroker, free_port, start_tansu

VICTIMS = ("timeliness", "reporting", "alerts")
SERVICES = ("timeliness", "alerts", "reporting", "ingest")
OPERATIONAL = {"Authorization": "Bearer dev-operational-token"}
CLOCK_KEY = "dev-clock-key"
CASE_KEY = "dev-case-management-key"
NHS_KEY = "dev-nhs-community-key"
PLACEMENTS_KEY = "dev-placements-key"
PMO_KEY = "dev-pmo-key"
_LONDON = ZoneInfo("Europe/London")

Say = Callable[[str], Any]


# --- the stream ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Batch:
    """One POST to ingest: events of one source, with that source's key."""

    key: str
    events: list[dict[str, Any]]


def _end_of_day(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, 23, 59, 59, tzinfo=_LONDON).astimezone(UTC)


SOURCES = ("county", "cases")  # every simulated source, or the case events (+ PMO) only


def _county_sources(
    seed: int, start: date, end: date, primary: bool, sources: str = "county"
) -> list[tuple[str, Any]]:
    from services.ingest.sources.simulator import nhs
    from services.ingest.sources.simulator.model import timed_events
    from services.ingest.sources.simulator.placements import placement_events
    from services.ingest.sources.simulator.programme import programme_events
    from services.ingest.sources.simulator.streams import domain_streams

    out: list[tuple[str, Any]] = [(CASE_KEY, timed_events(seed, start, end, history_from=start))]
    if sources == "county":
        out += [(st.api_key, st.events(seed, start, end)) for st in domain_streams()]
        out.append((NHS_KEY, nhs.timed_events(seed, start, end, history_from=start)))
        out.append((PLACEMENTS_KEY, placement_events(seed, start, end)))
    if primary:
        out.append((PMO_KEY, programme_events(seed, start, end)))
    return out


def soak_stream(
    events: int,
    seed: int = 42,
    start: date = date(2026, 4, 1),
    days: int = 365,
    batch: int = 500,
    sources: str = "county",
) -> list[Batch]:
    """At least ``events`` events (ticks included) in posting order, cut at a day's end.

    Raises ValueError when ``days`` of counties cannot reach ``events`` (add days)."""
    start_dt = datetime(start.year, start.month, start.day, tzinfo=UTC)
    end = start + timedelta(days=days)
    counties = 0
    # A simulated county-year is about 69,000 events: add counties until there are enough.
    keys: list[str] = []
    history: dict[str, list[Any]] = {}
    daily: dict[int, dict[str, list[Any]]] = {}
    total = days  # the ticks
    while total < events:
        if counties >= 50:
            raise ValueError(f"{events} events need more than 50 simulated counties")
        for key, stream in _county_sources(seed + counties, start, end, counties == 0, sources):
            if key not in keys:
                keys.append(key)
            for item in stream:
                total += 1
                if item.time < start_dt:
                    history.setdefault(key, []).append(item)
                    continue
                day = (item.time.astimezone(_LONDON).date() - start).days
                if 0 <= day < days:
                    daily.setdefault(day, {}).setdefault(key, []).append(item)
        counties += 1

    def order(items: list[Any]) -> list[dict[str, Any]]:
        return [i.event for i in sorted(items, key=lambda i: (i.time, i.event["id"]))]

    def chunks(key: str, evs: list[dict[str, Any]]) -> Iterator[Batch]:
        for i in range(0, len(evs), batch):
            yield Batch(key, evs[i : i + batch])

    out: list[Batch] = []
    count = 0
    for key in keys:
        evs = order(history.get(key, []))
        out.extend(chunks(key, evs))
        count += len(evs)
    for day in range(days):
        for key in keys:
            evs = order(daily.get(day, {}).get(key, []))
            out.extend(chunks(key, evs))
            count += len(evs)
        d = start + timedelta(days=day)
        tick = {
            "id": f"sim-tick-{seed}-{d.isoformat()}",
            "source": "clock",
            "type": "clock.tick",
            "subject": "clock:simulated",
            "time": _end_of_day(d).isoformat(),
            "data": {},
        }
        out.append(Batch(CLOCK_KEY, [tick]))
        count += 1
        if count >= events:
            return out
    raise ValueError(f"{days} simulated days give {count} events, fewer than {events}")


def stream_size(batches: list[Batch]) -> int:
    return sum(len(b.events) for b in batches)


def last_day(batches: list[Batch]) -> date:
    return datetime.fromisoformat(batches[-1].events[-1]["time"]).date()


# --- one run --------------------------------------------------------------------------------


@dataclass
class RunResult:
    name: str
    events: int = 0
    kills: list[tuple[float, str]] = field(default_factory=list)  # (seconds in, service)
    statuses: Counter[int] = field(default_factory=Counter)  # ingest's answers
    server_errors: int = 0  # 5xx from any service, ingest's and the final reads
    rejected: int = 0
    duration_s: float = 0.0
    settle_s: float = 0.0
    snapshot: dict[str, Any] = field(default_factory=dict)
    mail_ids: Counter[str] = field(default_factory=Counter)
    mails: list[tuple[str, str, str]] = field(default_factory=list)  # (id, to, subject)


@dataclass
class SoakOptions:
    events: int = 200_000
    kills: int = 20
    seed: int = 42
    broker: str = "tansu"  # tansu | kafka
    database: str | None = None  # a PostgreSQL server URL (fresh databases); None: SQLite
    var_dir: Path = Path("var/soak")
    batch: int = 500
    # how long the stack may take to catch up after the last post; None: 900 s plus
    # 20 ms an event (timeliness's census makes a county's stream slow to apply: see
    # the performance issue's incremental census)
    settle_timeout_s: float | None = None
    start: date = date(2026, 4, 1)
    days: int = 365
    sources: str = "county"  # county: every simulated source; cases: case events + PMO
    strict: bool = False  # also fail on revision counters and on which mails were sent

    def settle_timeout(self) -> float:
        if self.settle_timeout_s is not None:
            return self.settle_timeout_s
        return 900.0 + 0.02 * self.events


class _Database:
    """A fresh database per run: SQLite files in the run's directory, or a new
    PostgreSQL database on the server ``url`` names (dropped afterwards)."""

    def __init__(self, server: str | None, run: str) -> None:
        self.server = server
        self.url: str | None = None
        if server:
            import psycopg

            self.name = f"sendwatch_soak_{run}_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(_admin(server), autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{self.name}"')
            self.url = f"{_admin(server).rsplit('/', 1)[0]}/{self.name}"

    def drop(self) -> None:
        if self.server and self.url:
            import psycopg

            with psycopg.connect(_admin(self.server), autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def _admin(server: str) -> str:
    for prefix in ("postgresql+psycopg://", "postgres://"):
        if server.startswith(prefix):
            server = "postgresql://" + server[len(prefix) :]
    return server


class _Poster:
    def __init__(self, url: str, batches: list[Batch], result: RunResult) -> None:
        self.url = url
        self.batches = batches
        self.result = result
        self.posted = 0
        self.done = threading.Event()
        self.error: list[str] = []

    def run(self) -> None:
        try:
            with httpx.Client(timeout=120) as client:
                for b in self.batches:
                    delay = 0.2
                    while True:
                        try:
                            r = client.post(
                                self.url,
                                json={"events": b.events},
                                headers={"Authorization": f"Bearer {b.key}"},
                            )
                            status = r.status_code
                        except httpx.TransportError:
                            status = -1
                        self.result.statuses[status] += 1
                        if status >= 500:
                            self.result.server_errors += 1
                        if status not in (-1, 429, 502, 503, 504):
                            break
                        time.sleep(delay)
                        delay = min(delay * 2, 5.0)
                    if status != 200:
                        raise RuntimeError(f"ingest answered {status}: {r.text[:300]}")
                    body = r.json()
                    self.result.rejected += int(body.get("rejected", 0))
                    self.posted += len(b.events)
        except BaseException as exc:  # noqa: BLE001 - reported by the run
            self.error.append(repr(exc))
        finally:
            self.done.set()


def _kill_plan(total: int, kills: int, seed: int) -> list[tuple[int, str]]:
    """``kills`` (events posted, victim) pairs, every victim at least once (if kills >= 3)."""
    rng = random.Random(f"soak-kills/{seed}")
    points = sorted(rng.randrange(total // 20, total * 19 // 20) for _ in range(kills))
    victims = [VICTIMS[i % len(VICTIMS)] for i in range(kills)]
    rng.shuffle(victims)
    return list(zip(points, victims, strict=True))


def _kill(stack: Stack, name: str) -> None:
    proc = stack.children[name]
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def _get(port: int, path: str, result: RunResult, **params: Any) -> httpx.Response:
    r = httpx.get(f"http://127.0.0.1:{port}{path}", headers=OPERATIONAL, params=params, timeout=300)
    if r.status_code >= 500:
        result.server_errors += 1
    r.raise_for_status()
    return r


# Wall-clock stamps, and the caseload's publication counter (one per transaction that
# published a snapshot: how the stream was cut into batches, not what it holds).
_VOLATILE = {
    "computed_at",
    "published_at",
    "received_at",
    "updated_at",
    "generated_at",
    "sequence",
    "as_of",  # of the snapshot that carried a value: how the stream was cut into batches
}


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in sorted(value.items()) if k not in _VOLATILE}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def snapshot(stack: Stack, result: RunResult, first: date, last: date) -> dict[str, Any]:
    """What the run serves: caseload, DfE exports, every KPI value reporting serves."""
    t = stack.ports["timeliness"]
    out: dict[str, Any] = {"caseload": _strip(_get(t, "/v1/caseload", result).json())}
    for year in range(first.year, last.year + 1):
        for name in ("dfe-timeliness", "dfe-requests"):
            out[f"{name}/{year}"] = _get(t, f"/v1/exports/{name}", result, year=year).text
    for census in sorted({date(y, 1, 16) for y in range(first.year, last.year + 1)} | {last}):
        out[f"dfe-caseload/{census}"] = _get(
            t, "/v1/exports/dfe-caseload", result, date=census.isoformat()
        ).text
    values = _get(stack.ports["reporting"], "/v1/kpis", result, breakdown="*").json()["kpis"]
    out["kpis"] = sorted(
        (_strip(v) for v in values), key=lambda v: json.dumps(v, sort_keys=True, default=str)
    )
    return out


def _lag(stack: Stack) -> int:
    total = 0
    for name in SERVICES:
        r = httpx.get(f"http://127.0.0.1:{stack.ports[name]}/metrics", timeout=10)
        for line in r.text.splitlines():
            if line.startswith("sendwatch_consumer_lag{"):
                total += int(float(line.rsplit(" ", 1)[1]))
    return total


def _pending_mail(stack: Stack) -> int:
    """Mail the relay still has to send now: pending rows not held for quiet hours or a
    digest (a held row waits for an event time the finished stream may never reach;
    both runs hold the same rows, so the comparison is unaffected)."""
    waiting, offset = 0, 0
    while True:
        r = httpx.get(
            f"http://127.0.0.1:{stack.ports['alerts']}/v1/outbox",
            headers=OPERATIONAL,
            params={"status": "pending", "limit": 1000, "offset": offset},
            timeout=30,
        )
        r.raise_for_status()
        rows = r.json()["notifications"]
        waiting += sum(1 for n in rows if not n.get("held_until"))
        if len(rows) < 1000:
            return waiting
        offset += len(rows)


def _settle(
    stack: Stack,
    sink: MailSink,
    result: RunResult,
    first: date,
    last: date,
    timeout: float,
    say: Say | None = None,
    quiet_s: float = 60.0,
) -> dict[str, Any]:
    """Wait until nothing moves: no mail pending and the same results twice in a row,
    with no consumer lag, or with the same small lag for ``quiet_s`` seconds (a commit
    lost to a rebalance after its batch was stored leaves a lag of a message or two
    until the next message arrives; its effects are in the database, and the inbox
    makes the redelivery a no-op)."""
    deadline = time.monotonic() + timeout
    previous: tuple[Any, int, int] | None = None
    since = time.monotonic()
    told = time.monotonic()
    while time.monotonic() < deadline:
        try:
            lag = _lag(stack)
            pending = _pending_mail(stack)
            if say is not None and time.monotonic() - told > 30:
                told = time.monotonic()
                say(f"  {result.name}: settling: lag {lag:,}, mail pending {pending}")
            if pending == 0:
                current = (snapshot(stack, result, first, last), len(sink.messages), lag)
                if current == previous:
                    if lag == 0 or (lag <= 10 and time.monotonic() - since >= quiet_s):
                        return current[0]
                else:
                    previous, since = current, time.monotonic()
            else:
                previous = None
        except httpx.HTTPError:
            previous = None
        time.sleep(4)
    raise TimeoutError(f"{result.name}: not settled after {timeout:.0f}s")


def run_once(
    name: str,
    batches: list[Batch],
    options: SoakOptions,
    kills: int,
    say: Say,
    database: str | None,
) -> RunResult:
    """One run on a fresh stack, on ``database`` (a PostgreSQL server URL; None: SQLite)."""
    result = RunResult(name, events=stream_size(batches))
    var = (options.var_dir / name).resolve()
    (var / "logs").mkdir(parents=True, exist_ok=True)
    db = _Database(database, name)
    saved = dict(os.environ)
    broker: TansuBroker | KafkaCluster
    if options.broker == "kafka":
        broker = start_kafka(1, var / "kafka", log_file=var / "logs" / "kafka.log")
    else:
        broker = start_tansu(log_file=var / "logs" / "tansu.log")
    sink = MailSink().start()
    os.environ.update(
        SENDWATCH_KAFKA_SESSION_TIMEOUT_MS="6000",
        SENDWATCH_LAG_INTERVAL_S="1",
        SENDWATCH_NOTIFY_POLL_S="0.5",
        SENDWATCH_SMTP_HOST="127.0.0.1",
        SENDWATCH_SMTP_PORT=str(sink.port),
        SENDWATCH_SMTP_TLS="none",
    )
    if db.url:
        os.environ["SENDWATCH_DATABASE_URL"] = db.url
    else:
        os.environ.pop("SENDWATCH_DATABASE_URL", None)
    stack = Stack(
        var_dir=var,
        bootstrap=broker.bootstrap,
        ports={n: free_port() for n in SERVICES},
    )
    began = time.monotonic()
    try:
        for service in SERVICES:
            stack.start_service(service)
        stack.wait_healthy(timeout=180)
        poster = _Poster(f"http://127.0.0.1:{stack.ports['ingest']}/v1/events", batches, result)
        thread = threading.Thread(target=poster.run, daemon=True)
        thread.start()
        for at, victim in _kill_plan(result.events, kills, options.seed) if kills else []:
            while poster.posted < at and not poster.done.is_set():
                time.sleep(0.02)
            _kill(stack, victim)
            result.kills.append((round(time.monotonic() - began, 1), victim))
            say(f"  {name}: SIGKILL {victim} at {poster.posted:,} events posted")
            stack.start_service(victim)
            stack.wait_healthy(timeout=180)
        thread.join()
        if poster.error:
            raise RuntimeError(f"{name}: posting failed: {poster.error[0]}")
        say(f"  {name}: {poster.posted:,} events posted in {time.monotonic() - began:.0f}s")
        first = options.start
        settle_from = time.monotonic()
        result.snapshot = _settle(
            stack, sink, result, first, last_day(batches), options.settle_timeout(), say
        )
        result.settle_s = time.monotonic() - settle_from
        result.duration_s = time.monotonic() - began
        for msg in sink.messages:
            mid = str(msg.get("Message-ID", ""))
            result.mail_ids[mid] += 1
            result.mails.append((mid, str(msg.get("To", "")), str(msg.get("Subject", ""))))
        (var / "result.json").write_text(
            json.dumps({"snapshot": result.snapshot, "mails": result.mails}, indent=1)
        )
        return result
    finally:
        stack.stop()
        sink.stop()
        broker.stop()
        os.environ.clear()
        os.environ.update(saved)
        db.drop()


# How many times a value was revised on its way (reporting's revision, timeliness's
# upstream_revision) depends on how the stream fell into batches and how the consumer
# interleaved its topics: two clean runs differ there too.  The values do not.
PATH_FIELDS = ("revision", "upstream_revision")


def compare(
    clean: RunResult, faults: RunResult, strict: bool = False, notes: list[str] | None = None
) -> list[str]:
    """Every difference between the runs, and every notification sent more than once.
    The revision counters of KPI values and which notifications were sent (both depend
    on batching, even between two clean runs) are ``notes`` unless ``strict``."""
    problems: list[str] = []
    notes = notes if notes is not None else []
    for key in sorted(set(clean.snapshot) | set(faults.snapshot)):
        a, b = clean.snapshot.get(key), faults.snapshot.get(key)
        if a == b:
            continue
        if key == "kpis" and isinstance(a, list) and isinstance(b, list):
            if strict:
                problems.append(_kpi_differences(a, b))
                continue
            a, b, zeros = _without_one_sided_zeros(a, b)
            if zeros:
                notes.append(
                    f"{zeros} zero values served by one run only (a breakdown that had a case "
                    "only between two batches: zero there, absent here; the same figure)"
                )
            if a == b:
                continue
            bare_a = [{k: v for k, v in x.items() if k not in PATH_FIELDS} for x in a]
            bare_b = [{k: v for k, v in x.items() if k not in PATH_FIELDS} for x in b]
            if bare_a != bare_b:
                problems.append(_kpi_differences(bare_a, bare_b))
            else:
                notes.append(_kpi_differences(a, b).replace("kpis:", "KPI revision counters:"))
        else:
            problems.append(f"{key}: differs ({str(a)[:200]!r} vs {str(b)[:200]!r})")
    for run in (clean, faults):
        twice = {mid: n for mid, n in run.mail_ids.items() if n != 1}
        if twice:
            problems.append(
                f"{run.name}: {len(twice)} notifications sent more than once, "
                f"e.g. {list(twice)[:3]}"
            )
    # The Message-ID carries the outbox row's number, which depends on the order the rows
    # were written in; the alert, the recipient and the subject say which notification.
    # A digest holds what was due when it was sent, so how the items fall into digests
    # depends on timing: digests are compared by the number of items each recipient got.
    # Which notices are sent depends on the event time alerts holds when it judges them:
    # the soak posts a year of simulated time in minutes, so a restart of a few seconds
    # spans weeks, and notices older than the 14-day backfill horizon by then are
    # historical (sent to nobody), as a backfill's are.  A note unless ``strict``.
    a, b = _notifications(clean.mails), _notifications(faults.mails)
    if a != b:
        missing, extra = sorted((a - b).elements()), sorted((b - a).elements())
        (problems if strict else notes).append(
            f"notifications: {len(missing)} of the clean run's not sent after the kills, "
            f"{len(extra)} sent only then; e.g. {(missing or extra)[:3]}"
        )
    if faults.rejected or clean.rejected:
        problems.append(f"events rejected: clean {clean.rejected}, faults {faults.rejected}")
    return problems


def _is_zero(v: dict[str, Any]) -> bool:
    return (
        v.get("value") in (0, 0.0)
        and v.get("numerator") in (0, None)
        and (v.get("denominator") in (0, None))
    )


def _ident(v: dict[str, Any]) -> tuple[str, str, str]:
    return (str(v.get("kpi")), str(v.get("cycle")), str(v.get("breakdown")))


def _without_one_sided_zeros(
    a: list[dict[str, Any]], b: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    """Both lists without the zero values whose (kpi, cycle, breakdown) the other list
    lacks, and how many were dropped.  A breakdown that held a case only between two
    batches (a need recorded, then corrected) is served as zero where a census or a
    restatement saw it, and is absent where none did: the same figure.  A zero on one
    side and a non-zero on the other is still a difference (a stale value is one)."""
    ka, kb = {_ident(v) for v in a}, {_ident(v) for v in b}
    keep_a = [v for v in a if _ident(v) in kb or not _is_zero(v)]
    keep_b = [v for v in b if _ident(v) in ka or not _is_zero(v)]
    return keep_a, keep_b, len(a) - len(keep_a) + len(b) - len(keep_b)


def _kpi_differences(clean: list[dict[str, Any]], faults: list[dict[str, Any]]) -> str:
    """Which KPI values differ, and in which fields."""
    a = {_ident(v): v for v in clean}
    b = {_ident(v): v for v in faults}
    fields: Counter[str] = Counter()
    kpis: Counter[str] = Counter()
    for k in set(a) & set(b):
        if a[k] != b[k]:
            kpis[k[0]] += 1
            for f in set(a[k]) | set(b[k]):
                if a[k].get(f) != b[k].get(f):
                    fields[f] += 1
    return (
        f"kpis: {len(set(a) - set(b))} values only in the clean run, "
        f"{len(set(b) - set(a))} only after the kills, {sum(kpis.values())} different "
        f"(fields {dict(fields.most_common(6))}; KPIs {dict(kpis.most_common(6))})"
    )


def _notifications(mails: list[tuple[str, str, str]]) -> Counter[tuple[str, str, str]]:
    """Single notifications by (Message-ID without the row number, recipient, subject);
    each digest as its items, counted per recipient (the subject starts with how many)."""
    out: Counter[tuple[str, str, str]] = Counter()
    for mid, to, subject in mails:
        if "-digest-" in mid:
            count = re.match(r"\s*(\d+)", subject)
            out[("digest item", to, "")] += int(count.group(1)) if count else 1
        else:
            out[(re.sub(r"-outbox-[0-9]+-", "-outbox-", mid, count=1), to, subject)] += 1
    return out


@dataclass
class SoakReport:
    events: int
    kills: list[tuple[float, str]]
    cases: int
    open_caseload: int
    kpi_values: int
    notifications: int
    server_errors: int
    clean_s: float
    faults_s: float
    problems: list[str]
    notes: list[str] = field(default_factory=list)
    database: str = "SQLite"  # of the run with kills
    clean_database: str = "SQLite"

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        by = Counter(v for _, v in self.kills)
        return [
            f"events          {self.events:,}",
            f"kills           {len(self.kills)} (SIGKILL; "
            + ", ".join(f"{name} {by[name]}" for name in VICTIMS)
            + ")",
            f"cases           {self.cases:,} ({self.open_caseload:,} open)",
            f"KPI values      {self.kpi_values:,} compared",
            f"notifications   {self.notifications:,}, each sent once",
            f"5xx             {self.server_errors}",
            f"databases       clean run on {self.clean_database}, kills on {self.database}",
            f"duration        clean run {self.clean_s:.0f}s, run with kills {self.faults_s:.0f}s",
            "result          "
            + (
                "identical to the clean run (caseload, DfE exports, KPI values; "
                "every notification sent once)"
                if self.ok
                else "DIFFERENT: " + "; ".join(self.problems)
            ),
            *(f"note            {n}" for n in self.notes),
        ]


def run_soak(options: SoakOptions, say: Say = print) -> SoakReport:
    """A clean run and a run with kills, both on ``options.database``."""
    return run_soaks(options, [options.database], say)[0]


def run_soaks(
    options: SoakOptions, databases: Sequence[str | None], say: Say = print
) -> list[SoakReport]:
    """One clean run on ``options.database`` and a run with kills on each of
    ``databases`` (a PostgreSQL server URL, or None for SQLite), each compared with the
    clean run: what reporting serves and what was mailed depend on the events alone, so
    one clean run on one database is the reference for every database."""
    batches = soak_stream(
        options.events, options.seed, options.start, options.days, options.batch, options.sources
    )
    total = stream_size(batches)

    def label(db: str | None) -> str:
        return "PostgreSQL" if db else "SQLite"

    say(
        f"soak: {total:,} events to {last_day(batches)}, {options.kills} kills, "
        f"seed {options.seed}, {options.broker}, clean run on {label(options.database)}, "
        f"kills on {', '.join(label(db) for db in databases)}"
    )
    clean = run_once("clean", batches, options, 0, say, options.database)
    reports = []
    for n, db in enumerate(databases):
        name = "faults" if len(databases) == 1 else f"faults-{n}-{label(db).lower()}"
        faults = run_once(name, batches, options, options.kills, say, db)
        caseload = faults.snapshot.get("caseload", {})
        notes: list[str] = []
        problems = compare(clean, faults, options.strict, notes)
        reports.append(
            SoakReport(
                events=total,
                kills=faults.kills,
                cases=int(caseload.get("cases", 0)),
                open_caseload=int(caseload.get("open_caseload", 0)),
                kpi_values=len(faults.snapshot.get("kpis", [])),
                notifications=sum(faults.mail_ids.values()),
                server_errors=clean.server_errors + faults.server_errors,
                clean_s=clean.duration_s,
                faults_s=faults.duration_s,
                problems=problems,
                notes=notes,
                database=label(db),
                clean_database=label(options.database),
            )
        )
    return reports
