"""The wording of capacity alerts (``capacity.py``): CAP1 full, CAP2 under-used."""

from __future__ import annotations

from services.alerts.domain.model import Alert

RULES = {
    "CAP1": "An inclusion base is full: no places left for new placements",
    "CAP2": "An inclusion base is under-used a term after opening",
}


def render(alert: Alert) -> tuple[str, str]:
    """Subject and body of a capacity alert."""
    f = alert.facts
    full = alert.rule == "CAP1"
    subject = (
        f"Inclusion base {f.get('base')} "
        f"{'is full' if full else 'is under-used'} ({f.get('cycle_label')})"
    )
    state = (
        f"is at {f.get('value')}% of its commissioned places ({f.get('filled')} of "
        f"{f.get('places')}), at or above {f.get('full_percent')}%"
        if full
        else f"is at {f.get('value')}% of its commissioned places ({f.get('filled')} of "
        f"{f.get('places')}), below {f.get('underused_percent')}%, a term after it opened"
    )
    ask = (
        "Check the waiting demand for this phase and locality, and whether places can be "
        "added or children placed at another base."
        if full
        else "Check referrals to the base and whether the places are right for local need."
    )
    lines = [
        f"To {f.get('workstream')}.",
        "",
        "WHAT HAS HAPPENED",
        f"Inclusion base {f.get('base')} {state} at the end of {f.get('cycle_label')}.",
        f"Measure: {f.get('kpi_name')} ({f.get('kpi_ref')}). Accountable owner: "
        f"{f.get('owner') or 'not named'}.",
        "",
        "WHY YOU ARE RECEIVING THIS",
        f"Rule {alert.rule} ({RULES[alert.rule]}).",
        "",
        "WHAT IS ASKED",
        ask,
    ]
    return subject, "\n".join(lines)
