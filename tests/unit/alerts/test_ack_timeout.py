"""The acknowledgement timeout (``ack_timeout_days`` in escalation.yaml): an alert
acknowledged at a level with no recovery plan by the end of the timeout reopens and
moves on to the next level; a plan recorded in time keeps it acknowledged."""

from __future__ import annotations

from typing import Any

from contracts.escalation import EscalationConfig
from tests.unit.alerts.scenario import CONFIG, Scenario, at

QAG = "qag@example.org"
BOARD = "send-partnership-board@example.org"

TO_QAG: list[dict[str, Any]] = [
    {"at": "2026-06-11", "cycle": "2026-05", "value": 40.0},
    {"at": "2026-07-11", "cycle": "2026-06", "value": 45.0},  # R11: WS3
    {"at": "2026-07-19", "tick": True},  # 7 days, nobody acknowledged: QAG
    {"at": "2026-07-20", "ack": "R11", "by": "QAG chair"},
]


def board_alerts(h: Scenario) -> list[tuple[str, int, str, str]]:
    return [m for m in h.mail() if m[0] == BOARD and m[3] == "R11"]


def test_acknowledged_with_no_plan_by_the_timeout_reopens_and_goes_to_the_next_level() -> None:
    assert CONFIG.policies["ws3-governance"].levels[1].ack_timeout_days == 14
    h = Scenario()
    h.run([*TO_QAG, {"at": "2026-08-02", "tick": True}])
    a = h.find("R11")
    assert (a.status, a.level, a.acked_by) == ("acknowledged", 2, "QAG chair")
    assert board_alerts(h) == []

    h.run([{"at": "2026-08-03", "tick": True}])  # 14 days after the acknowledgement
    a = h.find("R11")
    assert (a.status, a.level, a.acked_by) == ("open", 3, None)
    assert a.level_at == at("2026-07-20").replace(day=3, month=8)
    assert board_alerts(h) == [(BOARD, 3, "alert", "R11")]
    mail = [n for n in h.sent if n.recipient == BOARD and n.notice == "alert"]
    r11 = [n for n in mail if n.alert_id == a.id][0]
    assert "no recovery plan after acknowledgement" in r11.subject
    text = " ".join(r11.body.split())
    assert "Acknowledged by QAG chair on" in text
    assert "no recovery plan was recorded within 14 days" in text
    kinds = [k for k, _ in h.timeline("R11")]
    assert kinds.count("ack_expired") == 1
    # the reopened alert can be acknowledged again, and its own chain runs on
    h.run([{"at": "2026-08-04", "ack": "R11", "by": "Board co-chair"}])
    assert h.find("R11").status == "acknowledged"


def test_a_recovery_plan_in_time_keeps_the_acknowledgement() -> None:
    h = Scenario()
    h.run([*TO_QAG, {"at": "2026-07-30", "plan": "R11"}, {"at": "2026-08-20", "tick": True}])
    a = h.find("R11")
    assert (a.status, a.level) == ("acknowledged", 2)
    assert board_alerts(h) == []
    assert "ack_expired" not in [k for k, _ in h.timeline("R11")]


def test_without_a_timeout_an_acknowledgement_lasts() -> None:
    raw = CONFIG.model_dump()
    raw["policies"]["ws3-governance"]["levels"][1]["ack_timeout_days"] = None
    h = Scenario(config=EscalationConfig.model_validate(raw))
    h.run([*TO_QAG, {"at": "2026-08-20", "tick": True}])
    assert h.find("R11").status == "acknowledged"
    assert board_alerts(h) == []
