"""A generated case-management placement extract (synthetic people only)."""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass
from datetime import date, timedelta

from contracts.placement_codes import DfeSetting
from services.ingest.sources.placements.extract import COLUMNS

POSTCODES = ["SY1 1AA", "SY8 2BB", "TF9 3CC", "WV16 4DD", "SY10 5EE", "ZZ99 9ZZ"]
NEEDS = ["ASD", "SEMH", "SLCN", "MLD", "SLD", "SPLD"]


@dataclass(frozen=True)
class Row:
    values: dict[str, str]


def generate(n: int, census: date, seed: int = 5) -> list[dict[str, str]]:
    """Rows of ``n`` people: some with no placement, some with a sequence of rank-1
    placements, some with a second-ranked one, some ceased; dates no later than a year
    after ``census``."""
    rng = random.Random(seed)
    settings = [s.value for s in DfeSetting]
    rows: list[dict[str, str]] = []
    for i in range(n):
        person = f"LOCAL{100000 + i}"
        birth = census - timedelta(days=rng.randint(4 * 365, 19 * 365))
        start = census - timedelta(days=rng.randint(-20, 1500))
        base = {
            "person_id": person,
            "date_of_birth": birth.isoformat(),
            "sex": rng.choice("MF"),
            "postcode": rng.choice(POSTCODES),
            "primary_need": rng.choice(NEEDS),
            "plan_start_date": start.isoformat(),
            "plan_end_date": "",
            "plan_end_reason": "",
        }
        if rng.random() < 0.12:
            end = min(start + timedelta(days=rng.randint(0, 600)), census + timedelta(days=200))
            base["plan_end_date"] = end.isoformat()
            base["plan_end_reason"] = rng.choice("2569")
        empty = dict.fromkeys(COLUMNS[8:], "")
        placements = rng.choice([0, 1, 1, 2, 3])
        if placements == 0:
            rows.append({**base, **empty})
        cursor = start
        for _ in range(placements):
            p_start = cursor + timedelta(days=rng.randint(0, 300))
            if p_start > census + timedelta(days=200):
                break
            p_end = ""
            if rng.random() < 0.3:
                p_end = (p_start + timedelta(days=rng.randint(0, 200))).isoformat()
            rows.append(
                {
                    **base,
                    "placement_start_date": p_start.isoformat(),
                    "placement_end_date": p_end,
                    "placement_rank": "1",
                    "setting_type": rng.choice(settings),
                    "setting_urn": str(rng.randint(100000, 149999)),
                    "la_funded": rng.choice("YYYN"),
                    "out_of_area": rng.choice("YNNN"),
                    "distance_km": f"{rng.uniform(0.5, 80):.1f}",
                }
            )
            cursor = (date.fromisoformat(p_end) if p_end else p_start) + timedelta(days=1)
        if rng.random() < 0.1:
            rows.append(
                {
                    **base,
                    **empty,
                    "placement_start_date": start.isoformat(),
                    "placement_rank": "2",
                    "setting_type": "special_independent",
                    "la_funded": "Y",
                    "out_of_area": "N",
                }
            )
    return rows


def expected_counts(rows: list[dict[str, str]], census: date) -> dict[str, int]:
    """DfE's base columns on ``census``, computed straight from the rows: a plan active
    on the day (started on or before, not ended on or before), its counted placement the
    rank-1 row started on or before the day (the latest) and not ended before it."""
    plans: dict[str, dict[str, str]] = {}
    for r in rows:
        plans.setdefault(r["person_id"], r)
    out: dict[str, int] = {}
    for person, r in plans.items():
        if date.fromisoformat(r["plan_start_date"]) > census:
            continue
        if r["plan_end_date"] and date.fromisoformat(r["plan_end_date"]) <= census:
            continue
        best: tuple[date, str | None] | None = None
        for p in rows:
            if p["person_id"] != person or p["placement_rank"] != "1":
                continue
            start = date.fromisoformat(p["placement_start_date"])
            if start > census or (best is not None and start < best[0]):
                continue
            ended = p["placement_end_date"] and date.fromisoformat(p["placement_end_date"]) < census
            best = (start, None if ended else p["setting_type"])
        column = (best[1] if best else None) or "placement_unknown"
        out[column] = out.get(column, 0) + 1
    return out


def to_csv(rows: list[dict[str, str]]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(COLUMNS), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()
