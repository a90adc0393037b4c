"""The dashboard in a real browser: Playwright driving Debian's Chromium against the
running stack (timeliness, alerts, reporting, ingest) fed by the whole simulated county
(its NHS provider and placements too) for two simulated months.  The overview shows the
six headline metrics, each tile (lagging and leading indicators) with a real figure from
the county, a KPI page's chart and breakdown tables render, the core content needs no
JavaScript, and axe-core finds no serious or critical accessibility violation.  A
screenshot of the overview is kept in ``test-artifacts/overview.png``.

Needs ``pip install playwright``, ``apt-get install chromium`` and
``npm install --prefix tests/.axe axe-core``; skips, saying which is missing, otherwise.
Never runs ``playwright install``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from contracts.kpi_dictionary import load_kpis
from sendwatch.config import Settings
from tests.integration.test_dashboard import DFE, simulate

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / "tests" / ".axe" / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "test-artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
HEADLINE = {kpi for kpi, k in load_kpis().kpis.items() if k.headline}
# What a headline tile shows: a real figure (a count or a percentage), never "None yet",
# a suppressed "c" or "<5", or a withheld survey wave.
VALUE = re.compile(r"\d[\d,]*(\.\d+)?%?")


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install playwright; never `playwright install`)"
    if not CHROMIUM.exists():
        return "Debian's chromium is not installed (apt-get install chromium)"
    if not AXE.exists():
        return f"axe-core is not installed ({AXE}; npm install --prefix tests/.axe axe-core)"
    return None


def axe_problems(page: Any) -> list[str]:
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate("async () => (await axe.run()).violations")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in violations
        if v.get("impact") in ("serious", "critical")
    ]


@pytest.mark.timeout(720)  # the whole county's history and two months, on a busy machine
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_dashboard_in_a_real_browser(stack_factory) -> None:
    reason = _missing()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    stack = stack_factory("timeliness", "alerts", "reporting", "ingest")
    if DFE.is_dir():
        from services.reporting.benchmarks import load_benchmarks

        load_benchmarks(DFE, Settings(var_dir=stack.var_dir))
    # The whole county: case events, the Experts at Hand and outcomes sources, the NHS
    # community provider and the placements, so each of the six headline metrics has a
    # figure.  Two months of autumn 2026: the window starts holding the summer term's
    # DfE attendance figures and the Big Listen's first wave, published before it.
    simulate(
        stack,
        days=60,
        start="2026-10-01",
        extra=("--nhs-key", "dev-nhs-community-key", "--placements"),
        catch_up=420.0,
    )
    base = f"http://127.0.0.1:{stack.ports['reporting']}"
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            # --- overview, as the public (board-level, suppressed) view ---
            # The pages' CSP forbids inline scripts; axe is injected as one, so only
            # this test's page bypasses it.
            page = browser.new_page(viewport={"width": 1280, "height": 1000}, bypass_csp=True)
            page.goto(f"{base}/")
            assert page.title().startswith("Overview")
            values = {
                el.get_attribute("data-kpi"): el.inner_text().strip()
                for el in page.locator(".sw-tile__value").all()
            }
            assert set(values) == HEADLINE
            # every tile, lagging and leading, has a real figure from the simulated county
            assert {k: t for k, t in values.items() if not VALUE.fullmatch(t)} == {}
            # the Reform Plan's six headline metrics, each with its lagging and leading
            # indicators side by side; each measured one leads with a real figure
            sections = page.locator("section[data-headline]").all()
            assert len(sections) == 6
            ids = {
                k.headline if isinstance(k.headline, str) else "ehcp_timeliness"
                for k in load_kpis().kpis.values()
                if k.headline
            }
            members = {h: 0 for h in ids}  # each headline's KPIs in the dictionary
            for k in load_kpis().kpis.values():
                if k.headline:
                    members[k.headline if isinstance(k.headline, str) else "ehcp_timeliness"] += 1
            for section in sections:
                hid = section.get_attribute("data-headline")
                first = section.locator(".sw-tile__value").first
                assert hid in ids, hid  # all six are measured in the simulated county
                lead = first.inner_text().strip()
                assert VALUE.fullmatch(lead), (hid, lead)
                # its lagging (outcome) and leading indicators, side by side
                text = section.inner_text()
                assert "Outcome (lagging indicators)" in text and "Leading indicators" in text, hid
                assert section.locator(".sw-tile").count() == members[hid], hid
            for tile in page.locator(".sw-tile").all():
                body = tile.inner_text()
                for label in ("Target", "Baseline", "Standard", "Trend", "Data to"):
                    assert label in body
                assert re.search(r"On target|Close to target|Off target|No target|No RAG", body), (
                    body
                )
            page.screenshot(path=str(ARTIFACTS / "overview.png"), full_page=True)
            assert axe_problems(page) == []

            # --- a KPI page: chart, revisions table, breakdowns, benchmark ---
            page.goto(f"{base}/kpis/ehcp_20wk")
            chart = page.locator("svg.sw-chart").first
            assert chart.is_visible() and chart.get_attribute("role") == "img"
            box = chart.bounding_box()
            assert box is not None and box["width"] > 300 and box["height"] > 100
            assert page.locator("svg.sw-chart path[stroke-dasharray]").count() >= 1
            tables = page.locator("table.sw-breakdown")
            dims = [t.get_attribute("data-dimension") for t in tables.all()]
            # the breakdowns the dictionary declares for the KPI, in its order
            assert dims == ["locality", "age_band", "primary_need", "sex", "ethnicity", "phase"]
            assert page.locator("table.sw-breakdown tbody tr").count() >= 10
            main = page.inner_text("main")
            assert "Already decided this quarter" in main
            # the benchmark panel, from DfE's published figures (shipped with sendwatch)
            assert "North Yorkshire" in main and "West Midlands" in main
            # choose another period with the form (no JavaScript needed: a GET form)
            page.select_option("#cycle", index=1)
            page.click("form.sw-form-row button")
            assert "cycle=" in page.url and page.locator("table.sw-breakdown").count() >= 1
            page.goto(f"{base}/kpis/ehcp_20wk")
            assert axe_problems(page) == []

            # --- sign in through the form as the EHCP team: cases at risk, alerts ---
            page.goto(f"{base}/sign-in")
            page.fill("#token", "dev-operational-token")
            page.click("form button[type=submit]")
            page.goto(f"{base}/cases-at-risk")
            assert page.locator("#cases tbody tr").count() > 10
            # pseudonymous ids only: EHC cases and the placements' high-cost decisions
            ids_shown = [th.inner_text() for th in page.locator("#cases tbody tr th").all()]
            assert all(re.fullmatch(r"case-[0-9a-f]+|pl-sim[0-9]+", i) for i in ids_shown)
            assert any(i.startswith("case-") for i in ids_shown)
            assert axe_problems(page) == []
            page.goto(f"{base}/alerts")
            assert page.locator("h1").inner_text() == "Alerts"
            assert axe_problems(page) == []
            page.goto(f"{base}/downloads")
            assert axe_problems(page) == []
            page.close()

            # --- the core content without JavaScript ---
            context = browser.new_context(java_script_enabled=False)
            nojs = context.new_page()
            nojs.goto(f"{base}/")
            assert nojs.locator(".sw-tile__value").count() == len(HEADLINE)
            nojs.goto(f"{base}/kpis/open_caseload")
            assert nojs.locator("table.sw-breakdown").count() == 1
            context.close()
        finally:
            browser.close()
