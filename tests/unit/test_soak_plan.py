"""The soak's own logic: the stream it posts, the kill plan, and the comparison that
decides the verdict (a comparison that misses a difference would make the soak pass
whatever the services do)."""

from __future__ import annotations

from collections import Counter

from cli.soak import (
    CLOCK_KEY,
    VICTIMS,
    RunResult,
    _kill_plan,
    compare,
    soak_stream,
    stream_size,
)


def test_the_stream_reaches_its_size_and_ends_a_day_with_its_tick() -> None:
    batches = soak_stream(1500, seed=7, sources="cases", days=30)
    events = [e for b in batches for e in b.events]
    assert stream_size(batches) == len(events) >= 1500
    assert len({e["id"] for e in events}) == len(events)  # no id twice
    assert batches[-1].key == CLOCK_KEY and batches[-1].events[0]["type"] == "clock.tick"
    ticks = [e["time"] for b in batches if b.key == CLOCK_KEY for e in b.events]
    assert ticks == sorted(ticks) and len(ticks) == len(set(ticks))
    # Each batch holds one source's events (posted with that source's own key).
    for b in batches:
        assert len({e["source"] for e in b.events}) == 1
    # The same seed gives the same stream.
    again = soak_stream(1500, seed=7, sources="cases", days=30)
    assert [e["id"] for b in again for e in b.events] == [e["id"] for e in events]


def test_the_kill_plan_is_seeded_and_kills_every_victim() -> None:
    plan = _kill_plan(200_000, 20, seed=42)
    assert plan == _kill_plan(200_000, 20, seed=42)
    assert plan != _kill_plan(200_000, 20, seed=43)
    assert len(plan) == 20
    assert set(Counter(v for _, v in plan)) == set(VICTIMS)
    points = [p for p, _ in plan]
    assert points == sorted(points)
    assert all(10_000 <= p < 190_000 for p in points)


def _run(name: str, kpis: list[dict], mails: list[tuple[str, str, str]]) -> RunResult:
    r = RunResult(name)
    r.snapshot = {"caseload": {"cases": 3, "open_caseload": 1}, "kpis": kpis, "x/2026": "a,b"}
    r.mails = mails
    r.mail_ids = Counter(m[0] for m in mails)
    return r


KPI = {"kpi": "k1", "cycle": "2026-04", "breakdown": "all", "value": 20.0}
MAIL = ("<sendwatch-outbox-3-al-1@sendwatch.local>", "a@example.org", "K1 breach")


def test_identical_runs_compare_equal_even_with_other_outbox_row_numbers() -> None:
    clean = _run("clean", [KPI], [MAIL])
    renumbered = ("<sendwatch-outbox-9-al-1@sendwatch.local>", MAIL[1], MAIL[2])
    assert compare(clean, _run("faults", [KPI], [renumbered])) == []


def test_every_kind_of_difference_is_reported() -> None:
    clean = _run("clean", [KPI], [MAIL])
    assert compare(clean, _run("faults", [{**KPI, "value": 25.0}], [MAIL]))  # a KPI value
    assert compare(clean, _run("faults", [], [MAIL]))  # a KPI value missing
    assert compare(clean, _run("faults", [KPI], [MAIL, MAIL]))  # a mail sent twice
    changed = _run("faults", [KPI], [MAIL])
    changed.snapshot["caseload"] = {"cases": 3, "open_caseload": 2}
    assert any(p.startswith("caseload") for p in compare(clean, changed))
    export = _run("faults", [KPI], [MAIL])
    export.snapshot["x/2026"] = "a,c"
    assert any(p.startswith("x/2026") for p in compare(clean, export))


def test_revision_counters_and_which_mails_went_are_notes_unless_strict() -> None:
    clean = _run("clean", [{**KPI, "revision": 2}], [MAIL])
    other = ("<sendwatch-outbox-3-al-2@sendwatch.local>", MAIL[1], MAIL[2])
    for faults in (
        _run("faults", [{**KPI, "revision": 4}], [MAIL]),  # revised more often on its way
        _run("faults", [{**KPI, "revision": 2}], []),  # a mail not sent
        _run("faults", [{**KPI, "revision": 2}], [other]),  # another alert's mail
    ):
        notes: list[str] = []
        assert compare(clean, faults, notes=notes) == []
        assert len(notes) == 1
        assert compare(clean, faults, strict=True)


def test_digests_compare_by_the_items_each_recipient_got() -> None:
    def digest(n: int, rows: str) -> tuple[str, str, str]:
        return (f"<sendwatch-digest-{rows}-{n}@sendwatch.local>", "dco@example.org", f" {n} x")

    clean = _run("clean", [KPI], [digest(11, "1-2"), digest(3, "9")])
    split_otherwise = _run("faults", [KPI], [digest(7, "4"), digest(7, "5")])
    assert compare(clean, split_otherwise) == []
    assert compare(clean, _run("faults", [KPI], [digest(13, "4")]), strict=True)  # one lost


def test_a_zero_served_by_one_run_only_is_a_note_but_a_stale_value_is_a_difference() -> None:
    """The 200,000-event soak: a breakdown that had a case only between two batches is
    served as zero after the kills and absent in the clean run.  Zero and absent are the
    same figure; a zero against any other value (a stale "1 open") is not."""
    zero = {"kpi": "k2", "cycle": "2026-05", "breakdown": "primary_need=VI", "value": 0.0}
    zero |= {"numerator": 0, "denominator": 0}
    clean = _run("clean", [KPI], [MAIL])
    notes: list[str] = []
    assert compare(clean, _run("faults", [KPI, zero], [MAIL]), notes=notes) == []
    assert len(notes) == 1 and "zero values served by one run only" in notes[0]
    assert compare(_run("clean", [KPI, zero], [MAIL]), _run("faults", [KPI], [MAIL])) == []
    stale = {**zero, "value": 1.0, "numerator": 1}
    assert compare(_run("clean", [KPI, zero], [MAIL]), _run("faults", [KPI, stale], [MAIL]))
    assert compare(clean, _run("faults", [KPI, stale], [MAIL]))  # a non-zero one side only
