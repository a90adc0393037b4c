"""SEN2 code lists and the breakdown vocabularies events carry.

Codes follow the DfE SEN2 person-level return (see the standards reference, section 1.3).
"""

from __future__ import annotations

from enum import StrEnum


class RequestOutcome(StrEnum):
    """Decision whether to assess (SEN2 RequestOutcome) as a case event can state it."""

    ASSESS = "Y"
    NOT_ASSESS = "N"
    WITHDRAWN = "W"


class AssessmentOutcome(StrEnum):
    """Decision on the assessment (SEN2 AssessmentOutcome)."""

    ISSUE = "Y"
    NOT_ISSUE = "N"
    WITHDRAWN = "W"


class AdviceGiver(StrEnum):
    EDUCATION = "education"
    EP = "ep"
    HEALTH = "health"
    SOCIAL_CARE = "social_care"


class ExceptionReason(StrEnum):
    """SEND Regulations 2014 reg 10(4): exceptions to the 20-week time limit."""

    LA_REQUESTED_INFO_SCHOOL_CLOSED = "10(4)(a)"  # school/college closed for 4+ weeks
    EXCEPTIONAL_PERSONAL_CIRCUMSTANCES_CHILD = "10(4)(b)"
    EXCEPTIONAL_PERSONAL_CIRCUMSTANCES_PARENT = "10(4)(c)"
    ABSENT_FROM_AREA = "10(4)(d)"  # child or parent absent from the area for 4+ weeks
    UNSPECIFIED = "unspecified"  # SEN2 Week20 = 1 says an exception applied, not which


class CeaseReason(StrEnum):
    MAX_AGE = "1"
    NEEDS_MET = "2"
    HIGHER_EDUCATION = "3"
    PAID_EMPLOYMENT = "4"
    TRANSFERRED_TO_OTHER_LA = "5"
    NO_LONGER_ENGAGES = "6"
    MOVED_OUTSIDE_ENGLAND = "7"
    DECEASED = "8"
    OTHER = "9"


class SENType(StrEnum):
    SPLD = "SPLD"
    MLD = "MLD"
    SLD = "SLD"
    PMLD = "PMLD"
    SEMH = "SEMH"
    SLCN = "SLCN"
    HI = "HI"
    VI = "VI"
    MSI = "MSI"
    PD = "PD"
    ASD = "ASD"
    DS = "DS"
    OTH = "OTH"


class RequestSource(StrEnum):
    PARENT_OR_YOUNG_PERSON = "1"
    EDUCATION_SETTING = "2"
    HEALTH = "3"
    SOCIAL_CARE = "4"
    OTHER = "5"


class AgeBand(StrEnum):
    """DfE's published age groups (age at the relevant date)."""

    UNDER_5 = "under-5"
    AGE_5_10 = "5-10"
    AGE_11_15 = "11-15"
    AGE_16_19 = "16-19"
    AGE_20_25 = "20-25"


class Phase(StrEnum):
    EARLY_YEARS = "early-years"
    PRIMARY = "primary"
    SECONDARY = "secondary"
    POST_16 = "post-16"
    POST_19 = "post-19"


class SettingType(StrEnum):
    """Setting groups as DfE publishes them, plus the SEN2 no-URN settings."""

    MAINSTREAM = "mainstream"
    MAINSTREAM_SEN_UNIT = "mainstream-sen-unit"
    SPECIAL = "special"
    INDEPENDENT_SPECIAL = "independent-special"
    AP_PRU = "ap-pru"
    FE = "fe"
    SPECIALIST_POST_16 = "specialist-post-16"
    EARLY_YEARS = "early-years"
    EHE = "ehe"
    NEET = "neet"
    NOT_IN_EDUCATION = "not-in-education"
    OTHER = "other"


class Sex(StrEnum):
    FEMALE = "F"
    MALE = "M"
    UNKNOWN = "U"


# How urgent a referral (NHS community services) or a request (Experts at Hand) is.
class Priority(StrEnum):
    ROUTINE = "routine"
    URGENT = "urgent"
