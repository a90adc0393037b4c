"""Reads for NHS community referrals: the CHS SitRep waiting list as it stood on any
day, computed from the stored spans (every referral clock from its start to its close),
so a past date gives the list as it was then, including what arrived late."""

from __future__ import annotations

import csv
import io
from datetime import date

from contracts.kpi_dictionary import WaitingList
from contracts.referrals import ReferralsConfig
from services.timeliness.domain import chs
from services.timeliness.domain.engine import Engine
from services.timeliness.service_layer.unit_of_work import AbstractUnitOfWork


def chs_rows(
    uow: AbstractUnitOfWork, engine: Engine, config: ReferralsConfig, day: date
) -> list[chs.Row]:
    layout = config.chs_waiting_list
    k = engine.dictionary.kpis.get(layout.kpi)
    if not isinstance(k, WaitingList):
        raise ValueError(f"{layout.kpi!r} is not a waiting_list KPI in the dictionary")
    with uow:
        spans = uow.repo.spans(engine.census_keys(layout.kpi), day)
    cells = engine.census(layout.kpi, "as-at", day, spans)
    by_breakdown = {b: v for (_, _, b), v in cells.items()}
    return chs.rows(layout, k, list(config.pathways), day, by_breakdown)


def chs_csv(uow: AbstractUnitOfWork, engine: Engine, config: ReferralsConfig, day: date) -> str:
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=chs.columns(config.chs_waiting_list), lineterminator="\n")
    w.writeheader()
    w.writerows(chs_rows(uow, engine, config, day))
    return out.getvalue()
