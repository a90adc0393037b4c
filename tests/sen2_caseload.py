"""A synthetic SEN2 return built to a published caseload: one person per active plan,
each with a placement of the DfE setting type its column counts (a URN typed through a
settings look-up, with the SEN unit / resourced provision indicators, or a SENSetting
code), plans with no placement for ``placement_unknown``, and distractors that must not
count (ceased plans, placements that ended before the census, second-ranked
placements).  Synthetic people only."""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import date, timedelta

# DfE setting type -> how SEN2 records it: a look-up type plus indicators, or a SENSetting
_BY_CODE = {
    "other_arrangements_la": "OLA",
    "other_arrangements_parents": "OPA",
    "elective_home_education": "EHE",
    "nm_early_years": "EYP",
    "other_placement_settings": "OTH",
    "neet": "NEET",
    "neet_ntci": "NIEC",
    "neet_other": "NIEO",
    "neet_other_csa": "NIEO",
}


def _placement(setting: str, urns: dict[str, str], entry: date, rank: int = 1) -> str:
    if setting in _BY_CODE:
        body = f"<SENSetting>{_BY_CODE[setting]}</SENSetting>"
    else:
        unit = resourced = 0
        base = setting
        if setting.endswith("_senunit"):
            base, unit = setting.removesuffix("_senunit"), 1
        elif setting.endswith("_resourced_provision"):
            base, resourced = setting.removesuffix("_resourced_provision"), 1
        urn = next((u for u, s in urns.items() if s == base), None)
        if urn is None:
            urn = str(100000 + len(urns))
            urns[urn] = base
        tag = "UKPRN" if base == "ukrlp_provider" else "URN"
        body = (
            f"<{tag}>{urn}</{tag}><SENunitIndicator>{unit}</SENunitIndicator>"
            f"<ResourcedProvisionIndicator>{resourced}</ResourcedProvisionIndicator>"
        )
    return (
        f"<PlacementDetail>{body}<PlacementRank>{rank}</PlacementRank>"
        f"<EntryDate>{entry.isoformat()}</EntryDate></PlacementDetail>"
    )


def build(counts: Mapping[str, int], census: date, seed: int = 1) -> tuple[bytes, dict[str, str]]:
    """The XML, and the settings look-up (URN/UKPRN -> setting type) it needs."""
    rng = random.Random(seed)
    urns: dict[str, str] = {}
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>\n<Message><Header><CollectionDetails>'
        f"<Collection>SEN2</Collection><Year>{census.year}</Year>"
        f"<ReferenceDate>{census.isoformat()}</ReferenceDate></CollectionDetails>"
        "<Source><SourceLevel>L</SourceLevel><LEA>893</LEA></Source></Header><Persons>\n"
    ]
    n = 0

    def person(requests: str, age_years: int) -> None:
        nonlocal n
        n += 1
        birth = census - timedelta(days=age_years * 365 + rng.randint(0, 300))
        out.append(
            f"<Person><Surname>Testperson</Surname><Forename>Synthetic</Forename>"
            f"<PersonBirthDate>{birth.isoformat()}</PersonBirthDate><Sex>{'MF'[n % 2]}</Sex>"
            f"<PostCode>SY{1 + n % 3} {n % 9}AB</PostCode><UPN>A{800000000000 + n}</UPN>"
            f"{requests}</Person>\n"
        )

    def request(received: date, active: str | None, cease: date | None = None) -> str:
        start = received + timedelta(days=rng.randint(60, 140))
        plan = f"<NamedPlan><StartDate>{start.isoformat()}</StartDate>"
        if cease is not None:
            plan += f"<CeaseDate>{cease.isoformat()}</CeaseDate><CeaseReason>2</CeaseReason>"
        plan += "</NamedPlan>"
        body = (
            f"<Requests><ReceivedDate>{received.isoformat()}</ReceivedDate>"
            "<RequestOutcome>H</RequestOutcome><RequestMediation>0</RequestMediation>"
            "<RequestTribunal>0</RequestTribunal>"
            f"<Assessment><AssessmentOutcome>H</AssessmentOutcome>{plan}</Assessment>"
        )
        if active is not None:
            body += (
                "<ActivePlans><ReviewMeeting>"
                f"{(census - timedelta(days=rng.randint(10, 300))).isoformat()}</ReviewMeeting>"
                f"{active}<SENneed><SENtype>ASD</SENtype><SENtypeRank>1</SENtypeRank></SENneed>"
                "</ActivePlans>"
            )
        return body + "</Requests>"

    for setting, count in counts.items():
        for _ in range(count):
            received = census - timedelta(days=rng.randint(200, 2500))
            entry = received + timedelta(days=rng.randint(150, 190))
            age = 9 if setting != "neet_other_csa" else 12
            if setting in ("neet", "neet_other", "neet_ntci"):
                age = 18
            if setting == "placement_unknown":
                placements = ""
            else:
                placements = _placement(setting, urns, min(entry, census))
                if rng.random() < 0.1:  # a second-ranked placement never counts
                    placements += _placement("special_independent", urns, entry, rank=2)
                if rng.random() < 0.1:  # an earlier placement that ended
                    old = received + timedelta(days=100)
                    placements = (
                        "<PlacementDetail><SENSetting>OTH</SENSetting><PlacementRank>1"
                        f"</PlacementRank><EntryDate>{old.isoformat()}</EntryDate><LeavingDate>"
                        f"{(old + timedelta(days=20)).isoformat()}</LeavingDate></PlacementDetail>"
                        + placements
                    )
            person(request(received, placements), age)
    for _ in range(50):  # ceased before the census: not counted
        received = census - timedelta(days=rng.randint(900, 2500))
        person(request(received, None, cease=census - timedelta(days=rng.randint(1, 300))), 14)
    out.append("</Persons></Message>\n")
    return "".join(out).encode("utf-8"), urns
