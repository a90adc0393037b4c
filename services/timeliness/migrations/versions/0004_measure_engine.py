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
    if s.get("decision_to_assess"):
        facts.append(
            _fact(
                "ehc.assessment.decision-to-assess",
                s["decision_to_assess"],
                {"outcome": s["decision_outcome"]},
            )
        )
    for name, etype in (("advice_requested", "requested"), ("advice_received", "received")):
        for giver, day in sorted((s.get(name) or {}).items()):
            facts.append(_fact(f"ehc.advice.{etype}", day, {"advice_giver": giver}))
    for name, etype in (("exception_starts", "started"), ("exception_ends", "ended")):
        for reason, day in sorted(s.get(name) or []):
            facts.append(_fact(f"ehc.exception.{etype}", day, {"reason": reason}))
    if s.get("assessment_decision"):
        facts.append(
            _fact(
                "ehc.assessment.decision",
                s["assessment_decision"],
                {"outcome": s["assessment_outcome"]},
            )
        )
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


def upgrade() -> None:
    op.create_table(
        "timeliness_subject",
        sa.Column("subject", sa.String(80), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("topic", sa.String(64), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("running", sa.Boolean(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("raised", sa.Text(), nullable=False),
    )
    op.create_index(
        "ix_timeliness_subject_lane", "timeliness_subject", ["topic", "partition", "running"]
    )
    op.create_table(
        "timeliness_span",
        sa.Column("key", sa.String(96), primary_key=True),
        sa.Column("subject", sa.String(80), primary_key=True),
        sa.Column("seq", sa.Integer(), primary_key=True),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("close", sa.Date()),
        sa.Column("nullified", sa.Boolean(), nullable=False),
        sa.Column("value", sa.Integer()),
        sa.Column("pauses", sa.Text(), nullable=False),
        sa.Column("excluded", sa.Text(), nullable=False),
        sa.Column("attrs", sa.Text(), nullable=False),
    )
    op.create_index("ix_timeliness_span_close", "timeliness_span", ["key", "close", "start"])
    op.create_table(
        "timeliness_cell",
        sa.Column("kpi", sa.String(64), primary_key=True),
        sa.Column("cycle", sa.String(32), primary_key=True),
        sa.Column("breakdown", sa.String(96), primary_key=True),
        sa.Column("counts", sa.Text(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
    )
    op.create_index("ix_timeliness_cell_cycle", "timeliness_cell", ["cycle"])
    op.create_table(
        "timeliness_audit",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("from_day", sa.Date()),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
    )
    with op.batch_alter_table("timeliness_state") as batch:
        batch.add_column(sa.Column("fingerprint", sa.String(64)))
        batch.add_column(sa.Column("census_from", sa.Date()))
        batch.add_column(sa.Column("census_day", sa.Date()))
        batch.add_column(
            sa.Column("subjects", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )
        batch.add_column(
            sa.Column("running", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )

    bind = op.get_bind()
    cases = sa.table(
        "timeliness_case",
        sa.column("case_id", sa.String),
        sa.column("partition", sa.Integer),
        sa.column("received", sa.Date),
        sa.column("closed_on", sa.Date),
        sa.column("historical", sa.Boolean),
        sa.column("state", sa.Text),
        sa.column("raised", sa.Text),
    )
    subjects = sa.table(
        "timeliness_subject",
        sa.column("subject", sa.String),
        sa.column("kind", sa.String),
        sa.column("topic", sa.String),
        sa.column("partition", sa.Integer),
        sa.column("running", sa.Boolean),
        sa.column("state", sa.Text),
        sa.column("raised", sa.Text),
    )
    total = running = 0
    rows = bind.execute(sa.select(cases)).mappings()
    batch_rows: list[dict[str, Any]] = []
    for r in rows:
        is_open = r["received"] is not None and r["closed_on"] is None and not r["historical"]
        batch_rows.append(
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
        if len(batch_rows) >= 1000:
            bind.execute(subjects.insert(), batch_rows)
            batch_rows = []
    if batch_rows:
        bind.execute(subjects.insert(), batch_rows)
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
    op.drop_index("ix_timeliness_case_received", "timeliness_case")
    op.drop_index("ix_timeliness_case_final", "timeliness_case")
    op.drop_index("ix_timeliness_case_open", "timeliness_case")
    op.drop_table("timeliness_case")


def downgrade() -> None:
    raise NotImplementedError("the measure engine's tables cannot be turned back into v3 cases")
