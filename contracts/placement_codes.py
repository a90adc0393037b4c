"""Placement vocabularies: the setting types of DfE's ``caseload.csv`` (every base
column, so a count of active plans by counted setting type is one of its columns), the
groups DfE totals them into, and the codes placement events carry."""

from __future__ import annotations

from enum import StrEnum


class DfeSetting(StrEnum):
    """The type of setting attended, as DfE's caseload columns name it."""

    MAINSTREAM_LA_MAINTAINED = "mainstream_la_maintained"
    MAINSTREAM_LA_MAINTAINED_RESOURCED_PROVISION = "mainstream_la_maintained_resourced_provision"
    MAINSTREAM_LA_MAINTAINED_SENUNIT = "mainstream_la_maintained_senunit"
    MAINSTREAM_ACADEMY = "mainstream_academy"
    MAINSTREAM_ACADEMY_RESOURCED_PROVISION = "mainstream_academy_resourced_provision"
    MAINSTREAM_ACADEMY_SENUNIT = "mainstream_academy_senunit"
    MAINSTREAM_FREE_SCHOOL = "mainstream_free_school"
    MAINSTREAM_FREE_SCHOOL_RESOURCED_PROVISION = "mainstream_free_school_resourced_provision"
    MAINSTREAM_FREE_SCHOOL_SENUNIT = "mainstream_free_school_senunit"
    MAINSTREAM_INDEPENDENT = "mainstream_independent"
    SPECIAL_LA_MAINTAINED = "special_la_maintained"
    SPECIAL_ACADEMY_FREE = "special_academy_free"
    SPECIAL_INDEPENDENT = "special_independent"
    SPECIAL_NON_MAINTAINED = "special_non_maintained"
    AP_PRU_ACADEMY = "ap_pru_academy"
    AP_PRU_FREE_SCHOOL = "ap_pru_free_school"
    AP_PRU_LA_MAINTAINED = "ap_pru_la_maintained"
    GENERAL_FE_TERTIARY_COLLEGES = "general_fe_tertiary_colleges"
    SPECIALIST_POST_16_INSTITUTIONS = "specialist_post_16_institutions"
    UKRLP_PROVIDER = "ukrlp_provider"
    ELECTIVE_HOME_EDUCATION = "elective_home_education"
    OTHER_ARRANGEMENTS_LA = "other_arrangements_la"
    OTHER_ARRANGEMENTS_PARENTS = "other_arrangements_parents"
    ONLINE_PROVIDER = "online_provider"
    W_SETTINGS = "w_settings"
    OTHER_SCHOOLS = "other_schools"
    OTHER_PLACEMENT_SETTINGS = "other_placement_settings"
    NEET = "neet"
    NEET_NTCI = "neet_ntci"
    NEET_OTHER = "neet_other"
    NEET_OTHER_CSA = "neet_other_csa"
    NM_EARLY_YEARS = "nm_early_years"


# How DfE's caseload.csv composes its totals from the base columns (checked against the
# published rows: each total is the sum of its group; ehcplans is the sum of every group,
# non-maintained early years and placement not recorded).
CASELOAD_GROUPS: dict[str, tuple[str, ...]] = {
    "mainstream_total": tuple(s.value for s in DfeSetting if s.value.startswith("mainstream_")),
    "special_total": tuple(s.value for s in DfeSetting if s.value.startswith("special_")),
    "ap_pru_total": tuple(s.value for s in DfeSetting if s.value.startswith("ap_pru_")),
    "fe_total": (
        "general_fe_tertiary_colleges",
        "specialist_post_16_institutions",
        "ukrlp_provider",
    ),
    "ed_elsewhere": (
        "elective_home_education",
        "other_arrangements_la",
        "other_arrangements_parents",
        "online_provider",
        "w_settings",
        "other_schools",
        "other_placement_settings",
        "neet",
        "neet_ntci",
        "neet_other",
        "neet_other_csa",
    ),
}
PLACEMENT_UNKNOWN = "placement_unknown"


class CostBand(StrEnum):
    """Annual cost of a placement, in bands (no exact costs of a child on the bus)."""

    UNDER_10K = "under-10k"
    FROM_10K_TO_25K = "10k-25k"
    FROM_25K_TO_50K = "25k-50k"
    FROM_50K_TO_100K = "50k-100k"
    FROM_100K_TO_200K = "100k-200k"
    OVER_200K = "200k-plus"


class HighCostDecision(StrEnum):
    APPROVED = "approved"
    DECLINED = "declined"
    DEFERRED = "deferred"


class ReviewOutcome(StrEnum):
    REVIEWED = "reviewed"  # scrutinised and upheld
    CHALLENGED = "challenged"  # scrutinised and sent back


class Reviewer(StrEnum):
    """Who reviewed or challenged a decision (a role, never a person)."""

    COMMISSIONING_MANAGER = "commissioning-manager"
    SUFFICIENCY_PANEL = "sufficiency-panel"
    HEAD_OF_SEND = "head-of-send"
    QAG = "qag"
    FINANCE = "finance"


class SendCohort(StrEnum):
    EHCP = "ehcp"
    SEN_SUPPORT = "sen-support"
