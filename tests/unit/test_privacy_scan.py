"""The fuzzer's planted personal values are real ones to the guard, and the privacy
scan finds each of them however it was written, without counting a timestamp or a
digest that happens to hold the digits."""

from __future__ import annotations

import json
import random

from contracts.privacy import find_personal_data, nhs_number_valid, upn_check_letter
from tests.fuzzing import FORENAMES, Planted, nhs_number, upn
from tests.privacy_scan import leaks


def test_planted_values_are_what_the_guard_refuses() -> None:
    rng = random.Random(3)
    for _ in range(200):
        n, u = nhs_number(rng), upn(rng)
        assert nhs_number_valid(n) and n[0] in "456789"
        assert upn_check_letter(u) == u[0]
    planted = Planted()
    for _ in range(300):
        subject = planted.value(rng, names=True)
        assert find_personal_data({"subject": subject}) is not None, subject
        free = planted.value(rng, names=False)
        assert find_personal_data({"reason": free}) is not None, free


def test_plant_puts_names_only_in_pseudonymous_ids() -> None:
    planted = Planted()
    body = {"id": "x", "subject": "x", "reason": "x", "data": {"person_id": "x", "note": "x"}}
    named: set[str] = set()
    for seed in range(300):
        out = planted.plant(body, random.Random(seed), share=1.0)
        flat = {k: v for k, v in out.items() if k != "data"} | out["data"]
        for key, value in flat.items():
            if "@" not in value and any(f.lower() in value.lower() for f in FORENAMES):
                named.add(key)
        assert find_personal_data(out) is not None
    assert named == {"subject", "person_id"}


def test_the_scan_finds_every_spelling_and_nothing_else() -> None:
    nhs = "9434765919"
    stored = json.dumps(
        {
            "a": "943 476 5919",
            "b": "P_A123456789012_X".lower(),
            "c": "sy11aa",
            "d": "Ottoline.Quenby@fuzz-planted.test",
        }
    )
    assert leaks([nhs, "A123456789012", "SY1 1AA", "ottoline.quenby@fuzz-planted.test"], stored)
    assert len(leaks([nhs, "A123456789012", "SY1 1AA"], stored)) == 3
    noise = 'ts=1794347659 t=1794347659.123 sha="ab9434765919cd" n=99434765919 x=4.9434765919'
    assert leaks([nhs], noise) == []
    assert leaks([nhs], f"nhs-{nhs}") == [nhs]
