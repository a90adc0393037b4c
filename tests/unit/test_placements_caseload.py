"""DfE's caseload.csv row: totals and percentages composed as DfE composes them (checked
against published rows: the 2024/25 rows for England, Shropshire and two neighbours,
and Shropshire's 2023/24 row), and the export of a generated extract against an
independent computation."""

from __future__ import annotations

import csv
import random
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from contracts.placement_codes import DfeSetting
from contracts.placements import load_placements
from services.timeliness.domain.dfe import load_authority
from services.timeliness.domain.dfe.caseload import (
    BASE_COLUMNS,
    CASELOAD_COLUMNS,
    academic_year,
    caseload_row,
    setting_counts,
)
from tests.placements_fixture import ceased, left, placed, plan, spans

PUBLISHED = Path(__file__).parents[1] / "fixtures" / "placements" / "dfe_caseload_published.csv"
GEOGRAPHY = 12


def published() -> list[dict[str, str]]:
    with PUBLISHED.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_the_columns_are_dfe_s_in_dfe_s_order() -> None:
    with PUBLISHED.open(encoding="utf-8") as f:
        assert tuple(next(csv.reader(f))) == CASELOAD_COLUMNS


@pytest.mark.parametrize("row", published(), ids=lambda r: f"{r['time_period']}-{r['la_name']}")
def test_totals_and_percentages_are_composed_as_in_the_published_rows(
    row: dict[str, str],
) -> None:
    counts = {c: int(row[c]) for c in BASE_COLUMNS if row[c] != "x"}
    ours = caseload_row(counts, date(int(row["time_period"][:4]) + 1, 1, 16), load_authority())
    composed = [c for c in CASELOAD_COLUMNS[GEOGRAPHY:] if c not in BASE_COLUMNS]
    assert {c: ours[c] for c in composed} == {c: row[c] for c in composed}
    assert ours["time_period"] == row["time_period"]


def test_shropshire_2025_row_is_reproduced_exactly_from_its_base_columns() -> None:
    (row,) = [
        r for r in published() if r["la_name"] == "Shropshire" and r["time_period"] == "202425"
    ]
    counts = {c: int(row[c]) for c in BASE_COLUMNS}
    assert counts["special_independent"] == 238
    ours = caseload_row(counts, date(2025, 1, 16), load_authority())
    assert ours == row  # every column, geography included
    assert ours["ehcplans"] == "3016"


def test_academic_year() -> None:
    assert academic_year(date(2025, 1, 16)) == "202425"
    assert academic_year(date(2025, 9, 1)) == "202526"
    assert academic_year(date(2025, 8, 31)) == "202425"


def _half_up(num: int, den: int) -> str:
    text = f"{Decimal(num * 100) / Decimal(den):.10f}"
    value = Decimal(text).quantize(Decimal("0.1"), ROUND_HALF_UP)
    out = f"{value:f}"
    return out[:-2] if out.endswith(".0") else out


def test_the_export_of_a_generated_extract_equals_an_independent_computation() -> None:
    rng = random.Random(11)
    census = date(2026, 1, 15)
    settings = [s.value for s in DfeSetting]
    raws = []
    expected: dict[str, int] = {}
    for n in range(400):
        who = f"person-{n:06d}"
        start = census - timedelta(days=rng.randint(-30, 2000))
        raws.append(plan(who, start))
        active = start <= census
        if rng.random() < 0.15:
            end = start + timedelta(days=rng.randint(0, 800))
            end = min(end, census + timedelta(days=300))
            raws.append(ceased(who, end, reason=rng.choice("25")))
            active = active and end > census
        counted = None
        cursor = start
        for _ in range(rng.randint(0, 3)):  # rank-1 placements one after another
            p_start = cursor + timedelta(days=rng.randint(0, 400))
            if p_start > census + timedelta(days=200):
                break
            setting = rng.choice(settings)
            raws.append(placed(who, p_start, setting))
            ends = None
            if rng.random() < 0.3:
                ends = p_start + timedelta(days=rng.randint(0, 300))
                raws.append(left(who, ends))
            if p_start <= census:
                counted = None if ends is not None and ends < census else setting
            cursor = (ends or p_start) + timedelta(days=1)
        if rng.random() < 0.2:  # a second-ranked placement is never the counted one
            raws.append(placed(who, start, rng.choice(settings), rank=2))
        if active:
            column = counted or "placement_unknown"
            expected[column] = expected.get(column, 0) + 1
    counts = setting_counts(load_placements().caseload, census, spans(raws))
    assert dict(counts) == expected
    row = caseload_row(counts, census, load_authority())
    plans = sum(expected.values())
    assert row["ehcplans"] == str(plans)
    special = sum(expected.get(c, 0) for c in BASE_COLUMNS if c.startswith("special_"))
    assert row["special_total"] == str(special)
    assert row["special_total_pc"] == _half_up(special, plans)
    unknown = expected.get("placement_unknown", 0)
    assert row["placement_unknown_pc"] == _half_up(unknown, plans)
    assert row["await_prov_2022"] == row["perm_ex_2022"] == "x"
