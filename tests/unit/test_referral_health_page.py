"""The health section's pure parts: band labels from the CHS layout, and the R5 rows
with each recovery action's state (done, overdue, open)."""

from __future__ import annotations

from datetime import date

from contracts.kpi_dictionary import WaitingList, load_kpis
from contracts.referrals import load_referrals
from services.reporting.domain import health


def test_band_labels_and_names_follow_the_kpi_and_the_layout() -> None:
    config = load_referrals()
    k = load_kpis().kpis[config.chs_waiting_list.kpi]
    assert isinstance(k, WaitingList)
    assert health.band_names(k)[0] == "band_0_7_days"
    assert health.band_names(k)[-1] == "band_729_plus_days"
    labels = [health.band_label(c) for c in config.chs_waiting_list.band_columns]
    assert labels[0] == "0-1 weeks" and labels[-1] == "over 104 weeks"
    assert len(labels) == len(health.band_names(k))


def test_r5_rows_say_which_actions_are_done_overdue_or_open() -> None:
    alerts = [
        {"id": "al-1", "status": "resolved", "kpi": "x", "facts": {}},
        {
            "id": "al-2",
            "status": "acknowledged",
            "kpi_name": "First-appointment capacity against new referrals (weekly)",
            "level_body": "Senior Responsible Owner for SEND reform (SRO)",
            "recovery_plan": {"due": "2026-12-10", "recorded_at": "2026-11-30T10:00:00Z"},
            "facts": {
                "recovery_actions": [
                    {
                        "n": 1,
                        "action": "a",
                        "owner": "o",
                        "due": "2026-11-30",
                        "done_on": "2026-11-29",
                    },
                    {
                        "n": 2,
                        "action": "b",
                        "owner": "o",
                        "due": "2026-12-01",
                        "overdue_alert": "al-9",
                    },
                    {"n": 3, "action": "c", "owner": "o", "due": "2026-12-03"},
                    {"n": 4, "action": "d", "owner": "o", "due": "2027-01-15"},
                ]
            },
        },
    ]
    rows = health.r5_rows(alerts, date(2026, 12, 5))
    assert [r.alert_id for r in rows] == ["al-2", "al-1"]  # open first
    assert [a.state for a in rows[0].actions] == ["done", "overdue", "overdue", "open"]
    assert rows[0].plan == "recorded 2026-11-30"
    assert rows[1].plan == "not asked" and rows[1].actions == []
