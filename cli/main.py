"""The ``sendwatch`` command-line tool (Typer).  The ``import``, ``export`` and ``report``
groups are in their own modules."""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import sys
import time
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from cli import referrals
from cli.exports import export_app
from cli.imports import import_app
from cli.outcomes import import_figures_command  # noqa: F401  (registers import figures/surveys)
from cli.output import console, err, progress_bar
from cli.programme import import_raid_command  # noqa: F401  (programme: import raid)
from cli.replay import replay_command
from cli.reports import report_app
from sendwatch.config import SERVICE_PORTS, get_settings, service_ports

app = typer.Typer(help="sendwatch: SEND partnership performance monitoring.", no_args_is_help=True)

DEV_KEY = "dev-case-management-key"


@app.command()
def serve(
    service: Annotated[str, typer.Argument(help="ingest | timeliness | alerts | reporting")],
    host: str = "127.0.0.1",
    port: Annotated[int | None, typer.Option(help="default: the service's own port")] = None,
) -> None:
    """Run one service (HTTP API + Kafka consumers) in the foreground."""
    import uvicorn

    from sendwatch.devmode import DevelopmentSecretsError, refuse_development_secrets

    if service not in SERVICE_PORTS:
        raise typer.BadParameter(f"unknown service {service!r}")
    try:
        refuse_development_secrets(service)
    except DevelopmentSecretsError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    workers = get_settings().ingest.workers if service == "ingest" else 1
    options: dict[str, Any] = {
        "host": host,
        "port": port or service_ports()[service],
        "log_level": "warning",
        "access_log": False,
        "timeout_graceful_shutdown": 10,
    }
    if workers > 1:
        # Worker processes on one listening socket; each builds its own app (producer,
        # database engine) from the factory.  The schema is brought up to date here,
        # once, so the workers do not race to create it.
        from sendwatch.db import make_engine, migrate

        engine = make_engine(get_settings().db_url_for(service))
        migrate(service, engine)
        engine.dispose()
        factory = f"services.{service}.entrypoint:create_app"
        uvicorn.run(factory, factory=True, workers=workers, **options)
        return
    module = importlib.import_module(f"services.{service}.entrypoint")
    uvicorn.run(module.create_app(), **options)


@app.command()
def up(
    simulate: Annotated[bool, typer.Option(help="also run the simulated county")] = True,
    kafka: Annotated[
        str | None, typer.Option(help="bootstrap of an existing broker to use instead")
    ] = None,
    broker: Annotated[
        str, typer.Option(help="tansu (in memory, Python only) | kafka (Apache Kafka KRaft)")
    ] = "tansu",
    nodes: Annotated[int, typer.Option(help="Apache Kafka nodes: 1 or 3")] = 1,
    var_dir: Annotated[Path, typer.Option(help="SQLite files and logs")] = Path("var"),
    seed: int = 42,
    speed: Annotated[float, typer.Option(help="simulated seconds per real second")] = 172800.0,
    start: Annotated[str, typer.Option(help="simulated start date")] = "2026-04-01",
    backfill_days: Annotated[int, typer.Option(help="history posted at once")] = 0,
) -> None:
    """Start the broker, all four services and the simulator; Ctrl-C stops everything."""
    from cli.kafka import KafkaUnavailable
    from cli.stack import run_stack

    if broker not in ("tansu", "kafka"):
        raise typer.BadParameter("--broker must be tansu or kafka")
    try:
        run_stack(
            simulate=simulate,
            bootstrap=kafka,
            engine=broker,
            nodes=nodes,
            var_dir=var_dir.resolve(),
            seed=seed,
            speed=speed,
            start=start,
            backfill_days=backfill_days,
            echo=console.print,
        )
    except KafkaUnavailable as exc:
        err.print(str(exc))
        raise typer.Exit(2) from None


@app.command()
def simulate(
    url: str = "http://127.0.0.1:8001",
    api_key: Annotated[str, typer.Option(envvar="SENDWATCH_API_KEY")] = DEV_KEY,
    seed: int = 42,
    speed: float = 172800.0,
    start: str = "2026-04-01",
    days: Annotated[int | None, typer.Option(help="stop after this many simulated days")] = None,
    backfill_days: int = 0,
    quiet: bool = False,
    programme_key: Annotated[
        str | None,
        typer.Option(envvar="SENDWATCH_PMO_API_KEY", help="also the programme office's events"),
    ] = "dev-pmo-key",
    nhs_key: Annotated[
        str, typer.Option(help="key of the simulated NHS community provider ('' for none)")
    ] = "",
    placements: Annotated[
        bool,
        typer.Option(
            help="also the county's placements (3,016 plans at January 2025, DfE's caseload)"
        ),
    ] = False,
    placements_key: Annotated[
        str, typer.Option(envvar="SENDWATCH_PLACEMENTS_API_KEY")
    ] = "dev-placements-key",
    cases_only: Annotated[bool, typer.Option(help="only the case events")] = False,
) -> None:
    """Post a deterministic, accelerated stream of case events to ingest (and, unless
    --cases-only, the Experts at Hand and outcomes sources with their own keys; the NHS
    community provider, the programme office and placements with theirs when asked)."""
    from services.ingest.sources.simulator.runner import run_simulation
    from services.ingest.sources.simulator.streams import domain_streams

    try:
        stats = asyncio.run(
            run_simulation(
                url,
                api_key,
                seed=seed,
                start=date.fromisoformat(start),
                speed=speed,
                days=days,
                backfill_days=backfill_days,
                programme_key=programme_key or None,
                nhs_key=nhs_key or None,
                placements_key=placements_key if placements else None,
                streams=() if cases_only else domain_streams(),
            )
        )
    except ValueError as exc:
        err.print(f"[red]simulate:[/red] {exc}")
        raise typer.Exit(2) from None
    if not quiet:
        console.print(stats)


@app.command()
def ingest(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="JSONL, one event a line")
    ],
    url: str = "http://127.0.0.1:8001",
    api_key: Annotated[str, typer.Option(envvar="SENDWATCH_API_KEY")] = DEV_KEY,
    batch_size: int = 1000,
) -> None:
    """Import a JSONL file of events through the ingest API."""
    import httpx

    from services.ingest.client import IngestRefused, post_jsonl

    with file.open(encoding="utf-8", errors="surrogateescape") as fh:
        total = sum(1 for line in fh if line.strip())
    with progress_bar("ingest") as progress:
        task = progress.add_task("events", total=total)
        try:
            report = post_jsonl(
                file, url, api_key, batch_size, on_progress=lambda n: progress.advance(task, n)
            )
        except (IngestRefused, httpx.TransportError) as exc:
            err.print(f"error: {exc}")
            raise typer.Exit(2) from exc
        progress.update(task, completed=total)
    for p in report.problems:
        field = f" ({p.field})" if p.field else ""
        err.print(f"line {p.line}: {p.reason}{field}: {p.message}")
    console.print(f"{report.lines} lines: {report.accepted} accepted, {report.rejected} rejected")
    raise typer.Exit(1 if report.rejected else 0)


app.add_typer(import_app, name="import")
app.add_typer(export_app, name="export")
app.command("replay")(replay_command)
referrals.register(import_app, export_app)  # NHS community referrals


@app.command()
def broker(
    engine: Annotated[
        str, typer.Option(help="tansu (in memory) | kafka (Apache Kafka KRaft, on disk)")
    ] = "tansu",
    nodes: Annotated[int, typer.Option(help="Apache Kafka nodes: 1 or 3")] = 1,
    port: Annotated[int, typer.Option(help="Tansu's port; 0 = a free port")] = 0,
    data_dir: Annotated[Path, typer.Option(help="Apache Kafka's log directories")] = Path(
        "var/kafka"
    ),
) -> None:
    """Run a local broker on loopback until Ctrl-C: Tansu, or an Apache Kafka cluster
    (storage formatted on first use, kept across restarts; 3 nodes give replication
    factor 3 with min.insync.replicas=2)."""
    from cli.kafka import KafkaUnavailable, start_kafka
    from cli.tansu import start_tansu

    if engine == "tansu":
        b = start_tansu(port or None)
        console.print(f"Tansu listening on {b.bootstrap}")
        try:
            b.process.wait()
        except KeyboardInterrupt:
            b.stop()
        return
    if engine != "kafka":
        raise typer.BadParameter("--engine must be tansu or kafka")
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        cluster = start_kafka(
            nodes,
            base_dir=data_dir.resolve(),
            log_file=data_dir.resolve() / "kafka.log",
            echo=console.print,
        )
    except KafkaUnavailable as exc:
        err.print(str(exc))
        raise typer.Exit(2) from None
    console.print(
        f"Apache Kafka {nodes} node(s) listening on {cluster.bootstrap}\n"
        f"data in {data_dir.resolve()}; log {data_dir.resolve() / 'kafka.log'}"
    )
    try:
        while all(n.running for n in cluster.nodes):
            time.sleep(0.5)
        err.print("a Kafka node stopped; see the log")
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()


@app.command()
def topics(kafka: Annotated[str, typer.Option(envvar="SENDWATCH_KAFKA_BOOTSTRAP")]) -> None:
    """Create the catalogue's topics on a broker if they are missing (with the
    SENDWATCH_KAFKA_SECURITY_PROTOCOL / _SASL_* login when set)."""
    from contracts.topics import load_topics
    from sendwatch.bus import ensure_topics, kafka_client_options

    settings = get_settings()
    catalogue = load_topics(settings.files.topics)
    options = kafka_client_options(settings)
    created = asyncio.run(ensure_topics(kafka, catalogue, client_options=options))
    console.print(f"created: {', '.join(created) or 'nothing (all present)'}")


@app.command()
def asyncapi(
    out_dir: Path = Path("docs/asyncapi"),
    check: Annotated[bool, typer.Option(help="fail if the committed files are stale")] = False,
) -> None:
    """Generate the AsyncAPI documents of the four services from their FastStream apps."""
    from cli.asyncapi import render_asyncapi

    stale = []
    for service, text in render_asyncapi().items():
        path = out_dir / f"{service}.yaml"
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            console.print(f"wrote {path}")
    if stale:
        err.print("stale AsyncAPI documents (run `sendwatch asyncapi`): " + ", ".join(stale))
        raise typer.Exit(1)


@app.command()
def bench(
    events: int = 50_000,
    batch: Annotated[int, typer.Option(help="events per ingest request")] = 5_000,
    database_url: Annotated[str | None, typer.Option(envvar="SENDWATCH_DATABASE_URL")] = None,
    sen2: Annotated[
        int,
        typer.Option(
            help="instead: import a synthetic SEN2 file of N requests end to end (e.g. 150000)"
        ),
    ] = 0,
    broker: Annotated[
        str, typer.Option(help="tansu (in memory) | kafka (Apache Kafka KRaft, one node)")
    ] = "tansu",
    json_output: Annotated[
        bool,
        typer.Option("--json", "--scale-json", help="print every figure as JSON (with versions)"),
    ] = False,
    ingest_workers: Annotated[
        int, typer.Option(help="also measure ingest with this many worker processes")
    ] = 2,
    latency: Annotated[
        float, typer.Option(help="seconds of a steady 1,000 events/s latency run (0: none)")
    ] = 0.0,
    # --- scale: several LAs, memory against caseload (cli/bench_scale.py) ---
    las: Annotated[
        int,
        typer.Option(
            help="instead: N local authorities at once on one broker, each also alone; "
            "figures compared (docs/scaling.md)"
        ),
    ] = 0,
    las_requests: Annotated[int, typer.Option(help="SEN2 requests per LA with --las")] = 2000,
    memory: Annotated[
        bool,
        typer.Option(help="instead: peak RSS per service after a 10k and a 150k SEN2 import"),
    ] = False,
) -> None:
    """Measure ingest and consume-to-state throughput against raw aiokafka, same broker."""
    from cli.bench import run_bench, run_sen2_bench
    from cli.kafka import KafkaUnavailable

    if broker not in ("tansu", "kafka"):
        raise typer.BadParameter("--broker must be tansu or kafka")
    if database_url:
        os.environ["SENDWATCH_DATABASE_URL"] = database_url
    # --- scale: several LAs, memory against caseload ---
    as_json = json_output
    if las or memory or (sen2 and as_json):
        import json

        from cli import bench_scale

        if las < 0 or las_requests < 1:
            raise typer.BadParameter("--las and --las-requests must be positive")
        say = err.print if as_json else console.print
        if as_json:  # the import's log lines go to stderr, the figures alone to stdout
            from sendwatch.observability import configure_logging

            configure_logging("bench")
        if las:
            figures = bench_scale.las_figures(las, las_requests, engine=broker, echo=say)
            ok = figures["isolated"]
        elif memory:
            figures = bench_scale.memory_figures(engine=broker, echo=say)
            ok = figures["flat"]
        else:
            figures = bench_scale.sen2_figures(sen2, engine=broker, echo=say)
            ok = figures["complete"] and not figures["rejected"]
        if as_json:
            print(json.dumps(figures, indent=2))
        else:
            console.print_json(json.dumps(figures))
        raise typer.Exit(0 if ok else 1)
    # --- end of scale ---
    try:
        if sen2:
            sys.exit(asyncio.run(run_sen2_bench(sen2, echo=console.print, engine=broker)))
        echo = print if json_output else console.print
        sys.exit(
            asyncio.run(
                run_bench(
                    events=events,
                    batch=batch,
                    echo=echo,
                    engine=broker,
                    as_json=json_output,
                    ingest_workers=ingest_workers,
                    latency_s=latency,
                )
            )
        )
    except KafkaUnavailable as exc:
        err.print(str(exc))
        raise typer.Exit(2) from None


@app.command("bench-readme")
def bench_readme(
    results: Annotated[list[Path], typer.Argument(help="`bench --json` outputs")],
    readme: Path = Path("README.md"),
) -> None:
    """Regenerate the README's performance table from `sendwatch bench --json` results."""
    from cli.bench import update_readme

    loaded = [json.loads(p.read_text(encoding="utf-8")) for p in results]
    changed = update_readme(readme, loaded)
    console.print(f"{readme}: {'updated' if changed else 'already current'}")


app.add_typer(report_app, name="report")


@app.command("load-benchmarks")
def load_benchmarks_command(
    directory: Annotated[
        Path,
        typer.Argument(
            exists=True,
            file_okay=False,
            help="DfE's EHC plans release (zip or data/) and statistical-neighbours.csv",
        ),
    ],
    database_url: Annotated[str | None, typer.Option(envvar="SENDWATCH_DATABASE_URL")] = None,
    var_dir: Annotated[Path, typer.Option(envvar="SENDWATCH_VAR_DIR")] = Path("var"),
) -> None:
    """Load DfE's published 20-week timeliness and statistical neighbours for the
    dashboard's benchmark panel (replaces what was loaded before)."""
    from services.reporting.benchmarks import BenchmarkError, load_benchmarks

    settings = get_settings()
    settings = replace(
        settings,
        database=replace(settings.database, url=database_url or None),
        var_dir=var_dir.resolve(),
    )
    try:
        summary = load_benchmarks(directory, settings)
    except BenchmarkError as exc:
        err.print(f"[red]benchmarks not loaded:[/red] {exc}")
        raise typer.Exit(2) from None
    for line in summary.lines():
        console.print(line)


# --- soak: the stack under SIGKILLs, compared with a clean run ---------------------------


@app.command()
def soak(
    events: Annotated[
        int, typer.Option(help="events to post (ticks included), at least")
    ] = 200_000,
    kills: Annotated[int, typer.Option(help="SIGKILLs of timeliness, reporting and alerts")] = 20,
    seed: Annotated[int, typer.Option(help="the simulated counties and the kill plan")] = 42,
    broker: Annotated[str, typer.Option(help="tansu | kafka (Apache Kafka KRaft)")] = "tansu",
    database: Annotated[
        str | None,
        typer.Option(help="a PostgreSQL server URL (fresh databases per run); default SQLite"),
    ] = None,
    var_dir: Annotated[Path, typer.Option(help="logs and SQLite files")] = Path("var/soak"),
    sources: Annotated[
        str, typer.Option(help="county: every simulated source | cases: case events and PMO")
    ] = "county",
    strict: Annotated[
        bool,
        typer.Option(
            help="also fail when KPI revision counters or the set of mails differ "
            "(they depend on batching, even between two clean runs)"
        ),
    ] = False,
) -> None:
    """Post the simulated county's events while killing the consumers at random moments;
    compare exports, caseload, KPI values and mail with a clean run of the same events."""
    from cli.soak import SoakOptions, run_soak

    if broker not in ("tansu", "kafka"):
        raise typer.BadParameter("--broker must be tansu or kafka")
    if events < 1 or kills < 0:
        raise typer.BadParameter("--events must be >= 1 and --kills >= 0")
    if sources not in ("county", "cases"):
        raise typer.BadParameter("--sources must be county or cases")
    report = run_soak(
        SoakOptions(
            events=events,
            kills=kills,
            seed=seed,
            broker=broker,
            database=database,
            var_dir=var_dir.resolve(),
            sources=sources,
            strict=strict,
        ),
        say=console.print,
    )
    for line in report.lines():
        console.print(line)
    raise typer.Exit(0 if report.ok else 1)


if __name__ == "__main__":
    app()
