"""Sufficiency alerts: a high-cost decision not reviewed within its working days raises
an MS1 exception (clock ``high_cost_review``, counted in working days); an inclusion
base that is full, or under-used a term after opening, alerts its workstream."""

from __future__ import annotations

from datetime import date

from contracts.placements import load_placements
from services.alerts.service_layer.handlers import Context
from tests.placements_fixture import ENGINE, ev, states
from tests.unit.alerts.scenario import Scenario

DECISION = "pl-0000000000000001"


def decided(day: date) -> dict[str, object]:
    return ev(
        "placement.high-cost.decided",
        DECISION,
        day,
        person_id="person-000001",
        locality="ludlow",
        decision="approved",
        annual_cost=120000,
        cost_band="100k-200k",
        setting_type="special_independent",
    )


def slipped(raws: list[dict[str, object]], today: date) -> list[str]:
    (s,) = states(raws)
    return [a.kind for a in ENGINE.alerts_due(s, today, frozenset()) if a.kind == "slipped"]


def test_a_decision_not_reviewed_in_ten_working_days_slips_bank_holidays_excluded() -> None:
    raws = [decided(date(2026, 12, 17))]  # a Thursday before Christmas
    (s,) = states(raws)
    (warning,) = ENGINE.alerts_due(s, date(2027, 1, 4), frozenset())
    assert (warning.kind, warning.due) == ("early_warning", date(2027, 1, 5))
    assert slipped(raws, date(2027, 1, 5)) == []  # the tenth working day
    assert slipped(raws, date(2027, 1, 6)) == ["slipped"]


def test_a_reviewed_decision_raises_nothing() -> None:
    raws = [
        decided(date(2026, 12, 17)),
        ev(
            "placement.high-cost.reviewed",
            DECISION,
            date(2026, 12, 22),
            person_id="person-000001",
            outcome="challenged",
            reviewed_by="sufficiency-panel",
        ),
    ]
    assert slipped(raws, date(2027, 2, 1)) == []


# --- capacity alerts (alerts service) ---------------------------------------------------


WS2 = "ws2-sufficiency@example.org"


class Capacity(Scenario):
    @property
    def ctx(self) -> Context:
        return Context(
            self.config,
            self.dictionary,
            horizon_days=self.horizon_days,
            capacity=load_placements().alerts,
        )


def base(cycle: str, when: str, filled: int, places: int, b: str = "ib-001") -> dict[str, object]:
    return {
        "at": when,
        "cycle": cycle,
        "breakdown": f"base={b}",
        "value": round(100 * filled / places, 1) if places else None,
        "numerator": filled,
        "denominator": places,
    }


def test_a_full_base_alerts_its_workstream_once() -> None:
    h = Capacity(kpi="inclusion_base_occupancy")
    h.run([base("2026/27-T1", "2027-01-15", 12, 12), base("2026/27-T1", "2027-01-16", 12, 12)])
    a = h.find("CAP1")
    assert a.breakdown == "base=ib-001" and a.facts["places"] == 12
    assert h.mail() == [(WS2, 1, "alert", "CAP1")]
    assert "Inclusion base ib-001 is full" in h.sent[0].subject


def test_an_under_used_base_alerts_only_a_term_after_it_opened() -> None:
    h = Capacity(kpi="inclusion_base_occupancy")
    h.run([base("2026/27-T1", "2027-01-15", 2, 10)])  # its first term: no alert
    assert h.alerts == {}
    h.run([base("2026/27-T2", "2027-04-30", 4, 10)])  # a term later, still under 50%
    assert h.find("CAP2").facts["value"] == 40.0
    assert h.mail() == [(WS2, 1, "alert", "CAP2")]
    h.run([base("2026/27-T3", "2027-09-10", 6, 10)])  # 60%: nothing new
    assert [a.rule for a in h.alerts.values()] == ["CAP2"]


def test_capacity_rules_ignore_other_kpis_and_breakdowns() -> None:
    h = Capacity(kpi="inclusion_base_occupancy")
    h.run([{**base("2026/27-T1", "2027-01-15", 12, 12), "breakdown": "phase=primary"}])
    assert not [a for a in h.alerts.values() if a.rule.startswith("CAP")]
