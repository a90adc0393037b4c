"""The SEN2 import keeps what the placement measures need: active plans with their
placements (entry and leaving dates, rank, URN or setting), reviews, phase transfers,
mediation and tribunal flags; a SEN2 file built to DfE's published Shropshire 2025
caseload reproduces its base columns."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

from contracts.placements import load_placements
from services.ingest.sources.sen2.events import convert_sen2
from services.ingest.sources.sen2.pseudonymise import Pseudonymiser
from services.timeliness.domain.dfe.caseload import BASE_COLUMNS, setting_counts
from tests.placements_fixture import REGISTRY, spans
from tests.sen2_caseload import build

PUBLISHED = Path(__file__).parents[1] / "fixtures" / "placements" / "dfe_caseload_published.csv"
KEY = "a-test-key-of-some-length"
CENSUS = date(2025, 1, 16)  # the January 2025 SEN2 census day


def shropshire_2025() -> dict[str, int]:
    with PUBLISHED.open(encoding="utf-8") as f:
        (row,) = [
            r
            for r in csv.DictReader(f)
            if r["la_name"] == "Shropshire" and r["time_period"] == "202425"
        ]
    return {c: int(row[c]) for c in BASE_COLUMNS}


def test_a_sen2_file_built_to_shropshire_2025_reproduces_its_base_columns() -> None:
    published = shropshire_2025()
    assert sum(published.values()) == 3016 and published["special_independent"] == 238
    xml, lookup = build({c: n for c, n in published.items() if n}, CENSUS)
    events, summary = convert_sen2(
        xml, Pseudonymiser(KEY), file_name="sen2.xml", placements=True, settings=lookup
    )
    assert summary.errors == 0
    for raw in events:
        REGISTRY.parse_event(raw)  # every event keeps to its contract and the privacy guard
    counts = setting_counts(load_placements().caseload, CENSUS, spans(events))
    assert {c: counts.get(c, 0) for c in BASE_COLUMNS} == published


def test_placement_detail_reviews_phase_transfer_and_flags_are_kept() -> None:
    xml = b"""<?xml version="1.0"?><Message><Header><CollectionDetails><Collection>SEN2
</Collection><Year>2025</Year><ReferenceDate>2025-01-16</ReferenceDate></CollectionDetails>
</Header><Persons><Person><PersonBirthDate>2012-05-05</PersonBirthDate><Sex>F</Sex>
<PostCode>SY8 1AB</PostCode><UPN>A123456789012</UPN><Requests>
<ReceivedDate>2021-03-01</ReceivedDate><RequestOutcome>Y</RequestOutcome>
<RequestOutcomeDate>2021-04-10</RequestOutcomeDate><RequestMediation>0</RequestMediation>
<RequestTribunal>1</RequestTribunal><Assessment><AssessmentOutcome>Y</AssessmentOutcome>
<AssessmentOutcomeDate>2021-07-01</AssessmentOutcomeDate><AssessmentMediation>1
</AssessmentMediation><NamedPlan><StartDate>2021-07-01</StartDate></NamedPlan></Assessment>
<ActivePlans><ReviewMeeting>2024-11-20</ReviewMeeting><LastReview>2023-11-22</LastReview>
<PhaseTransferDueDate>2024-02-15</PhaseTransferDueDate>
<PhaseTransferFinalDate>2024-02-10</PhaseTransferFinalDate>
<PlacementDetail><URN>123456</URN><PlacementRank>1</PlacementRank>
<EntryDate>2021-09-01</EntryDate><LeavingDate>2024-07-20</LeavingDate>
<ResourcedProvisionIndicator>1</ResourcedProvisionIndicator></PlacementDetail>
<PlacementDetail><URN>654321</URN><PlacementRank>1</PlacementRank>
<EntryDate>2024-09-02</EntryDate></PlacementDetail>
<SENneed><SENtype>SLCN</SENtype><SENtypeRank>1</SENtypeRank></SENneed>
</ActivePlans></Requests></Person></Persons></Message>"""
    lookup = {"123456": "mainstream_academy", "654321": "special_independent"}
    events, _ = convert_sen2(
        xml, Pseudonymiser(KEY), file_name="f.xml", placements=True, settings=lookup
    )
    placement = [e for e in events if e["type"].startswith("placement.")]
    by_type = {}
    for e in placement:
        by_type.setdefault(e["type"], []).append(e)
    (started,) = by_type["placement.plan.started"]
    assert started["time"].startswith("2021-07-01")
    assert started["data"]["tribunal"] is True and started["data"]["mediation"] is True
    first, second = by_type["placement.placement.started"]
    assert first["time"].startswith("2021-09-01")
    assert first["data"]["setting_type"] == "mainstream_academy_resourced_provision"
    assert first["data"]["setting_urn"] == "123456" and first["data"]["rank"] == 1
    assert second["data"]["setting_type"] == "special_independent"
    (ended,) = by_type["placement.placement.ended"]
    assert ended["time"].startswith("2024-07-20")
    reviews = sorted(e["time"][:10] for e in by_type["placement.plan.reviewed"])
    assert reviews == ["2023-11-22", "2024-11-20"]
    (transfer,) = by_type["placement.plan.phase-transfer"]
    assert transfer["time"].startswith("2024-02-10")
    assert transfer["data"]["final_issued"] is True
    assert transfer["data"]["due_date"] == "2024-02-15"
    case = next(e for e in events if e["type"] == "ehc.request.received")
    assert {e["subject"] for e in placement} == {case["data"]["person_id"]}
    for raw in events:
        REGISTRY.parse_event(raw)
