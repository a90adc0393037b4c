"""The simulated county's mixes come from one table (``simulator/county.yaml``): every
code is one of its SEN2 vocabulary, every mix is a distribution, and the localities are
the council's own."""

from __future__ import annotations

import math

import pytest

from contracts import codes
from contracts.localities import locality_names, locality_order
from services.ingest.sources.simulator import model


def test_every_mix_is_a_distribution_of_known_codes() -> None:
    mixes = model.county_mixes()
    cfg = model.SimConfig()
    for name, vocabulary in model._MIX_CODES.items():
        assert getattr(cfg, name) == mixes[name]
        if vocabulary is not None:
            assert {code for code, _ in mixes[name]} <= {v.value for v in vocabulary}
        if name != "advice_within_6_weeks":  # shares within six weeks, not a mix
            assert math.isclose(sum(w for _, w in mixes[name]), 1.0), name
    assert {code for code, _ in cfg.locality_weights} <= locality_names()
    for phase, mix in cfg.setting_weights:
        assert phase in {p.value for p in codes.Phase}
        assert math.isclose(sum(w for _, w in mix), 1.0), phase


def test_an_unknown_code_is_refused() -> None:
    with pytest.raises(ValueError, match="XX"):
        model._weights({"XX": 1.0}, codes.Sex)


def test_localities_are_listed_in_the_files_order() -> None:
    order = locality_order()
    assert order[0] == "shrewsbury" and len(order) == len(set(order))
    assert set(order) == locality_names() - {"unknown"}
