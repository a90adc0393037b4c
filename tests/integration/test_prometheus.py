"""Operations: every service's ``/metrics`` passes ``promtool check metrics``, and a real
Prometheus server (Debian's ``prometheus`` binary, config in a temporary directory,
loading ``deploy/prometheus/rules.yml``) scrapes all four services on loopback and
answers a query for the KPI gauge and the snapshot age.

Skips, saying why, only where the binaries are not installed
(``apt-get install prometheus`` provides both)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
import yaml

from cli.tansu import free_port
from tests.helpers import AUTH, case_event, wait_for
from tests.unit.test_deploy import DASHBOARD_FILE as DASHBOARD
from tests.unit.test_deploy import _all_panels as _panels
from tests.unit.test_deploy import _metric_names

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "rules.yml"
SERVICES = ("ingest", "timeliness", "alerts", "reporting")


def _kpi_gauge(port: int) -> float | None:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    wanted = ('kpi="open_caseload"', 'cycle="current"', 'breakdown="all"')
    for line in text.splitlines():
        if line.startswith("sendwatch_kpi_value{") and all(w in line for w in wanted):
            return float(line.rsplit(" ", 1)[1])
    return None


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_metrics_lint_clean_and_prometheus_scrapes_every_service(
    stack_factory, tmp_path: Path
) -> None:
    promtool, prometheus = shutil.which("promtool"), shutil.which("prometheus")
    if promtool is None or prometheus is None:
        pytest.skip("promtool/prometheus not installed (apt-get install prometheus)")
    stack = stack_factory(*SERVICES)
    p = stack.ports
    events = [case_event(n) for n in range(1, 8)]  # seven open assessments
    r = httpx.post(f"http://127.0.0.1:{p['ingest']}/v1/events", json=events, headers=AUTH)
    assert r.status_code == 200, r.text
    wait_for(lambda: _kpi_gauge(p["reporting"]) == 7.0, timeout=60)

    # promtool check metrics on every service's exposition
    for name in SERVICES:
        body = httpx.get(f"http://127.0.0.1:{p[name]}/metrics", timeout=5).content
        assert b"# HELP" in body
        check = subprocess.run(
            [promtool, "check", "metrics"], input=body, capture_output=True, timeout=60
        )
        problems = (check.stdout + check.stderr).decode()
        assert check.returncode == 0 and not problems.strip(), f"{name}: {problems}"

    # a Prometheus server scraping all four on loopback, with the shipped alert rules
    port = free_port()
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES)],
        "scrape_configs": [
            {
                "job_name": "sendwatch",
                "metrics_path": "/metrics",
                "static_configs": [
                    {"targets": [f"127.0.0.1:{p[name]}"], "labels": {"sendwatch_service": name}}
                    for name in SERVICES
                ],
            }
        ],
    }
    cfg = tmp_path / "prometheus.yml"
    cfg.write_text(yaml.safe_dump(config))
    log = (tmp_path / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [
            prometheus,
            f"--config.file={cfg}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    api = f"http://127.0.0.1:{port}/api/v1"

    def query(expr: str) -> list[dict]:
        r = httpx.get(f"{api}/query", params={"query": expr}, timeout=5)
        r.raise_for_status()
        return r.json()["data"]["result"]

    try:
        wait_for(
            lambda: httpx.get(f"http://127.0.0.1:{port}/-/ready", timeout=2).status_code == 200,
            timeout=60,
        )
        up = wait_for(
            lambda: len(rows := query('up{job="sendwatch"} == 1')) == len(SERVICES) and rows,
            timeout=60,
        )
        assert {row["metric"]["sendwatch_service"] for row in up} == set(SERVICES)
        gauge = wait_for(
            lambda: query(
                'sendwatch_kpi_value{kpi="open_caseload",cycle="current",breakdown="all"}'
            ),
            timeout=30,
        )
        assert [float(row["value"][1]) for row in gauge] == [7.0]
        assert gauge[0]["metric"]["sendwatch_service"] == "reporting"
        age = query("time() - sendwatch_kpi_snapshot_last_published_timestamp_seconds")
        assert age and 0 <= float(age[0]["value"][1]) < 600
        lag = query("sum by (service) (sendwatch_consumer_lag)")
        assert {row["metric"]["service"] for row in lag} >= {"timeliness", "reporting"}
        rules = httpx.get(f"{api}/rules", timeout=5).json()["data"]["groups"]
        names = {r["name"] for g in rules for r in g["rules"]}
        assert {"SendwatchServiceDown", "SendwatchKpiSnapshotStale"} <= names
        firing = [r for g in rules for r in g["rules"] if r.get("state") == "firing"]
        assert firing == []
        # Every Grafana panel query runs against the scraped series (on either broker),
        # and the core panels have data.
        dashboard = json.loads(DASHBOARD.read_text())
        exprs = [
            t["expr"]
            .replace("$__rate_interval", "1m")
            .replace('"$service"', '".*"')
            .replace("$service", ".*")
            for panel in _panels(dashboard["panels"])
            for t in panel.get("targets", [])
        ]
        for expr in exprs:
            r = httpx.get(f"{api}/query", params={"query": expr}, timeout=5)
            assert r.status_code == 200 and r.json()["status"] == "success", (expr, r.text)
        scraped = {
            row["metric"]["__name__"]
            for row in query('count by (__name__) ({__name__=~"sendwatch_.+"})')
        }
        used = {name for expr in exprs for name in _metric_names(expr)} - {"up"}
        core = {
            "sendwatch_consumer_lag",
            "sendwatch_events_consumed_total",
            "sendwatch_events_applied_total",
            "sendwatch_ingest_events_total",
            "sendwatch_processing_latency_seconds_bucket",
            "sendwatch_batch_size_bucket",
        }
        assert core <= used and core <= scraped, core - scraped
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        log.close()
