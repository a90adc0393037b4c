"""DfE-layout exports (timeliness_20_week.csv, requests.csv) checked against DfE's files."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sendwatch.config import Settings
from services.timeliness.domain import dfe
from services.timeliness.domain.case import CaseState
from tests.helpers import DFE_DIR

DFE_ZIP = DFE_DIR / "education-health-and-care-plans_2025.zip"
T0 = datetime(2024, 1, 1, tzinfo=UTC)

SHROPSHIRE = dfe.Authority(
    la_name="Shropshire",
    new_la_code="E06000051",
    old_la_code="893",
    region_code="E12000005",
    region_name="West Midlands",
    country_code="E92000001",
    country_name="England",
)


def _dfe_lines(name: str) -> list[str]:
    if not DFE_ZIP.exists():
        pytest.skip(f"{DFE_ZIP} not present")
    with zipfile.ZipFile(DFE_ZIP) as z:
        raw = z.read(f"data/{name}")
    assert raw.startswith(b"\xef\xbb\xbf")  # DfE writes a BOM; it is not part of the names
    return raw.decode("utf-8-sig").splitlines()


def _dfe_rows(name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(_dfe_lines(name)))


def _published(name: str, year: str, topic: str) -> dict[str, str]:
    (row,) = [
        r
        for r in _dfe_rows(name)
        if r["la_name"] == "Shropshire" and r["time_period"] == year and r["breakdown"] == topic
    ]
    return row


_n = 0


def case(
    received: date | None,
    final: date | None = None,
    *,
    outcome: str | None = "Y",
    exception: bool = False,
    **kw: Any,
) -> CaseState:
    global _n
    _n += 1
    base: dict[str, Any] = {
        "case_id": f"c{_n}",
        "person_id": f"p{_n}",
        "locality": "north",
        "age_band": "5-10",
        "phase": "primary",
        "sex": "F",
        "attrs_time": T0,
        "received": received,
        "final_issued": final,
        "assessment_decision": final,
        "assessment_outcome": outcome if final is not None else None,
    }
    if exception:
        base["exception_starts"] = frozenset({("c", received or date(2024, 1, 1))})
    base.update(kw)
    return CaseState(**base)


def issued_after(days: int, *, issued: date = date(2024, 6, 30), **kw: Any) -> CaseState:
    return case(issued - timedelta(days=days), issued, **kw)


def all_row(rows: list[dict[str, str]]) -> dict[str, str]:
    assert rows[0]["breakdown_topic"] == rows[0]["breakdown"]
    return rows[0]


# --- layout ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "columns"),
    [("timeliness_20_week.csv", dfe.TIMELINESS_COLUMNS), ("requests.csv", dfe.REQUESTS_COLUMNS)],
)
def test_columns_are_dfe_header(name: str, columns: tuple[str, ...]) -> None:
    header = next(csv.reader(_dfe_lines(name)[:1]))
    assert tuple(header) == columns


def test_default_authority_file_is_shropshire() -> None:
    assert dfe.load_authority() == SHROPSHIRE


def test_authority_file_override(tmp_path: Path) -> None:
    f = tmp_path / "la.yaml"
    f.write_text(
        "la_name: 'Bristol, City of'\nnew_la_code: E06000023\nold_la_code: '801'\n"
        "region_code: E12000009\nregion_name: South West\n"
        "country_code: E92000001\ncountry_name: England\n"
    )
    settings = Settings.from_env({"SENDWATCH_AUTHORITY_FILE": str(f)})
    la = dfe.load_authority(settings.files.authority)
    assert (la.la_name, la.old_la_code) == ("Bristol, City of", "801")
    assert dfe.load_authority(Settings().files.authority) == SHROPSHIRE


# --- percentages ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("num", "den", "text"),
    [
        (253, 666, "38"),  # Shropshire 2023: 37.99 -> "38", not "38.0"
        (268, 720, "37.2"),  # Shropshire 2024
        (33, 80, "41.3"),  # exact tie 41.25: half up (Shropshire 2024 requests, Aged 3)
        (23, 80, "28.7"),  # the double is 28.7499..., as DfE prints (Birmingham 2024 age 8)
        (1, 16, "6.3"),  # tie 6.25: half up
        (0, 5, "0"),
        (5, 5, "100"),
        (1, 833, "0.1"),
        (0, 0, "x"),  # DfE writes x over a zero denominator
    ],
)
def test_dfe_percent(num: int, den: int, text: str) -> None:
    assert dfe.dfe_percent(num, den) == text


def test_percent_formatter_reproduces_every_published_percentage() -> None:
    """All percentages in both files whose denominator is in the file."""
    checks = [
        ("timeliness_20_week.csv", "plans_issued_within_20_weeks", "plans_issued_den",
         "pc_plans_issued_within_20_weeks"),
        ("timeliness_20_week.csv", "plans_issued_20_weeks_ex", "plans_issued_den_ex",
         "PC_plans_issued_20_weeks_ex"),
        ("timeliness_20_week.csv", "plans_issued_gt20weeks_ltYear", "plans_issued_den",
         "pc_plans_issued_gt20weeks_ltYear"),
        ("timeliness_20_week.csv", "plans_issued_gt20weeks_ltYear_ex", "plans_issued_den_ex",
         "PC_plans_issued_gt20weeks_ltYear_ex"),
        ("timeliness_20_week.csv", "plans_issued_gt_1_year", "plans_issued_den",
         "pc_plans_issued_gt_1_year"),
        ("timeliness_20_week.csv", "plans_issued_gt_1_year_ex", "plans_issued_den_ex",
         "PC_plans_issued_gt_1_year_ex"),
        ("requests.csv", "requests_decided_to_assess", "requests_received_in_year",
         "request_assess_pc"),
        ("requests.csv", "requests_decided_not_to_assess", "requests_received_in_year",
         "request_not_assess_pc"),
        ("requests.csv", "requests_decision_not_made", "requests_received_in_year",
         "request_outstanding_pc"),
        ("requests.csv", "requests_withdrawn", "requests_received_in_year",
         "request_withdrawn_pc"),
    ]  # fmt: skip
    rows = {name: _dfe_rows(name) for name in ("timeliness_20_week.csv", "requests.csv")}
    checked, wrong = 0, []
    for name, num, den, pc in checks:
        for r in rows[name]:
            if "x" in (r[num], r[den], r[pc]):
                continue
            checked += 1
            got = dfe.dfe_percent(int(r[num]), int(r[den]))
            if got != r[pc]:
                wrong.append((name, r["la_name"], r["breakdown"], pc, r[pc], got))
    assert checked > 100_000
    assert wrong == []


def test_shropshire_2024_pc_columns_from_published_counts() -> None:
    pub = _published("timeliness_20_week.csv", "2024", dfe.TIMELINESS_ALL)
    assert (pub["plans_issued_den"], pub["plans_issued_within_20_weeks"]) == ("720", "268")
    t = dfe._Plans(
        *(int(pub[c]) for c in ("plans_issued_den", "plans_issued_den_ex",
                                "plans_issued_within_20_weeks", "plans_issued_20_weeks_ex",
                                "plans_issued_gt20weeks_ltYear", "plans_issued_gt20weeks_ltYear_ex",
                                "plans_issued_gt_1_year", "plans_issued_gt_1_year_ex"))
    )  # fmt: skip
    values = dfe._timeliness_values(t)
    for col in dfe.TIMELINESS_COLUMNS:
        if col.lower().startswith("pc_"):
            assert values[col] == pub[col], col
    assert values["pc_plans_issued_within_20_weeks"] == "37.2"


# --- timeliness -----------------------------------------------------------------------


def test_shropshire_2024_all_row_reproduced_from_cases() -> None:
    """Cases with Shropshire's 2024 published counts give DfE's published row exactly."""
    cases = []
    # (days, without exception, with exception) - published: den 720 / ex 687
    for days, plain, excepted in ((140, 251, 17), (200, 407, 15), (400, 29, 1)):
        cases += [issued_after(days) for _ in range(plain)]
        cases += [issued_after(days, exception=True) for _ in range(excepted)]
    rows = dfe.timeliness_rows(cases, 2024, SHROPSHIRE)
    assert all_row(rows) == _published("timeliness_20_week.csv", "2024", dfe.TIMELINESS_ALL)


def test_boundaries_140_141_364_365() -> None:
    cases = [issued_after(d) for d in (0, 140, 141, 364, 365, 500)]
    r = all_row(dfe.timeliness_rows(cases, 2024, SHROPSHIRE))
    assert r["plans_issued_den"] == "6"
    assert r["plans_issued_within_20_weeks"] == "2"  # days 0 and 140
    assert r["plans_issued_gt20weeks_ltYear"] == "2"  # 141 and 364
    assert r["plans_issued_gt_1_year"] == "2"  # 365 and 500
    assert r["pc_plans_issued_within_20_weeks"] == "33.3"


def test_exceptions_drop_from_ex_columns_only() -> None:
    cases = [issued_after(100), issued_after(100, exception=True), issued_after(200)]
    r = all_row(dfe.timeliness_rows(cases, 2024, SHROPSHIRE))
    assert (r["plans_issued_den"], r["plans_issued_den_ex"]) == ("3", "2")
    assert (r["plans_issued_within_20_weeks"], r["plans_issued_20_weeks_ex"]) == ("2", "1")
    assert (r["pc_plans_issued_within_20_weeks"], r["PC_plans_issued_20_weeks_ex"]) == (
        "66.7",
        "50",
    )


def test_all_excepted_gives_x_for_ex_percentages() -> None:
    """As DfE for County Durham 2023 'age 18': den 1, den_ex 0 -> PC_*_ex x."""
    r = all_row(dfe.timeliness_rows([issued_after(10, exception=True)], 2024, SHROPSHIRE))
    assert (r["plans_issued_den_ex"], r["plans_issued_20_weeks_ex"]) == ("0", "0")
    assert r["PC_plans_issued_20_weeks_ex"] == "x"
    assert r["PC_plans_issued_gt_1_year_ex"] == "x"
    assert r["pc_plans_issued_within_20_weeks"] == "100"


def test_no_plans_gives_only_the_all_row_with_x() -> None:
    """As DfE for the Isles of Scilly in 2019: zero counts and x percentages."""
    rows = dfe.timeliness_rows([], 2024, SHROPSHIRE)
    assert len(rows) == 1
    r = rows[0]
    assert r["plans_issued_den"] == "0"
    assert all(r[c] == "x" for c in dfe.TIMELINESS_COLUMNS if c.lower().startswith("pc_"))


def test_which_cases_are_plans_issued_in_the_year() -> None:
    cases = [
        issued_after(50),  # counted
        issued_after(50, issued=date(2023, 12, 31)),  # issued in another year
        issued_after(50, issued=date(2025, 1, 1)),
        issued_after(50, historical=True),  # transfer in / pre-period work
        issued_after(50, outcome="N"),  # first decision N stands
        issued_after(50, outcome=None),  # plan issued, decision event missing: SEN2 Y
        case(date(2024, 3, 1)),  # not issued yet
    ]
    r = all_row(dfe.timeliness_rows(cases, 2024, SHROPSHIRE))
    assert r["plans_issued_den"] == "2"
    assert r["plans_issued_within_20_weeks"] == "2"


def test_bad_request_dates_count_in_denominator_only() -> None:
    cases = [
        issued_after(10),
        case(None, date(2024, 5, 1)),
        case(date(2024, 6, 1), date(2024, 5, 1)),
    ]
    r = all_row(dfe.timeliness_rows(cases, 2024, SHROPSHIRE))
    assert r["plans_issued_den"] == "3"
    assert r["plans_issued_within_20_weeks"] == "1"
    assert r["pc_plans_issued_within_20_weeks"] == "33.3"


def test_timeliness_breakdown_rows_use_dfe_topics_and_labels() -> None:
    cases = [
        issued_after(10, sex="F", age_band="under-5"),
        issued_after(200, sex="M", age_band="20-25"),
        issued_after(10, sex="M", age_band="11-15"),
        issued_after(10, sex=None, age_band="11-15"),
    ]
    rows = dfe.timeliness_rows(cases, 2024, SHROPSHIRE)
    got = [(r["breakdown_topic"], r["breakdown"], r["plans_issued_den"]) for r in rows]
    assert got == [
        ("All EHC plans issued", "All EHC plans issued", "4"),
        ("Child or young persons age", "age 4 and under", "1"),
        ("Child or young persons age", "age 11 to 15", "2"),
        ("Child or young persons age", "age 20 and over", "1"),
        ("Sex", "Female", "1"),
        ("Sex", "Male", "2"),
        ("Sex", "Unknown", "1"),
    ]
    male = rows[5]
    assert (male["pc_plans_issued_within_20_weeks"], male["pc_plans_issued_gt20weeks_ltYear"]) == (
        "50",
        "50",
    )
    for r in rows:
        assert list(r) == list(dfe.TIMELINESS_COLUMNS)
        assert (r["time_period"], r["time_identifier"], r["geographic_level"]) == (
            "2024",
            "Calendar year",
            "Local authority",
        )
        assert (r["new_la_code"], r["old_la_code"], r["region_code"]) == (
            "E06000051",
            "893",
            "E12000005",
        )


def test_labels_are_dfe_labels_where_dfe_has_them() -> None:
    published = {
        (r["breakdown_topic"], r["breakdown"])
        for r in _dfe_rows("timeliness_20_week.csv")
        if r["geographic_level"] == "Local authority"
    }
    assert (dfe.AGE_TOPIC, dfe.TIMELINESS_AGE_LABELS["20-25"]) in published
    assert (dfe.AGE_TOPIC, dfe.TIMELINESS_AGE_UNKNOWN) in published
    for label in [*dfe.SEX_LABELS.values(), dfe.SEX_UNKNOWN]:
        assert (dfe.SEX_TOPIC, label) in published
    for label in [*dfe.ETHNICITY_LABELS.values(), dfe.ETHNICITY_UNKNOWN]:
        assert (dfe.ETHNICITY_TOPIC, label) in published
    req = {(r["breakdown_topic"], r["breakdown"]) for r in _dfe_rows("requests.csv")}
    assert (dfe.REQUESTS_ALL, dfe.REQUESTS_ALL) in req
    assert (dfe.AGE_TOPIC, dfe.REQUESTS_AGE_LABELS["20-25"]) in req
    assert (dfe.AGE_TOPIC, dfe.REQUESTS_AGE_UNKNOWN) in req


def test_ethnicity_rows_on_request() -> None:
    cases = [issued_after(10, ethnicity="WBRI"), issued_after(10, ethnicity=None)]
    assert not [
        r
        for r in dfe.timeliness_rows(cases, 2024, SHROPSHIRE)
        if r["breakdown_topic"] == "Ethnicity"
    ]
    rows = dfe.timeliness_rows(cases, 2024, SHROPSHIRE, ethnicity=True)
    eth = [r["breakdown"] for r in rows if r["breakdown_topic"] == "Ethnicity"]
    assert eth == ["Unclassified", "White - White British"]  # DfE's alphabetical order


# --- requests -------------------------------------------------------------------------


def req(
    received: date | None, decided: date | None = None, outcome: str | None = None, **kw: Any
) -> CaseState:
    return case(received, decision_to_assess=decided, decision_outcome=outcome, **kw)


def test_request_outcomes_as_recorded_or_as_at_a_date() -> None:
    cases = [
        req(date(2024, 3, 1), date(2024, 4, 1), "Y"),
        req(date(2024, 3, 1), date(2024, 4, 1), "N"),
        req(date(2024, 3, 1), date(2024, 3, 5), "W"),
        req(date(2024, 3, 1), transferred_out=date(2024, 3, 20)),  # left before deciding
        req(date(2024, 12, 1), date(2025, 1, 5), "Y"),  # decided after 31 Dec
        req(date(2024, 12, 1)),  # no decision
        req(date(2023, 12, 1), date(2024, 1, 5), "Y"),  # received in another year
        req(date(2024, 2, 1), date(2024, 3, 1), "Y", historical=True),
    ]
    recorded = all_row(dfe.requests_rows(cases, 2024, SHROPSHIRE))
    assert recorded["requests_received_in_year"] == "6"
    assert recorded["requests_decided_to_assess"] == "2"  # as the January return records it
    assert recorded["requests_decision_not_made"] == "1"
    r = all_row(dfe.requests_rows(cases, 2024, SHROPSHIRE, as_at=date(2024, 12, 31)))
    assert r["requests_received_in_year"] == "6"
    assert (r["requests_decided_to_assess"], r["requests_decided_not_to_assess"]) == ("1", "1")
    assert (r["requests_withdrawn"], r["requests_decision_not_made"]) == ("2", "2")
    assert (r["request_assess_pc"], r["request_withdrawn_pc"], r["request_outstanding_pc"]) == (
        "16.7",
        "33.3",
        "33.3",
    )
    for col in (
        "requests_rya",
        "mediation_related_request",
        "tribunal_related_request",
        "tribunal_after_mediation_request",
    ):
        assert r[col] == "x"


def test_six_week_measure_counts_decisions_dated_in_the_year() -> None:
    cases = [
        req(date(2024, 3, 1), date(2024, 3, 1) + timedelta(days=42), "Y"),  # within
        req(date(2024, 3, 1), date(2024, 3, 1) + timedelta(days=43), "N"),  # over
        req(date(2023, 11, 1), date(2024, 1, 10), "Y"),  # request of 2023, decided 2024: over
        req(date(2024, 12, 1), date(2025, 1, 5), "Y"),  # decided in 2025: not in 2024
        req(date(2024, 3, 1), date(2024, 3, 10), "W"),  # withdrawals are not decisions
    ]
    r = all_row(dfe.requests_rows(cases, 2024, SHROPSHIRE))
    assert (r["request_outcome_six_weeks"], r["request_outcome_over_6_weeks"]) == ("1", "2")
    assert (r["request_outcome_six_weeks_pc"], r["request_outcome_over_6_weeks_pc"]) == (
        "33.3",
        "66.7",
    )
    # the brief's alternative: decisions by 31 Dec on requests received in the year
    r = all_row(dfe.requests_rows(cases, 2024, SHROPSHIRE, six_week_basis="received_in_year"))
    assert (r["request_outcome_six_weeks"], r["request_outcome_over_6_weeks"]) == ("1", "1")
    assert r["request_outcome_six_weeks_pc"] == "50"


def test_six_week_percentages_x_without_decisions() -> None:
    r = all_row(dfe.requests_rows([req(date(2024, 3, 1))], 2024, SHROPSHIRE))
    assert (r["request_outcome_six_weeks_pc"], r["request_outcome_over_6_weeks_pc"]) == ("x", "x")
    assert r["request_outstanding_pc"] == "100"
    r = all_row(dfe.requests_rows([], 2024, SHROPSHIRE))
    assert r["requests_received_in_year"] == "0"
    assert r["request_assess_pc"] == "x"


def test_shropshire_2024_requests_all_row_reproduced_from_cases() -> None:
    """Published: 833 received (595 Y, 163 N, 74 ongoing, 1 W); 614 decisions within six
    weeks and 257 after, 113 of those on requests received in 2023."""
    jan = date(2024, 1, 2)
    cases = [req(jan, jan + timedelta(days=30), "Y") for _ in range(595 - 144)]
    cases += [req(jan, jan + timedelta(days=30), "N") for _ in range(163)]
    cases += [req(jan, jan + timedelta(days=60), "Y") for _ in range(144)]
    cases += [req(date(2024, 12, 1)) for _ in range(74)]
    cases += [req(jan, jan + timedelta(days=3), "W")]
    cases += [req(date(2023, 11, 1), date(2024, 1, 10), "N") for _ in range(113)]
    got = all_row(dfe.requests_rows(cases, 2024, SHROPSHIRE))
    pub = _published("requests.csv", "2024", dfe.REQUESTS_ALL)
    unavailable = {
        "requests_rya",
        "mediation_related_request",
        "tribunal_related_request",
        "tribunal_after_mediation_request",
    }
    assert {k: v for k, v in got.items() if k not in unavailable} == {
        k: v for k, v in pub.items() if k not in unavailable
    }
    assert {got[k] for k in unavailable} == {"x"}


def test_requests_breakdown_rows() -> None:
    cases = [
        req(date(2024, 3, 1), date(2024, 3, 20), "Y", sex="M", age_band="16-19"),
        req(date(2024, 3, 1), sex="F", age_band="under-5"),
        # received in 2023, decided in 2024: a row with 0 requests, as DfE writes them
        req(date(2023, 12, 1), date(2024, 1, 20), "N", sex="F", age_band="20-25"),
    ]
    rows = dfe.requests_rows(cases, 2024, SHROPSHIRE)
    got = [(r["breakdown_topic"], r["breakdown"], r["requests_received_in_year"]) for r in rows]
    assert got == [
        ("All requests for EHC needs assessments", "All requests for EHC needs assessments", "2"),
        ("Child or young persons age", "Aged 4 and under", "1"),
        ("Child or young persons age", "Aged 16 to 19", "1"),
        ("Child or young persons age", "Aged 20 and over", "0"),
        ("Sex", "Female", "1"),
        ("Sex", "Male", "1"),
    ]
    aged20 = rows[3]
    assert (aged20["request_assess_pc"], aged20["request_outcome_over_6_weeks_pc"]) == ("x", "100")
    assert all(list(r) == list(dfe.REQUESTS_COLUMNS) for r in rows)


# --- CSV ------------------------------------------------------------------------------


def test_to_csv_layout() -> None:
    la = SHROPSHIRE.model_copy(update={"la_name": "Bristol, City of"})
    rows = dfe.timeliness_rows([issued_after(10)], 2024, la)
    text = dfe.to_csv(rows, dfe.TIMELINESS_COLUMNS)
    assert not text.startswith("\ufeff")
    assert "\r" not in text
    lines = text.split("\n")
    assert lines[-1] == ""  # ends with a newline
    assert lines[0] == ",".join(dfe.TIMELINESS_COLUMNS)
    assert ',"Bristol, City of",' in lines[1]  # quoted only where needed, like DfE
    assert '"' not in lines[0]
    assert list(csv.DictReader(io.StringIO(text))) == rows


def test_to_csv_rejects_rows_with_other_columns() -> None:
    row = dfe.timeliness_rows([], 2024, SHROPSHIRE)[0]
    with pytest.raises(ValueError, match="missing"):
        dfe.to_csv([{k: v for k, v in row.items() if k != "la_name"}], dfe.TIMELINESS_COLUMNS)
    with pytest.raises(ValueError, match="unexpected"):
        dfe.to_csv([{**row, "extra": "1"}], dfe.TIMELINESS_COLUMNS)
