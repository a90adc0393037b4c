"""Scale figures for ``sendwatch bench``: the England-size SEN2 import, memory against
caseload size, and several local authorities on one broker.

Each ``*_figures`` function runs its own broker and services and returns a plain dict
(JSON-ready), so ``bench --json`` can include it as it is:

* :func:`sen2_figures` - a synthetic SEN2 file of N requests end to end (parse,
  pseudonymise, convert, post, ingest, timeliness state and KPIs committed), against
  raw aiokafka consumption of the same topic; where the time went (posting and
  waiting), CPU seconds and peak RSS of every process;
* :func:`memory_figures` - peak RSS of each service after a small and a large import
  (the caseload grows, the processes should not);
* :func:`las_figures` - N local authorities at once, each with its own topics (its
  topics file), consumer groups (``SENDWATCH_KAFKA_GROUP_PREFIX``), databases, keys and
  pseudonymisation key, sharing one broker; then each alone on a fresh broker, and the
  figures compared.

Memory and CPU are read from ``/proc`` (Linux).
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from cli.stack import Stack
from cli.tansu import free_port
from sendwatch.config import CONTRACTS, get_settings

DEV_OPS_TOKEN = "dev-operational-token"
SEN2_KEY = "dev-sen2-import-key"
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


# --------------------------------------------------------------------------- /proc


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (0 when it has gone)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = text.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process, in kB (empty when it has gone)."""
    out: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                out[name] = int(value.split()[0])
    except OSError:
        pass
    return out


class Meter:
    """Samples the RSS of named processes in a background thread (peak and last)."""

    def __init__(self, pids: dict[str, int], interval: float = 0.25) -> None:
        self.pids = dict(pids)
        self.interval = interval
        self.peak_kb: dict[str, int] = dict.fromkeys(pids, 0)
        self.last_kb: dict[str, int] = dict.fromkeys(pids, 0)
        self.hwm_kb: dict[str, int] = dict.fromkeys(pids, 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="meter", daemon=True)

    def _sample(self) -> None:
        for name, pid in self.pids.items():
            mem = memory_kb(pid)
            if "VmRSS" in mem:
                self.last_kb[name] = mem["VmRSS"]
                self.peak_kb[name] = max(self.peak_kb[name], mem["VmRSS"])
                self.hwm_kb[name] = max(self.hwm_kb[name], mem.get("VmHWM", 0))

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def cpu(self) -> dict[str, float]:
        return {name: cpu_seconds(pid) for name, pid in self.pids.items()}

    def __enter__(self) -> Meter:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def rss_mb(self) -> dict[str, dict[str, float]]:
        return {
            name: {
                "peak": round(self.peak_kb[name] / 1024, 1),
                "hwm": round(self.hwm_kb[name] / 1024, 1),
                "end": round(self.last_kb[name] / 1024, 1),
            }
            for name in self.pids
        }


def _service_pids(stack: Stack, names: tuple[str, ...]) -> dict[str, int]:
    return {n: stack.children[n].pid for n in names}


# --------------------------------------------------------------------------- SEN2


def sen2_figures(
    requests: int,
    *,
    engine: str = "tansu",
    batch: int = 5000,
    in_flight: int = 3,
    echo: Callable[..., Any] = print,
    keep: Path | None = None,
) -> dict[str, Any]:
    """Import a synthetic SEN2 file of ``requests`` requests end to end; see the module
    docstring.  ``keep``: leave the run's directory (logs, databases) there."""
    return asyncio.run(
        _sen2(requests, engine=engine, batch=batch, in_flight=in_flight, echo=echo, keep=keep)
    )


async def _sen2(
    requests: int,
    *,
    engine: str,
    batch: int,
    in_flight: int,
    echo: Callable[..., Any],
    keep: Path | None,
) -> dict[str, Any]:
    from cli.bench import broker_label, raw_consume, start_broker
    from services.ingest.sources.sen2.importer import ImportProgress, import_sen2
    from services.ingest.sources.sen2.pseudonymise import KEY_ENV
    from services.ingest.sources.sen2.synthetic import generate_sen2_xml

    tmp = keep or Path(tempfile.mkdtemp(prefix="sendwatch-bench-sen2-"))
    tmp.mkdir(parents=True, exist_ok=True)
    persons = max(1, int(requests / 1.1))
    xml, expected = generate_sen2_xml(seed=2025, persons=persons, year=2025)
    path = tmp / "sen2.xml"
    path.write_bytes(xml)
    del xml
    os.environ.setdefault("SENDWATCH_KAFKA_SESSION_TIMEOUT_MS", "6000")
    broker = start_broker(engine, tmp)
    stack = Stack(
        var_dir=tmp,
        bootstrap=broker.bootstrap,
        ports={n: free_port() for n in ("ingest", "timeliness", "alerts", "reporting")},
    )
    (tmp / "logs").mkdir(parents=True, exist_ok=True)
    db = get_settings().database.url
    marks: dict[str, Any] = {}
    try:
        stack.start_service("ingest")
        stack.start_service("timeliness")
        await asyncio.to_thread(stack.wait_healthy)
        pids = _service_pids(stack, ("ingest", "timeliness"))
        pids["importer"] = os.getpid()
        if broker.engine == "tansu":
            pids["broker"] = broker.process.pid  # type: ignore[union-attr]
        echo(
            f"SEN2 file: {expected.requests:,} requests, {expected.persons:,} persons, "
            f"{path.stat().st_size / 1e6:.0f} MB; broker {broker.bootstrap} "
            f"({broker_label(broker)}); database {'PostgreSQL' if db else 'SQLite'}"
        )
        with Meter(pids) as meter:

            def progress(p: ImportProgress) -> None:
                if p.stage == "waiting" and "posted" not in marks:
                    marks["posted"] = time.perf_counter()
                    marks["cpu_posted"] = meter.cpu()

            cpu0 = meter.cpu()
            started = time.perf_counter()
            summary = await asyncio.to_thread(
                import_sen2,
                path,
                f"http://127.0.0.1:{stack.ports['ingest']}",
                SEN2_KEY,
                key=os.environ.get(KEY_ENV) or "bench-pseudonym-key-000000",
                batch_size=batch,
                in_flight=in_flight,
                wait=True,
                timeliness_url=f"http://127.0.0.1:{stack.ports['timeliness']}",
                wait_timeout=3600,
                poll_interval=0.25,
                token=DEV_OPS_TOKEN,
                on_progress=progress,
            )
            elapsed = time.perf_counter() - started
            cpu1 = meter.cpu()
        events = summary.accepted
        consume = await raw_consume(broker.bootstrap, "sendwatch.case-events.v1", events)
    finally:
        stack.stop()
        broker.stop()
    posted = marks.get("posted", started + elapsed)
    mid = marks.get("cpu_posted", cpu1)
    cpu = {n: round(cpu1[n] - cpu0[n], 2) for n in cpu1}
    figures = {
        "requests": expected.requests,
        "persons": expected.persons,
        "events": events,
        "rejected": summary.rejected,
        "complete": bool(summary.wait and summary.wait.complete),
        "broker": broker_label(broker),
        "database": "PostgreSQL" if db else "SQLite",
        "batch": batch,
        "in_flight": in_flight,
        "seconds": round(elapsed, 2),
        "posting_seconds": round(posted - started, 2),
        "waiting_seconds": round(started + elapsed - posted, 2),
        "events_per_s": round(events / elapsed, 1),
        "raw_consume_per_s": round(consume, 1),
        "ratio_to_raw_consume": round(events / elapsed / consume, 4),
        "cpu_seconds": cpu,
        "cpu_seconds_posting": {n: round(mid[n] - cpu0[n], 2) for n in mid},
        "cpu_us_per_event": {n: round(v / max(1, events) * 1e6, 1) for n, v in cpu.items()},
        "rss_mb": meter.rss_mb(),
        "under_60_s": elapsed < 60,
    }
    return figures


def print_sen2(f: dict[str, Any], echo: Callable[..., Any] = print) -> None:
    echo(f"{'path':46} {'events/s':>10} {'ratio to raw':>13}")
    echo(f"{'raw aiokafka consume + validation (same topic)':46} {f['raw_consume_per_s']:10,.0f}")
    echo(
        f"{'SEN2 import -> ingest -> timeliness state+KPIs':46} {f['events_per_s']:10,.0f} "
        f"{f['ratio_to_raw_consume']:13.3f}"
    )
    echo(
        f"{f['events']:,} events from {f['requests']:,} requests in {f['seconds']:.1f} s "
        f"(posting {f['posting_seconds']:.1f} s, then waiting for timeliness "
        f"{f['waiting_seconds']:.1f} s); {'complete' if f['complete'] else 'NOT complete'}"
    )
    echo(
        "CPU s (µs/event): "
        + ", ".join(
            f"{n} {s:.1f} ({f['cpu_us_per_event'][n]:.0f})" for n, s in f["cpu_seconds"].items()
        )
    )
    echo(
        "peak RSS MB: "
        + ", ".join(f"{n} {v['peak']:.0f} (HWM {v['hwm']:.0f})" for n, v in f["rss_mb"].items())
    )


# --------------------------------------------------------------------------- memory

SERVICES = ("ingest", "timeliness")


def memory_figures(
    small: int = 10_000,
    large: int = 150_000,
    *,
    engine: str = "tansu",
    echo: Callable[..., Any] = print,
    runs: dict[int, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Peak RSS of each service after a ``small`` and a ``large`` SEN2 import (cases =
    requests), and their ratio; flat means within 1.5x.  ``runs``: figures of
    :func:`sen2_figures` already measured, by request count (not run again)."""
    runs = dict(runs or {})
    for n in (small, large):
        if n not in runs:
            runs[n] = sen2_figures(n, engine=engine, echo=echo)
    out: dict[str, Any] = {"small_requests": small, "large_requests": large, "services": {}}
    for name in SERVICES:
        a, b = runs[small]["rss_mb"][name]["peak"], runs[large]["rss_mb"][name]["peak"]
        out["services"][name] = {
            "small_peak_mb": a,
            "large_peak_mb": b,
            "ratio": round(b / a, 3) if a else None,
        }
    out["flat"] = all(
        s["ratio"] is not None and s["ratio"] <= 1.5 for s in out["services"].values()
    )
    return out


# --------------------------------------------------------------------------- several LAs

# Old (three-digit) LA codes of ten English authorities; the synthetic data is the same
# kind for each, seeded by the code.
LA_CODES = ("893", "894", "860", "885", "884", "357", "330", "926", "873", "909")


@dataclass
class TenantStack(Stack):
    """A deployment of one LA: the stack with that LA's own configuration files."""

    extra_env: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        env = super().env()
        env.update(self.extra_env)
        return env


def la_code(i: int) -> str:
    return LA_CODES[i] if i < len(LA_CODES) else f"{100 + i:03d}"


def tenant_files(code: str, directory: Path) -> dict[str, str]:
    """The LA's own configuration: its topics (names prefixed ``la<code>.``), its
    authority, its consumer-group prefix and its var dir (databases, logs)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "logs").mkdir(exist_ok=True)
    topics = yaml.safe_load((CONTRACTS / "topics.yaml").read_text())
    for spec in topics["topics"].values():
        spec["name"] = f"la{code}.{spec['name']}"
    (directory / "topics.yaml").write_text(yaml.safe_dump(topics, sort_keys=False))
    authority = yaml.safe_load((CONTRACTS / "authority.yaml").read_text())
    authority.update(la_name=f"LA {code}", old_la_code=code, new_la_code=f"E0{code}0000")
    (directory / "authority.yaml").write_text(yaml.safe_dump(authority, sort_keys=False))
    return {
        "SENDWATCH_TOPICS_FILE": str(directory / "topics.yaml"),
        "SENDWATCH_AUTHORITY_FILE": str(directory / "authority.yaml"),
        "SENDWATCH_KAFKA_GROUP_PREFIX": f"la{code}.",
    }


def _figures_of(port: int) -> dict[str, Any]:
    """An LA's figures: every KPI value and the caseload counters of its timeliness."""
    headers = {"Authorization": f"Bearer {DEV_OPS_TOKEN}"}
    base = f"http://127.0.0.1:{port}"
    values = httpx.get(f"{base}/v1/kpis", headers=headers, timeout=60).json()["values"]
    caseload = httpx.get(f"{base}/v1/caseload", headers=headers, timeout=60).json()
    values.sort(key=lambda v: (v["kpi"], v["cycle"], v["breakdown"]))
    return {
        "values": values,
        "cases": caseload["cases"],
        "open_caseload": caseload["open_caseload"],
        "events_applied": caseload["events_applied"],
    }


def _import_la(code: str, path: Path, stack: Stack) -> dict[str, Any]:
    from services.ingest.sources.sen2.importer import import_sen2

    started = time.perf_counter()
    summary = import_sen2(
        path,
        f"http://127.0.0.1:{stack.ports['ingest']}",
        SEN2_KEY,
        key=f"pseudonym-key-of-la-{code}-000000",  # each LA its own key
        wait=True,
        timeliness_url=f"http://127.0.0.1:{stack.ports['timeliness']}",
        wait_timeout=1800,
        poll_interval=0.25,
        token=DEV_OPS_TOKEN,
        in_flight=2,
    )
    return {
        "events": summary.accepted,
        "rejected": summary.rejected,
        "complete": bool(summary.wait and summary.wait.complete),
        "seconds": round(time.perf_counter() - started, 2),
    }


def _start_tenants(
    codes: list[str], root: Path, bootstrap: str, label: str
) -> dict[str, TenantStack]:
    stacks: dict[str, TenantStack] = {}
    for code in codes:
        directory = root / label / f"la{code}"
        stacks[code] = TenantStack(
            var_dir=directory,
            bootstrap=bootstrap,
            ports={n: free_port() for n in ("ingest", "timeliness", "alerts", "reporting")},
            extra_env=tenant_files(code, directory),
        )
    for stack in stacks.values():
        stack.start_service("timeliness")
        stack.start_service("ingest")
    for stack in stacks.values():
        stack.wait_healthy(timeout=300)
    return stacks


def _run_tenants(
    codes: list[str], files: dict[str, Path], root: Path, engine: str, label: str
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]], dict[str, Any]]:
    """Start every LA of ``codes`` on one fresh broker, import each LA's file at once
    (one thread per LA), and read each LA's figures.  Returns figures, import results
    and the run's wall time and peak RSS."""
    from cli.bench import start_broker

    (root / label).mkdir(parents=True, exist_ok=True)
    broker = start_broker(engine, root / label)
    stacks: dict[str, TenantStack] = {}
    try:
        stacks = _start_tenants(codes, root, broker.bootstrap, label)
        pids = {f"la{c}-{n}": s.children[n].pid for c, s in stacks.items() for n in SERVICES}
        results: dict[str, dict[str, Any]] = {}
        errors: list[BaseException] = []

        def one(code: str) -> None:
            try:
                results[code] = _import_la(code, files[code], stacks[code])
            except BaseException as exc:  # reported below, after every thread ends
                errors.append(exc)

        with Meter(pids) as meter:
            started = time.perf_counter()
            threads = [threading.Thread(target=one, args=(c,)) for c in codes]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - started
        if errors:
            raise errors[0]
        figures = {c: _figures_of(s.ports["timeliness"]) for c, s in stacks.items()}
    finally:
        for stack in stacks.values():
            stack.stop()
        broker.stop()
    rss = meter.rss_mb()
    run = {
        "seconds": round(elapsed, 2),
        "events": sum(r["events"] for r in results.values()),
        "peak_rss_mb_total": round(sum(v["peak"] for v in rss.values()), 1),
        "peak_rss_mb_max": max(v["peak"] for v in rss.values()),
    }
    return figures, results, run


def write_la_files(codes: list[str], requests: int, directory: Path) -> dict[str, Path]:
    """One synthetic SEN2 return per LA (its own LA code and seed)."""
    from services.ingest.sources.sen2.synthetic import generate_sen2_xml

    directory.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    for code in codes:
        xml, _ = generate_sen2_xml(
            seed=int(code), persons=max(1, int(requests / 1.1)), year=2025, la_code=code
        )
        files[code] = directory / f"sen2_la{code}.xml"
        files[code].write_bytes(xml)
    return files


def compare(together: dict[str, Any], alone: dict[str, Any]) -> list[str]:
    """What differs between an LA's figures in the shared run and alone (empty: none)."""
    out: list[str] = []
    for name in ("cases", "open_caseload", "events_applied"):
        if together[name] != alone[name]:
            out.append(f"{name}: {together[name]} together, {alone[name]} alone")
    a = {(v["kpi"], v["cycle"], v["breakdown"]): v for v in together["values"]}
    b = {(v["kpi"], v["cycle"], v["breakdown"]): v for v in alone["values"]}
    for key in sorted(a.keys() | b.keys()):
        if a.get(key) != b.get(key):
            out.append(f"{'/'.join(key)}: {a.get(key)} together, {b.get(key)} alone")
    return out


def las_figures(
    las: int = 10,
    requests: int = 2000,
    *,
    engine: str = "tansu",
    alone: int | None = None,
    echo: Callable[..., Any] = print,
    root: Path | None = None,
) -> dict[str, Any]:
    """``las`` LAs at once on one broker, then ``alone`` of them (default all) each on
    its own fresh broker; every LA's figures compared between the two."""
    root = root or Path(tempfile.mkdtemp(prefix="sendwatch-bench-las-"))
    codes = [la_code(i) for i in range(las)]
    files = write_la_files(codes, requests, root / "files")
    os.environ.setdefault("SENDWATCH_KAFKA_SESSION_TIMEOUT_MS", "6000")
    echo(f"{las} LAs, {requests:,} SEN2 requests each, on one broker ({engine})")
    together, results, run = _run_tenants(codes, files, root, engine, "together")
    echo(
        f"together: {run['events']:,} events in {run['seconds']:.1f} s "
        f"({run['events'] / run['seconds']:,.0f} events/s); peak RSS "
        f"{run['peak_rss_mb_total']:,.0f} MB over {2 * las} processes"
    )
    solo_codes = codes[: las if alone is None else alone]
    per_la: dict[str, Any] = {}
    for code in solo_codes:
        solo, solo_results, solo_run = _run_tenants([code], files, root, engine, f"alone-{code}")
        diff = compare(together[code], solo[code])
        per_la[code] = {
            "events": results[code]["events"],
            "complete": results[code]["complete"] and solo_results[code]["complete"],
            "kpi_values": len(together[code]["values"]),
            "cases": together[code]["cases"],
            "seconds_together": results[code]["seconds"],
            "seconds_alone": solo_run["seconds"],
            "equal_to_alone": not diff,
            "differences": diff[:10],
        }
        echo(
            f"LA {code}: {per_la[code]['kpi_values']:,} KPI values, {per_la[code]['cases']:,} "
            f"cases; alone {'equal' if not diff else f'{len(diff)} DIFFERENCES'} "
            f"({solo_run['seconds']:.1f} s alone, {results[code]['seconds']:.1f} s together)"
        )
    distinct = len({json.dumps(together[c]["values"], sort_keys=True) for c in codes})
    return {
        "las": las,
        "requests_per_la": requests,
        "broker": engine,
        "together": run,
        "compared_alone": len(solo_codes),
        "isolated": all(v["equal_to_alone"] and v["complete"] for v in per_la.values()),
        "distinct_figures": distinct,
        "per_la": per_la,
    }
