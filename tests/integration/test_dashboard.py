"""The reporting service end to end on a simulated county: five simulated months through
the real broker into timeliness, alerts and reporting.  Roles (a board token cannot see
cases at risk), validation (422, never 500), small-number suppression that no shown
figure can undo (pages, API and exports), the insight summary against the API, the
quarterly return, revisions, the event id and trace in the logs, the KPI gauges, and
pages that say "alerts service unavailable" when it is."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest

from cli.stack import Stack
from cli.tansu import TansuBroker, free_port, start_tansu
from contracts.kpi_dictionary import load_kpis
from contracts.snapshots import KpiValue
from sendwatch.config import Settings
from services.reporting.domain.suppression import (
    Published,
    SuppressionPolicy,
    add_remainders,
    determined,
    kpi_grid,
    publishable,
    recoverable,
)
from tests.helpers import DFE_DIR

DFE = DFE_DIR
BOARD = {"Authorization": "Bearer dev-board-token"}
OPS = {"Authorization": "Bearer dev-operational-token"}
ADMIN = {"Authorization": "Bearer dev-admin-token"}
POLICY = SuppressionPolicy()
KPIS = load_kpis().kpis
MONTH = "2026-10"  # closed by the end of the simulated run (2026-11-27)


@dataclass
class Sim:
    stack: Stack
    broker: TansuBroker
    var: Path

    def url(self, service: str, path: str) -> str:
        return f"http://127.0.0.1:{self.stack.ports[service]}{path}"

    def get(self, path: str, headers: dict[str, str] | None = None, **kw: Any) -> httpx.Response:
        return httpx.get(self.url("reporting", path), headers=headers, timeout=60, **kw)


def consumer_lag(port: int) -> float:
    """The records a service's consumers have still to read, over every topic (its
    ``sendwatch_consumer_lag`` gauges)."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=30).text
    return sum(
        float(m.group(1))
        for m in re.finditer(r"^sendwatch_consumer_lag\{[^}]*\} (\S+)$", text, re.M)
    )


def simulate(
    stack: Stack,
    days: int = 150,
    start: str = "2026-07-01",
    extra: tuple[str, ...] = (),
    catch_up: float = 240.0,
) -> None:
    """Post ``days`` simulated days (from ``start``) and wait until reporting has every
    snapshot timeliness produced for them (``extra``: further ``simulate`` options)."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "cli",
            "simulate",
            "--url",
            f"http://127.0.0.1:{stack.ports['ingest']}",
            "--days",
            str(days),
            "--speed",
            "3000000",
            "--start",
            start,
            "--quiet",
            *extra,
        ],
        check=True,
        timeout=180,
        env=stack.env(),
    )
    t, r = stack.ports["timeliness"], stack.ports["reporting"]
    deadline, last, stable = time.monotonic() + catch_up, None, 0
    while time.monotonic() < deadline:
        seq = httpx.get(f"http://127.0.0.1:{t}/v1/caseload", headers=OPS, timeout=30).json()[
            "sequence"
        ]
        got = httpx.get(f"http://127.0.0.1:{r}/v1/status", headers=OPS, timeout=30).json()
        now = (seq, got["timeliness_sequence"])
        # timeliness has read every topic (the other sources' events too), and reporting
        # has every snapshot it produced
        behind = consumer_lag(t)
        stable = (
            stable + 1 if now == last and seq == got["timeliness_sequence"] and not behind else 0
        )
        if stable >= 4:
            return
        last = now
        time.sleep(0.5)
    raise AssertionError(f"reporting did not catch up with timeliness: {last}")


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    var = tmp_path_factory.mktemp("dashboard") / "var"
    (var / "logs").mkdir(parents=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SENDWATCH_KAFKA_SESSION_TIMEOUT_MS", "6000")
        mp.setenv("SENDWATCH_LAG_INTERVAL_S", "1")
        # Small consumer batches: a month is seen open before it closes even when the
        # machine is busy (a 5,000-record batch could hold the whole of October).
        mp.setenv("SENDWATCH_BATCH_MAX", "500")
        mp.delenv("SENDWATCH_DATABASE_URL", raising=False)
        mp.delenv("SENDWATCH_SMTP_HOST", raising=False)
        broker = start_tansu()
        ports = {n: free_port() for n in ("ingest", "timeliness", "alerts", "reporting")}
        stack = Stack(var_dir=var, bootstrap=broker.bootstrap, ports=ports)
        try:
            if DFE.is_dir():
                from services.reporting.benchmarks import load_benchmarks

                load_benchmarks(DFE, Settings(var_dir=var))
            for name in ("timeliness", "alerts", "reporting", "ingest"):
                stack.start_service(name)
            stack.wait_healthy()
            simulate(stack)
            yield Sim(stack, broker, var)
        finally:
            stack.stop()
            broker.stop()
            for log in sorted((var / "logs").glob("*.log")):
                text = log.read_text(errors="replace")
                if "Traceback" in text:
                    print(f"--- {log.name} ---\n{text[-4000:]}")


def _published(items: list[dict[str, Any]]) -> list[Published]:
    out = []
    for d in items:
        v = KpiValue.model_validate(
            {
                k: d[k]
                for k in (
                    "kpi",
                    "cycle",
                    "cycle_kind",
                    "breakdown",
                    "value",
                    "numerator",
                    "denominator",
                    "closed",
                    "baseline",
                    "target",
                    "standard",
                    "rag",
                    "extra",
                )
            }
            | {"revision": d["upstream_revision"]}
        )
        out.append(
            Published(
                v,
                d["value"],
                d["numerator"],
                d["denominator"],
                d["rag"],
                d["extra"],
                d["suppressed"],
            )
        )
    return out


class _Cells(HTMLParser):
    """Text of <td class="sw-num"> cells inside breakdown tables."""

    def __init__(self) -> None:
        super().__init__()
        self.depth, self.cell, self.cells = 0, None, []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table" and "sw-breakdown" in (a.get("class") or ""):
            self.depth += 1
        if self.depth and tag == "td" and "sw-num" in (a.get("class") or ""):
            self.cell = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self.cell is not None:
            self.cells.append(self.cell.strip())
            self.cell = None
        if tag == "table" and self.depth:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell += data


# --- roles -------------------------------------------------------------------------------


def test_a_board_token_cannot_see_cases_at_risk(sim: Sim) -> None:
    assert sim.get("/v1/cases-at-risk").status_code == 401
    r = sim.get("/v1/cases-at-risk", BOARD)
    assert r.status_code == 403 and "operational" in r.json()["detail"]
    assert sim.get("/cases-at-risk", BOARD).status_code == 403
    assert sim.get("/v1/cases-at-risk", {"Authorization": "Bearer nope"}).status_code == 401

    r = sim.get("/v1/cases-at-risk?limit=50", OPS)
    assert r.status_code == 200
    cases = r.json()["cases"]
    assert cases and all(re.fullmatch(r"case-[0-9a-f]+", c["case_id"]) for c in cases)
    assert [c["days_left"] for c in cases] == sorted(c["days_left"] for c in cases)
    page = sim.get("/cases-at-risk", OPS)
    assert page.status_code == 200 and cases[0]["case_id"] in page.text
    loc = cases[0]["locality"]
    only = sim.get(f"/v1/cases-at-risk?locality={loc}", ADMIN).json()["cases"]
    assert only and {c["locality"] for c in only} == {loc}


def test_dfe_layout_files_are_for_operational_roles_and_match_timeliness(sim: Sim) -> None:
    assert sim.get("/v1/exports/dfe-timeliness?year=2026", BOARD).status_code == 403
    assert sim.get("/v1/exports/dfe-requests?year=2026").status_code == 401
    for name in ("dfe-timeliness", "dfe-requests"):
        mine = sim.get(f"/v1/exports/{name}?year=2026", OPS)
        url = sim.url("timeliness", f"/v1/exports/{name}?year=2026")
        assert httpx.get(url, timeout=30).status_code == 401  # the timeliness API needs a token
        assert httpx.get(url, headers=BOARD, timeout=30).status_code == 403
        direct = httpx.get(url, headers=OPS, timeout=30)
        assert mine.status_code == 200 and mine.text == direct.text
        assert mine.headers["content-type"].startswith("text/csv")
    downloads = sim.get("/downloads", BOARD).text
    assert (
        "operational and admin roles only" in downloads and "dfe-timeliness?year" not in downloads
    )
    assert "dfe-timeliness?year=2026" in sim.get("/downloads", OPS).text


# --- validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "headers", "status", "says"),
    [
        ("/v1/kpis?kpi=nope", None, 422, "unknown kpi"),
        ("/v1/kpis?cycle=2026-13", None, 422, "cycle"),
        ("/v1/kpis?breakdown=postcode=SY1", None, 422, "breakdown"),
        ("/v1/kpis/ehcp_20wk?cycle=last-month", None, 422, "cycle"),
        ("/v1/kpis/ehcp_20wk?breakdown=*", None, 422, "breakdown"),
        ("/v1/kpis/nope", None, 404, "no KPI"),
        ("/v1/kpis/Bad%20Id", None, 422, "kpi"),
        ("/v1/kpis/ehcp_20wk?cycle=2026", BOARD, 403, "calendar-year"),
        ("/v1/cases-at-risk?limit=0", OPS, 422, "limit"),
        ("/v1/cases-at-risk?limit=lots", OPS, 422, "limit"),
        ("/v1/cases-at-risk?locality=SY1%201AA", OPS, 422, "locality"),
        ("/v1/exports/dfe-timeliness?year=abc", OPS, 422, "year"),
        ("/v1/exports/dfe-timeliness?year=1999", OPS, 422, "year"),
        ("/v1/exports/dfe-timeliness", OPS, 422, "year"),
        ("/v1/exports/dfe-everything?year=2026", OPS, 422, "name"),
        ("/v1/exports/quarterly-return?quarter=2026-Q3", None, 422, "quarter"),
        ("/v1/exports/quarterly-return?quarter=2026/28-Q3", None, 422, "quarter"),
        ("/v1/reports/insight?month=2026-13", None, 422, "month"),
        ("/v1/reports/insight?month=9999-12", None, 422, "month"),
        ("/v1/kpis?cycle=9999-12", None, 422, "cycle"),
        ("/v1/kpis/ehcp_20wk?cycle=9999/00-Q4", None, 422, "cycle"),
        ("/v1/reports/insight", None, 422, "month"),
        ("/v1/reports/insight?month=2026-10&format=docx", None, 422, "format"),
        ("/v1/benchmarks?kpi=nope", None, 422, "unknown kpi"),
    ],
)
def test_bad_input_gets_a_clear_422_never_a_500(
    sim: Sim, path: str, headers: dict[str, str] | None, status: int, says: str
) -> None:
    r = sim.get(path, headers)
    assert r.status_code == status, r.text
    detail = r.json()["detail"]
    assert isinstance(detail, str) and says in detail


@pytest.mark.parametrize(
    "path",
    [
        "/kpis/ehcp_20wk?cycle=zzz",
        "/kpis/ehcp_20wk?view=decade",
        "/alerts?status=bogus",
        "/alerts?offset=-1",
        "/cases-at-risk?locality=" + "x" * 80,
    ],
)
def test_bad_page_addresses_get_a_readable_page(sim: Sim, path: str) -> None:
    r = sim.get(path, ADMIN)
    assert r.status_code == 422 and r.headers["content-type"].startswith("text/html")
    assert "not valid" in r.text


# --- suppression ---------------------------------------------------------------------------


def test_suppressed_cells_never_leak_through_totals(sim: Sim) -> None:
    anon = sim.get("/v1/kpis?breakdown=*").json()
    board = sim.get("/v1/kpis?breakdown=*", BOARD).json()
    exact = sim.get("/v1/kpis?breakdown=*", OPS).json()
    assert anon["view"] == "public" and board["view"] == "board" and exact["view"] == "operational"
    assert anon["kpis"] == board["kpis"]  # the public sees what the board sees
    shown, raw = defaultdict(list), defaultdict(list)
    for d in anon["kpis"]:
        shown[d["kpi"]].append(d)
    for d in exact["kpis"]:
        if d["breakdown"].endswith("=not recorded"):
            continue  # derived by reporting; the audit derives it again
        # the API does not repeat each value's measure kind; the dictionary has it (a
        # census KPI's quarter is its last month's census, not the sum of its months)
        raw[d["kpi"]].append(
            KpiValue.model_validate(
                {k: d[k] for k in KpiValue.model_fields if k in d and k != "revision"}
                | {"revision": d["upstream_revision"], "kind": KPIS[d["kpi"]].kind}
            )
        )
    small_exact = 0
    for kpi, items in shown.items():
        pub = _published(items)
        leaks = recoverable(pub, raw[kpi], POLICY)
        assert leaks == [], (kpi, leaks[:8])
        cells, tables = kpi_grid(add_remainders(publishable(raw[kpi])))
        field = {
            "num": "numerator",
            "den": "denominator",
            "count": "numerator",
            "b2052": "extra.weeks_20_to_52",
            "b52": "extra.over_52_weeks",
        }
        by = {(p.cycle, p.breakdown): p for p in pub}
        hidden = {c for c in cells if (p := by.get(c[:2])) is None or field[c[2]] in p.suppressed}
        fixed = determined([(t.total, t.parts) for t in tables], hidden)
        assert not {c for c in fixed if 0 < cells[c] < 5}, kpi
        for d in items:  # no count from 1 to 4 is ever shown
            for name in ("numerator", "denominator"):
                n = d[name]
                assert n is None or not 0 < n < 5, (kpi, d["cycle"], d["breakdown"], name, n)
            for name in ("within_20_weeks", "weeks_20_to_52", "over_52_weeks"):
                n = d["extra"].get(name)
                assert n is None or not 0 < n < 5, (kpi, d["cycle"], d["breakdown"], name)
        assert all(d["cycle_kind"] not in ("rolling_12", "calendar_year") for d in items)
    for d in exact["kpis"]:
        small_exact += any(
            isinstance(d[n], int) and 0 < d[n] < 5 for n in ("numerator", "denominator")
        )
    assert small_exact > 0, "the operational view has exact small numbers"

    # the pages: no small count in a breakdown table a board member sees
    for kpi in ("ehcp_20wk", "open_caseload", "decision_6wk"):
        for cycle in ("", f"?cycle={MONTH}"):
            parser = _Cells()
            parser.feed(sim.get(f"/kpis/{kpi}{cycle}", BOARD).text)
            assert parser.cells, kpi
            for cell in parser.cells:
                if re.fullmatch(r"[\d,]+", cell):
                    assert not 0 < int(cell.replace(",", "")) < 5, (kpi, cycle, cell)


def test_quarterly_return_is_suppressed_like_the_api(sim: Sim) -> None:
    r = sim.get("/v1/exports/quarterly-return", BOARD)
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert rows and list(rows[0])[:6] == [
        "la_code",
        "la_name",
        "quarter",
        "quarter_start",
        "quarter_end",
        "kpi",
    ]
    api = {
        (d["kpi"], d["cycle"]): d
        for d in sim.get("/v1/kpis").json()["kpis"]
        if d["breakdown"] == "all"
    }
    quarters = {row["quarter"] for row in rows}
    assert {"2026/27-Q2", "2026/27-Q3"} <= quarters
    seen = set()
    for row in rows:
        assert (row["kpi"], row["quarter"]) not in seen  # one row per KPI per quarter
        seen.add((row["kpi"], row["quarter"]))
        for name in ("numerator", "denominator"):
            v = row[name]
            assert v in ("c", "x", "z") or not 0 < int(v) < 5, row  # EES symbols
        d = api.get((row["kpi"], row["quarter"]))
        if d is not None:
            n = d["numerator"]  # a reported figure has none: x (not available)
            want = "c" if "numerator" in d["suppressed"] else ("x" if n is None else str(n))
            assert row["numerator"] == want, row
            target = "" if d["target"] is None else f"{d['target']:g}"
            if row["goal_basis"] == "to_be_established":
                target = "to be established"
            assert row["trajectory_target"] == target, row
    one = sim.get("/v1/exports/quarterly-return?quarter=2026/27-Q2").text
    assert {row["quarter"] for row in csv.DictReader(io.StringIO(one))} == {"2026/27-Q2"}
    assert one == sim.get("/v1/exports/quarterly-return?quarter=2026/27-Q2", OPS).text


# --- the insight summary ------------------------------------------------------------------


def test_insight_summary_matches_the_api(sim: Sim) -> None:
    r = sim.get(f"/v1/reports/insight?month={MONTH}&format=json")
    assert r.status_code == 200
    summary = r.json()
    rows = {k["kpi"]: k for k in summary["kpis"]}
    md = sim.get(f"/v1/reports/insight?month={MONTH}&format=md").text
    assert md.startswith("# SEND partnership monthly insight summary: October 2026")
    for kpi in ("ehcp_20wk", "ehcp_20wk_ex", "decision_6wk", "advice_6wk_health"):
        api = sim.get(f"/v1/kpis?kpi={kpi}&cycle={MONTH}&breakdown=all").json()["kpis"][0]
        prev = sim.get(f"/v1/kpis?kpi={kpi}&cycle=2026-09&breakdown=all").json()["kpis"][0]
        row = rows[kpi]
        assert row["value"] == api["value"]
        text = api["suppressed"].get("value") or f"{api['value']:.1f}%"
        assert row["value_text"] == text and f"| {text} |" in md
        rev = api["upstream_revision"]
        status = "final" if rev <= 1 else f"revised (revision {rev})"
        assert row["rag"] == api["rag"] and row["status"] == status
        if api["value"] is not None and prev["value"] is not None:
            diff = round(api["value"] - prev["value"], 1)
            assert f"{abs(diff):.1f} points on September 2026" in row["movement"]["text"]
    for kpi in ("open_caseload", "backlog_over_20wk"):  # point in time: at the month's end
        revs = sim.get(f"/v1/kpis/{kpi}?cycle=current").json()["revisions"]
        at_end = [v for v in revs if v["as_of"] <= "2026-10-31T23:59:59Z"][-1]
        assert rows[kpi]["value_text"] == (
            at_end["suppressed"].get("value") or f"{at_end['value']:,.0f}"
        )
    assert summary["exceptions"] is not None  # the alerts service answered
    assert "case-" not in md  # case-level alerts only as counts
    html = sim.get(f"/v1/reports/insight?month={MONTH}&format=html").text
    assert "<svg" in html and rows["ehcp_20wk"]["value_text"] in html and "<script" not in html
    from services.reporting.pdf import chromium_path

    if chromium_path() is not None:
        pdf = sim.get(f"/v1/reports/insight?month={MONTH}&format=pdf")
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    # the CLI's function gives the same document
    from services.reporting.reports import fetch_insight

    assert fetch_insight(MONTH, "md", url=sim.url("reporting", "")).decode() == md


# --- revisions, logs and metrics ------------------------------------------------------------


def test_every_revision_is_kept_and_served(sim: Sim) -> None:
    body = sim.get(f"/v1/kpis/ehcp_20wk?cycle={MONTH}", OPS).json()
    revs = body["revisions"]
    assert [r["revision"] for r in revs] == list(range(1, len(revs) + 1))
    assert len(revs) >= 2 and revs[-1]["closed"] and not revs[0]["closed"]
    assert revs[-1]["upstream_revision"] >= 1
    board = sim.get(f"/v1/kpis/ehcp_20wk?cycle={MONTH}", BOARD).json()["revisions"]
    assert len(board) == len(revs)
    for b in board:
        for name in ("numerator", "denominator"):
            assert b[name] is None or not 0 < b[name] < 5


def test_logs_carry_the_trace_and_never_the_event_id(sim: Sim) -> None:
    lines = (sim.var / "logs" / "reporting.log").read_text().splitlines()
    applied = [json.loads(ln) for ln in lines if '"snapshot_applied"' in ln]
    assert applied
    for entry in applied:
        assert entry["service"] == "reporting" and "event_id" not in entry
        assert re.fullmatch(r"[0-9a-f]{32}", entry["trace_id"])
        assert entry["topic"] == "sendwatch.kpi-snapshots.v1" and entry["offset"] >= 0


def test_kpi_gauges_and_snapshot_age(sim: Sim) -> None:
    text = httpx.get(sim.url("reporting", "/metrics"), timeout=10).text
    gauges = re.findall(r"^sendwatch_kpi_value\{([^}]*)\} (\S+)$", text, re.M)
    labels = [dict(re.findall(r'(\w+)="([^"]*)"', g)) for g, _ in gauges]
    assert {"kpi": "open_caseload", "cycle": "current", "breakdown": "all"} in labels
    assert {"kpi": "ehcp_20wk", "cycle": MONTH, "breakdown": "all"} in labels
    assert all(lb["breakdown"] == "all" for lb in labels)
    per_kpi = defaultdict(int)
    for lb in labels:
        per_kpi[lb["kpi"]] += 1
    # the cycle in progress and the latest closed month, quarter and term: at most four
    assert max(per_kpi.values()) <= 4
    caseload = sim.get("/v1/kpis?kpi=open_caseload&cycle=current", OPS).json()["kpis"][0]
    assert (
        f'sendwatch_kpi_value{{breakdown="all",cycle="current",kpi="open_caseload"}} '
        f"{caseload['value']}" in text
    )
    stamp = float(
        re.search(
            r"^sendwatch_kpi_snapshot_last_published_timestamp_seconds (\S+)$", text, re.M
        ).group(1)
    )
    assert time.time() - 600 < stamp <= time.time() + 1


# --- pages ---------------------------------------------------------------------------------


def test_pages_work_without_javascript(sim: Sim) -> None:
    home = sim.get("/")
    assert home.status_code == 200 and "<script" not in home.text
    tiles = re.findall(r'class="sw-tile__value" data-kpi="([a-z0-9_]+)">([^<]+)<', home.text)
    from contracts.kpi_dictionary import load_kpis

    headline = [kpi for kpi, k in load_kpis().kpis.items() if k.headline]  # every headline KPI
    assert sorted(k for k, _ in tiles) == sorted(headline)
    assert all(v.strip() not in ("No data yet", "-") for _, v in tiles)
    page = sim.get("/kpis/ehcp_20wk", BOARD).text
    assert "<svg" in page and 'role="img"' in page and "<caption>" in page
    assert "Already decided this quarter" in page and "Benchmark" in page
    # the benchmark panel, loaded or not: the DfE extract shipped with sendwatch
    assert "North Yorkshire" in page and "England" in page
    alerts = sim.get("/alerts", BOARD)
    assert alerts.status_code == 200 and "case-" not in alerts.text
    ops_alerts = sim.get("/alerts?kind=milestone", OPS).text
    assert "case-" in ops_alerts
    assert sim.get("/alerts/outbox", BOARD).status_code == 403
    assert sim.get("/alerts/outbox", OPS).status_code == 200
    assert sim.get("/alerts").status_code == 401
    with httpx.Client(base_url=sim.url("reporting", "")) as browser:
        form = browser.get("/sign-in")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert csrf is not None
        origin = {"Origin": str(browser.base_url).rstrip("/")}
        r = browser.post(
            "/sign-in",
            data={"token": "dev-operational-token", "csrf": csrf.group(1)},
            headers=origin,
        )
        assert r.status_code == 303 and "httponly" in r.headers["set-cookie"].lower()
        assert "dev-operational-token" not in r.headers["set-cookie"]
        assert browser.get("/cases-at-risk").status_code == 200
        form = browser.get("/sign-in")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert csrf is not None
        bad = browser.post(
            "/sign-in", data={"token": "guess", "csrf": csrf.group(1)}, headers=origin
        )
        assert bad.status_code == 401 and "not recognised" in bad.text


def test_pages_say_when_the_alerts_service_is_unavailable(sim: Sim) -> None:
    """Last in this module: it stops the alerts service."""
    proc = sim.stack.children["alerts"]
    proc.terminate()
    proc.wait(timeout=30)
    page = sim.get("/alerts", BOARD)
    assert page.status_code == 200 and "Alerts service unavailable" in page.text
    assert "Alerts service unavailable" in sim.get("/kpis/ehcp_20wk", BOARD).text
    summary = sim.get(f"/v1/reports/insight?month={MONTH}&format=json").json()
    assert summary["exceptions"] is None and any("alerts service" in n for n in summary["notes"])
    assert sim.get("/").status_code == 200
