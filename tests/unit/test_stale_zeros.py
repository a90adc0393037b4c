"""Point-in-time values fall to zero and the zero is published: after any sequence of
batches, the latest published value of every current-position cell (as reporting keeps
them: the last value per key) equals what timeliness computes from its own state, zeros
included (a key it no longer has must read zero)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.timeliness import views
from services.timeliness.service_layer import handlers
from services.timeliness.service_layer.unit_of_work import FakeUnitOfWork
from tests import engine_fixture as fx
from tests.helpers import CEASED, FINAL, case_event
from tests.unit.test_timeliness_property import CFG

LOCALITIES = ["shrewsbury", "oswestry", "ludlow"]
Step = tuple[int, int, str]  # case, day, action


def _history(steps: list[Step]) -> list[list[dict[str, Any]]]:
    """Batches of events: each case opens (in its locality) and may close."""
    batches: list[list[dict[str, Any]]] = []
    state: dict[int, str] = {}
    n = 0
    for case, day, action in steps:
        n += 1
        place = LOCALITIES[case % len(LOCALITIES)]
        if case not in state:
            ev = case_event(n, case=case, day=day, data={"locality": place})
            state[case] = "open"
        elif state[case] == "open":
            etype = FINAL if action == "final" else CEASED
            extra = {"cease_reason": "2"} if etype == CEASED else {}
            ev = case_event(n, etype, case=case, day=day, data={"locality": place, **extra})
            state[case] = "closed"
        else:
            continue
        if batches and action == "same":
            batches[-1].append(ev)
        else:
            batches.append([ev])
    return batches


def _items(raws: list[dict[str, Any]]) -> list[handlers.Incoming]:
    return [i for raw in raws for i in fx.incoming(CFG.registry, raw)]


def _current(uow: FakeUnitOfWork) -> dict[tuple[str, str], float | None]:
    return {
        (v.kpi, v.breakdown): v.value
        for v in views.kpi_values(uow, CFG.engine.dictionary, cycle="current")
        if v.breakdown != "outlook"
    }


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.integers(1, 6),
            st.integers(0, 5),
            st.sampled_from(["final", "cease", "same"]),
        ),
        min_size=1,
        max_size=14,
    )
)
def test_published_current_values_equal_timeliness_state_zeros_included(
    raw_steps: list[tuple[int, int, str]],
) -> None:
    day = 0
    steps = []
    for case, gap, action in raw_steps:
        day += gap
        steps.append((case, day, action))
    uow = FakeUnitOfWork()
    shown: dict[tuple[str, str], float | None] = {}  # what reporting would show
    for batch in _history(steps):
        handlers.apply_batch(uow, _items(batch), CFG)
        for m in uow.take_outbox():
            if m.topic == "ms":
                continue
            for v in json.loads(m.payload)["data"]["values"]:
                if v["cycle"] == "current" and v["breakdown"] != "outlook":
                    shown[(v["kpi"], v["breakdown"])] = v["value"]
        truth = _current(uow)
        for key, value in shown.items():
            assert value == truth.get(key, 0.0), (key, value, truth.get(key))
        for key, value in truth.items():
            assert shown.get(key) == value, (key, value, shown.get(key))
