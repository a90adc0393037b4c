"""The exception report, monthly highlight report and QAG pack: built from events alone,
the same for a past date however many events came after, in Markdown, CSV, HTML, PDF."""

from __future__ import annotations

from datetime import date

import pytest

from contracts.programme import load_programme
from services.alerts import programme_documents as docs
from services.alerts.domain.programme_report import exception_report, highlight_report, qag_pack
from services.alerts.domain.programme_rules import exceptions
from services.alerts.domain.programme_state import fold
from services.reporting.pdf import chromium_path
from tests.programme_helpers import ev, raid

P = load_programme()
D = date.fromisoformat
EVENTS = [
    raid("raid-000201", "2026-11-02", dependency="d-dfs", owner="ws2-lead", milestones=["o06-q3"]),
    raid(
        "raid-000202",
        "2026-11-02",
        kind="risk",
        owner="ws2-lead",
        dependency=None,
        milestones=["o06-q3"],
    ),
    raid(
        "raid-000201",
        "2026-11-16",
        dependency="d-dfs",
        owner="ws2-lead",
        status="off_track",
        milestones=["o06-q3"],
        raised=False,
    ),
    ev(
        "milestone.status",
        "milestone:o06-q3",
        "2026-11-17",
        milestone="o06-q3",
        status="at_risk",
        reason="dependency_slipping",
        evidence_date="2026-11-16",
    ),
    ev(
        "action.agreed",
        "action-000201",
        "2026-11-20",
        owner="ws2-lead",
        due="2026-11-27",
        raid="raid-000201",
        recovery=True,
    ),
]
LATER = [
    ev(
        "exception.recorded",
        "raid-000201",
        "2026-12-01",
        raid="raid-000201",
        milestone="o06-q3",
        options=["resequence"],
        recovery_actions=["action-000201"],
    ),
    ev("action.completed", "action-000201", "2026-12-02"),
    ev(
        "decision.recorded",
        "decision-000201",
        "2026-12-08",
        forum="qag",
        date="2026-12-08",
        outcome="recovery_plan_accepted",
        raid="raid-000201",
        pack="2026-12-08",
    ),
]


def _docs(events: list, on: str) -> tuple[str, str, str]:
    st = fold(events, D(on))
    cases = exceptions(P, st, {})
    [case] = cases
    return (
        docs.to_markdown(exception_report(P, st, case, {})),
        docs.to_markdown(highlight_report(P, st, cases, {}, on[:7])),
        docs.to_markdown(qag_pack(P, st, cases, {}, D("2026-12-08"))),
    )


def test_a_past_date_is_reproduced_whatever_came_after() -> None:
    before = _docs(EVENTS, "2026-11-30")
    assert _docs(EVENTS + LATER, "2026-11-30") == before
    assert _docs(EVENTS + LATER, "2026-12-08") != before


def test_exception_report_contents() -> None:
    report, _, _ = _docs(EVENTS, "2026-11-30")
    assert "| o06-q3 |" in report and "| amber |" in report
    assert (
        "| raid-000201 | dependency | Data, finance and sufficiency | ws2-lead | off_track |"
        in report
    )
    assert "| overdue | no |" in report and "| report due | 2026-11-30 |" in report
    assert "| action-000201 | ws2-lead | 2026-11-27 | overdue |" in report
    after, _, _ = _docs(EVENTS + LATER, "2026-12-08")
    assert (
        "| resequence |" in after
        and "| action-000201 | ws2-lead | 2026-11-27 | complete |" in after
    )


def test_highlight_and_pack_contents() -> None:
    _, highlight, pack = _docs(EVENTS, "2026-11-30")
    assert "| ws2 | WS2 Commissioning and Quality | 18 | 0 | 0 | 1 | 6 | 11 |" in highlight
    assert "| overdue recovery actions | 1 |" in highlight
    assert "| raid-000201 | o06-q3 | recovery plan | qag |" in highlight
    assert "## Linked risks" in pack and "| raid-000202 | ws2-lead | 3 | 3 | 9 | o06-q3 |" in pack
    assert "| action-000201 | ws2-lead | 2026-11-27 | raid-000201 | yes |" in pack
    _, _, later = _docs(EVENTS + LATER, "2026-12-08")
    assert (
        "| decision-000201 | recovery_plan_accepted against the QAG pack of 2026-12-08 |" in later
    )


def test_csv_and_html() -> None:
    st = fold(EVENTS, D("2026-11-30"))
    doc = qag_pack(P, st, exceptions(P, st, {}), {}, D("2026-12-08"))
    csv = docs.to_csv(doc)
    assert csv.splitlines()[0] == "section,field,value"
    assert "Overdue actions #1,action,action-000201" in csv
    html = docs.to_html(doc)
    assert html.startswith("<!doctype html>") and "<h2>Linked risks</h2>" in html
    with pytest.raises(ValueError, match="format"):
        docs.render(doc, "docx")


@pytest.mark.skipif(chromium_path() is None, reason="needs Chromium")
def test_pdf() -> None:
    st = fold(EVENTS, D("2026-11-30"))
    doc = highlight_report(P, st, exceptions(P, st, {}), {}, "2026-11")
    content, media = docs.render(doc, "pdf")
    assert media == "application/pdf" and content.startswith(b"%PDF")
