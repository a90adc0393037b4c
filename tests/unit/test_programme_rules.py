"""R1-R4 on the programme state: table tests with working-day deadlines across
Christmas and Easter (English bank holidays)."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from contracts.kpi_dictionary import load_kpis
from contracts.programme import load_programme
from services.alerts.domain.programme_rules import (
    decide,
    exceptions,
    overdue_recovery_actions,
    pack_audit,
    qag_packs,
)
from services.alerts.domain.programme_state import fold
from tests.programme_helpers import ev, raid

P = load_programme()
D = date.fromisoformat


def test_plan_has_fourteen_objectives_by_quarter_with_known_kpis() -> None:
    assert len(P.objectives) == 14
    assert len(P.plan) == 42
    assert {m.quarter for m in P.plan.values()} == {"Q2", "Q3", "Q4"}
    m = P.plan["o03-q3"]
    assert (m.workstream, m.owner, m.forum, m.due) == ("ws3", "ws3-lead", "ws3", D("2026-12-31"))
    assert "ehcp_20wk" in m.kpis and "d-nhs" in m.dependencies
    assert P.kpi_problems(set(load_kpis().kpis)) == []


@pytest.mark.parametrize(
    ("forum", "start", "end", "expected"),
    [
        ("qag", "2026-12-01", "2027-02-28", ["2026-12-08", "2027-01-12", "2027-02-09"]),
        ("ws1", "2026-12-01", "2027-01-31", ["2026-12-17", "2027-01-28"]),
        ("cab", "2026-12-01", "2027-03-31", ["2026-12-23", "2027-02-24"]),
        ("pb", "2027-01-13", "2027-03-31", ["2027-02-10", "2027-03-24"]),
    ],
)
def test_forum_cadences(forum: str, start: str, end: str, expected: list[str]) -> None:
    assert [str(d) for d in P.forums[forum].meetings(D(start), D(end))] == expected


def test_references_are_numbers_not_words() -> None:
    ok = ev(
        "milestone.status",
        "milestone:o03-q3",
        "2026-12-01",
        milestone="o03-q3",
        status="at_risk",
        reason="partner_delay",
        evidence_date="2026-12-01",
        ref="min-2026-11/4",
    )
    assert ok.data.ref == "min-2026-11/4"
    for bad in ("smith", "Jane-Smith-1", "see the notes of the meeting"):
        with pytest.raises(ValidationError):
            ev(
                "milestone.status",
                "milestone:o03-q3",
                "2026-12-01",
                milestone="o03-q3",
                status="at_risk",
                reason="partner_delay",
                evidence_date="2026-12-01",
                ref=bad,
            )


def test_events_reject_unknown_references_and_free_text() -> None:
    with pytest.raises(ValidationError, match="milestones"):
        ev(
            "milestone.status",
            "milestone:o99-q9",
            "2026-12-01",
            milestone="o99-q9",
            status="at_risk",
            reason="partner_delay",
            evidence_date="2026-12-01",
        )
    with pytest.raises(ValidationError):
        raid("raid-000001", "2026-12-01", owner="jane.smith@example.org")
    with pytest.raises(ValidationError):
        ev(
            "milestone.status",
            "milestone:o03-q3",
            "2026-12-01",
            milestone="o03-q3",
            status="at_risk",
            reason="the lead is off sick",
            evidence_date="2026-12-01",
        )


# --- R1 -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("marked", "report_due"),
    [
        ("2026-11-02", "2026-11-16"),  # plain fortnight
        ("2026-12-18", "2027-01-06"),  # Christmas, Boxing Day (Mon 28th), New Year's Day
        ("2027-03-22", "2027-04-07"),  # Good Friday 26 March, Easter Monday 29 March 2027
    ],
)
def test_r1_exception_report_due_in_ten_working_days(marked: str, report_due: str) -> None:
    events = [
        raid("raid-000001", "2026-10-01", milestones=["o03-q4"]),
        raid("raid-000001", marked, status="off_track", milestones=["o03-q4"], raised=False),
    ]
    st = fold(events, D(marked))
    [case] = exceptions(P, st)
    assert (case.opened, case.report_due, case.triggers) == (D(marked), D(report_due), ("status",))
    notices = decide(P, st)
    [alert] = [n for n in notices if n.rule == "R1"]
    assert alert.kind == "exception" and alert.on == D(marked)
    assert alert.to == ("icb-sro", "ws3-lead", "ws3")  # owner, milestone owner, its forum
    # the day the report is due it is not overdue; the day after it is
    due = D(report_due)
    assert not [n for n in decide(P, fold(events, due)) if n.kind == "overdue"]
    after = date.fromordinal(due.toordinal() + 1)
    [over] = [n for n in decide(P, fold(events, after)) if n.kind == "overdue"]
    assert over.on == after and over.to == ("icb-sro", "pmo", "ws3")


@pytest.mark.parametrize(
    ("case", "events", "as_of", "expected"),
    [
        (
            "on track: nothing",
            [raid("raid-000002", "2026-11-01", milestones=["o03-q3"])],
            "2026-11-20",
            [],
        ),
        (
            "missed its own due date",
            [raid("raid-000002", "2026-11-01", due="2026-11-20", milestones=["o03-q3"])],
            "2026-11-23",
            [("o03-q3", "2026-11-21", ("missed_due",))],
        ),
        (
            "a risk does not open an exception",
            [
                raid(
                    "raid-000002",
                    "2026-11-01",
                    kind="risk",
                    status="off_track",
                    milestones=["o03-q3"],
                )
            ],
            "2026-11-23",
            [],
        ),
        (
            "closed: nothing",
            [
                raid("raid-000002", "2026-11-01", status="off_track", milestones=["o03-q3"]),
                ev("raid.closed", "raid-000002", "2026-11-02", reason="resolved"),
            ],
            "2026-11-23",
            [],
        ),
        (
            "milestone complete: nothing",
            [
                raid("raid-000002", "2026-11-01", status="at_risk", milestones=["o03-q3"]),
                ev(
                    "milestone.status",
                    "milestone:o03-q3",
                    "2026-10-30",
                    milestone="o03-q3",
                    status="complete",
                    reason="delivered",
                    evidence_date="2026-10-29",
                ),
            ],
            "2026-11-23",
            [],
        ),
        (
            "dependency only: the next quarter-end milestones relying on it",
            [raid("raid-000002", "2026-11-01", dependency="d-car", status="at_risk")],
            "2026-11-05",
            [("o01-q3", "2026-11-01", ("status",)), ("o02-q3", "2026-11-01", ("status",))],
        ),
    ],
)
def test_r1_triggers(case: str, events: list, as_of: str, expected: list) -> None:
    got = [(c.milestone, str(c.opened), c.triggers) for c in exceptions(P, fold(events, D(as_of)))]
    assert got == expected, case


def test_r1_kpi_off_trajectory_threatens_milestone_that_moves_it() -> None:
    events = [raid("raid-000003", "2026-10-01", kind="issue", milestones=["o03-q3"])]
    st = fold(events, D("2026-11-10"))
    assert exceptions(P, st, {"decision_6wk": D("2026-11-05")}) == []
    [c] = exceptions(P, st, {"ehcp_20wk": D("2026-11-05")})
    assert (c.opened, c.triggers, c.kpis) == (D("2026-11-05"), ("kpi_trajectory",), ("ehcp_20wk",))


def test_r1_report_recorded_in_time_is_not_overdue() -> None:
    events = [
        raid("raid-000004", "2026-12-18", status="off_track", milestones=["o03-q4"]),
        ev(
            "action.agreed",
            "action-000001",
            "2026-12-22",
            owner="ws3-lead",
            due="2027-01-29",
            raid="raid-000004",
            milestone="o03-q4",
            recovery=True,
        ),
        ev(
            "exception.recorded",
            "raid-000004",
            "2027-01-06",
            raid="raid-000004",
            milestone="o03-q4",
            options=["backfill", "resequence"],
            recovery_actions=["action-000001"],
        ),
    ]
    notices = decide(P, fold(events, D("2027-01-20")))
    kinds = [n.kind for n in notices if n.rule == "R1"]
    assert kinds == ["exception", "recorded"]


# --- R2 -------------------------------------------------------------------------------


def test_r2_pack_per_qag_meeting_issued_three_working_days_before() -> None:
    packs = qag_packs(P, D("2026-11-20"), D("2027-02-28"))
    assert [(str(m), str(i)) for m, i in packs] == [
        ("2026-12-08", "2026-12-03"),
        ("2027-01-12", "2027-01-07"),
        ("2027-02-09", "2027-02-04"),
    ]
    st = fold([raid("raid-000005", "2026-11-20")], D("2027-01-07"))
    packs_sent = [n for n in decide(P, st, since=D("2026-11-20")) if n.rule == "R2"]
    assert [n.key for n in packs_sent] == ["R2:2026-12-08", "R2:2027-01-12"]
    assert packs_sent[0].to == ("qag", "pmo")


def test_r2_decisions_against_packs_are_audited() -> None:
    events = [
        ev(
            "decision.recorded",
            "decision-000001",
            "2027-01-12",
            forum="qag",
            date="2027-01-12",
            outcome="corrective_action",
            raid="raid-000005",
            pack="2027-01-12",
        ),
        ev(
            "decision.recorded",
            "decision-000002",
            "2027-01-13",
            forum="qag",
            date="2027-01-13",
            outcome="noted",
            pack="2027-01-13",
        ),
    ]
    assert pack_audit(P, fold(events, D("2027-01-31"))) == [
        ("decision-000001", "corrective_action against the QAG pack of 2027-01-12"),
        ("decision-000002", "no QAG meeting on 2027-01-13: not a pack"),
    ]


# --- R3 -------------------------------------------------------------------------------

CAR = [
    raid(
        "raid-000006",
        "2026-12-18",
        dependency="d-car",
        status="off_track",
        owner="eqa",
        milestones=["o01-q4"],
    )
]


@pytest.mark.parametrize(
    ("as_of", "extra", "levels"),
    [
        ("2027-01-12", [], []),  # its QAG (first after opening) is 12 January
        ("2027-01-13", [], [("pb", "2027-01-13", "2027-02-10", "2027-01-20")]),
        (
            "2027-02-11",
            [],
            [
                ("pb", "2027-01-13", "2027-02-10", "2027-01-20"),
                ("cab", "2027-02-11", "2027-02-24", "2027-02-18"),
            ],
        ),
        # a QAG decision that it is resolved stops it
        (
            "2027-02-11",
            [
                ev(
                    "decision.recorded",
                    "decision-000003",
                    "2027-01-12",
                    forum="qag",
                    date="2027-01-12",
                    outcome="resolved",
                    raid="raid-000006",
                )
            ],
            [],
        ),
        # QAG decides to escalate at a meeting: the route starts that day
        (
            "2026-12-20",
            [
                ev(
                    "decision.recorded",
                    "decision-000004",
                    "2026-12-19",
                    forum="qag",
                    date="2026-12-19",
                    outcome="escalate",
                    raid="raid-000006",
                )
            ],
            [("pb", "2026-12-19", "2027-02-10", "2026-12-29")],
        ),
    ],
)
def test_r3_escalates_one_level_at_a_time(as_of: str, extra: list, levels: list) -> None:
    [c] = exceptions(P, fold(CAR + extra, D(as_of)))
    got = [(e.forum, str(e.on), str(e.meeting), str(e.ack_due)) for e in c.escalations]
    assert got == levels


def test_r3_each_level_once_and_acknowledgement() -> None:
    st = fold(CAR, D("2027-01-25"))
    notices = decide(P, st)
    r3 = [(n.key, n.kind, n.to) for n in notices if n.rule == "R3"]
    assert r3 == [
        ("R3:raid-000006:o01-q4:L1", "escalation", ("pb", "pmo")),
        ("R3a:raid-000006:o01-q4:L1", "unacknowledged", ("pb", "pmo")),
    ]
    assert decide(P, st) == notices  # deciding again: the same notices, the same keys
    acked = CAR + [
        ev("escalation.acknowledged", "raid-000006", "2027-01-14", raid="raid-000006", forum="pb")
    ]
    assert [n.kind for n in decide(P, fold(acked, D("2027-01-25"))) if n.rule == "R3"] == [
        "escalation"
    ]


# --- R4 -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("events", "as_of", "expected"),
    [
        # not updated in a week: owner on Christmas Day, the PMO lead 2 working days later
        (
            [raid("raid-000007", "2026-12-18", owner="ws2-lead", dependency="d-dfs")],
            "2026-12-31",
            [
                ("R4:raid-000007:2026-12-18", "2026-12-25", ("ws2-lead",)),
                ("R4p:raid-000007:2026-12-18", "2026-12-30", ("pmo",)),
            ],
        ),
        # an update restarts the week
        (
            [
                raid("raid-000007", "2026-12-18", owner="ws2-lead", dependency="d-dfs"),
                raid(
                    "raid-000007", "2026-12-24", owner="ws2-lead", dependency="d-dfs", raised=False
                ),
            ],
            "2026-12-30",
            [],
        ),
        # action past due over Easter: reminder Good Friday, PMO lead Wednesday 31 March
        (
            [
                ev(
                    "action.agreed",
                    "action-000002",
                    "2027-03-20",
                    owner="ws1-lead",
                    due="2027-03-25",
                )
            ],
            "2027-04-01",
            [
                ("R4:action-000002:2027-03-25", "2027-03-26", ("ws1-lead",)),
                ("R4p:action-000002:2027-03-25", "2027-03-31", ("pmo",)),
            ],
        ),
        (
            [
                ev(
                    "action.agreed",
                    "action-000002",
                    "2027-03-20",
                    owner="ws1-lead",
                    due="2027-03-25",
                ),
                ev("action.completed", "action-000002", "2027-03-25"),
            ],
            "2027-04-01",
            [],
        ),
    ],
)
def test_r4_one_reminder_to_the_owner_then_the_pmo_lead(
    events: list, as_of: str, expected: list
) -> None:
    notices = decide(P, fold(events, D(as_of)), since=D("2026-12-01"))
    got = [(n.key, str(n.on), n.to) for n in notices if n.rule == "R4" and n.kind != "weekly"]
    assert got == expected


def test_r4_weekly_update_due_when_no_raid_item_changed_that_week() -> None:
    events = [
        raid("raid-000008", "2027-01-06", dependency="d-dfs", owner="ws2-lead"),
        raid("raid-000008", "2027-01-14", dependency="d-dfs", owner="ws2-lead", raised=False),
    ]
    weekly = [
        str(n.on)
        for n in decide(P, fold(events, D("2027-01-29")), since=D("2027-01-01"))
        if n.kind == "weekly"
    ]
    assert weekly == ["2027-01-01", "2027-01-22", "2027-01-29"]


def test_overdue_recovery_actions_kpi() -> None:
    events = [
        ev(
            "action.agreed",
            "action-000003",
            "2027-01-04",
            owner="ws3-lead",
            due="2027-01-15",
            recovery=True,
        ),
        ev("action.agreed", "action-000004", "2027-01-04", owner="ws3-lead", due="2027-01-15"),
        ev(
            "action.agreed",
            "action-000005",
            "2027-01-04",
            owner="ws3-lead",
            due="2027-02-15",
            recovery=True,
        ),
    ]
    assert [a.id for a in overdue_recovery_actions(fold(events, D("2027-01-18")))] == [
        "action-000003"
    ]
    assert overdue_recovery_actions(fold(events, D("2027-01-15"))) == []
