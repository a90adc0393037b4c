"""The measure engine: subject states (facts and attributes) for every subject kind,
spans for census measures, KPI cells as vectors, an audit of replays.

Existing case states are converted to subject states (one fact per date the case state
kept: the measures read nothing else), and the KPI cells keep their revisions with empty
counts; the service rebuilds the counts from the subjects at start-up (an audited
replay that restates nothing: the re-expressed measures give the same values).

Revision ID: t0004
Revises: t0003
"""

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "t0004"
down_revision = "t0003"
branch_labels = None
depends_on = None

ATTRS: tuple[str, ...] = ("person_id", "locality", "age_band", "phase", "primary_need")
ATTRS += ("setting_type", "sex", "ethnicity")


def _fact(etype: str, day: str, fields: dict[str, Any]) -> list[str]:
    # noon UTC is the same calendar day in London, winter and summer
    return [
        etype,
        day,
        f"{day}T12:00:00+00:00",
        json.dumps(fields, sort_keys=True, separators=(",", ":")),
    ]


def subject_json(s: dict[str, Any]) -> str:
    """A v3 ``CaseState`` (JSON) as a subject state (JSON)."""
    facts: list[list[str]] = []
    if s.get("received"):
        facts.append(
            _fact(
                "ehc.request.received",
                s["received"],
                {"historical": bool(s.get("historical")), "request_source": None, "rya": False},
            )
        )
    elif s.get("historical"):
        facts.append(
            _fact(
                "ehc.case.transferred-in",
                str(s["attrs_time"])[:10],
                {"historical": True, "other_la": None},
            )
        )
    for when, outcome, etype in (
        ("decision_to_assess", "decision_outcome", "ehc.assessment.decision-to-assess"),
        ("assessment_decision", "assessment_outcome", "ehc.assessment.decision"),
    ):
        if s.get(when):
            facts.append(_fact(etype, s[when], {"outcome": s[outcome]}))
    for name, etype in (("advice_requested", "requested"), ("advice_received", "received")):
        for giver, day in sorted((s.get(name) or {}).items()):
            facts.append(_fact(f"ehc.advice.{etype}", day, {"advice_giver": giver}))
    for name, etype in (("exception_starts", "started"), ("exception_ends", "ended")):
        for reason, day in sorted(s.get(name) or []):
            facts.append(_fact(f"ehc.exception.{etype}", day, {"reason": reason}))
    for name, etype, fields in (
        ("draft_issued", "ehc.plan.draft-issued", {}),
        ("final_issued", "ehc.plan.final-issued", {}),
        ("ceased", "ehc.plan.ceased", {"cease_reason": None}),
        ("transferred_out", "ehc.case.transferred-out", {"historical": True, "other_la": None}),
    ):
        if s.get(name):
            facts.append(_fact(etype, s[name], fields))
    facts.sort(key=lambda f: (f[1], f[2], f[0], f[3]))
    attrs = {k: s[k] for k in ATTRS if s.get(k) is not None}
    times = {k: v for k, v in (s.get("attr_times") or {}).items() if k in attrs}
    return json.dumps(
        {"a": attrs, "at": times, "f": facts, "t": s["attrs_time"]}, separators=(",", ":")
    )


# The new tables, one column a word: name:type[:pk] (s<N> string, i integer, b boolean,
# d date, t text, ts timestamp; a trailing ? allows null).
TABLES = {
    "timeliness_subject": "subject:s80:pk kind:s32 topic:s64 partition:i running:b state:t "
    "raised:t",
    "timeliness_span": "key:s96:pk subject:s80:pk seq:i:pk start:d close:d? nullified:b value:i? "
    "pauses:t excluded:t attrs:t",
    "timeliness_cell": "kpi:s64:pk cycle:s32:pk breakdown:s96:pk counts:t revision:i",
    "timeliness_audit": "id:i:pk at:ts action:s32 reason:t from_day:d? fingerprint:s64 detail:t",
}
INDEXES = {
    "ix_timeliness_subject_lane": ("timeliness_subject", ["topic", "partition", "running"]),
    "ix_timeliness_span_close": ("timeliness_span", ["key", "close", "start"]),
    "ix_timeliness_cell_cycle": ("timeliness_cell", ["cycle"]),
}
STATE_COLUMNS = "fingerprint:s64? census_from:d? census_day:d?"


def _column(spec: str) -> sa.Column:  # type: ignore[type-arg]
    name, kind, *flags = spec.split(":")
    nullable = kind.endswith("?")
    kind = kind.rstrip("?")
    types: dict[str, Any] = {"i": sa.Integer(), "b": sa.Boolean(), "d": sa.Date(), "t": sa.Text()}
    types["ts"] = sa.DateTime(timezone=True)
    column_type = sa.String(int(kind[1:])) if kind.startswith("s") else types[kind]
    pk = "pk" in flags
    return sa.Column(name, column_type, primary_key=pk, nullable=nullable)


def upgrade() -> None:
    for table, spec in TABLES.items():
        op.create_table(table, *(_column(c) for c in spec.split()))
    for index, (table, columns) in INDEXES.items():
        op.create_index(index, table, columns)
    with op.batch_alter_table("timeliness_state") as batch:
        for spec in STATE_COLUMNS.split():
            batch.add_column(_column(spec))
        for name in ("subjects", "running"):
            batch.add_column(
                sa.Column(name, sa.Integer(), nullable=False, server_default=sa.text("0"))
            )
    bind = op.get_bind()
    meta = sa.MetaData()
    cases = sa.Table("timeliness_case", meta, autoload_with=bind)
    subjects = sa.Table("timeliness_subject", meta, autoload_with=bind)
    total = running = 0
    rows: list[dict[str, Any]] = []
    for r in bind.execute(sa.select(cases)).mappings():
        is_open = r["received"] is not None and r["closed_on"] is None and not r["historical"]
        rows.append(
            {
                "subject": r["case_id"],
                "kind": "case",
                "topic": "case-events",
                "partition": r["partition"],
                "running": is_open,
                "state": subject_json(json.loads(r["state"])),
                "raised": r["raised"],
            }
        )
        total += 1
        running += int(is_open)
        if len(rows) >= 1000:
            bind.execute(subjects.insert(), rows)
            rows = []
    if rows:
        bind.execute(subjects.insert(), rows)
    # cells keep their revisions; their counts are rebuilt at start-up
    bind.execute(
        sa.text(
            "INSERT INTO timeliness_cell (kpi, cycle, breakdown, counts, revision) "
            "SELECT kpi, cycle, breakdown, '[]', revision FROM timeliness_kpi_agg"
        )
    )
    bind.execute(
        sa.text("UPDATE timeliness_state SET subjects = :n, running = :r").bindparams(
            n=total, r=running
        )
    )
    op.drop_table("timeliness_kpi_agg")
    for index in ("received", "final", "open"):
        op.drop_index(f"ix_timeliness_case_{index}", "timeliness_case")
    op.drop_table("timeliness_case")


def downgrade() -> None:
    raise NotImplementedError("the measure engine's tables cannot be turned back into v3 cases")
