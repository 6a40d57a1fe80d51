"""The weekly digest (issue 15 item 2–3): indexes for counting a unit's cases by filing time and
its events by kind and time, ``cases.first_response_at`` (filled from the ``first_response``
events) so the unanswered open cases are found without the event trail, and the record of the
questions citizens asked the assistant (programme questions answered, and those
it could not answer) for the digest's "for trainers" section.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _topics(raw: str) -> str | None:
    """``CaseSignature.topics()`` of a stored signature, as JSON (the rule is repeated here so
    the migration does not change when the module does)."""
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    concepts = [f"#{c}" for c in data.get("concepts") or ()]
    terms = [t for t in (data.get("terms") or {}) if "_" in t and not t.startswith("#")]
    return json.dumps(concepts + terms, ensure_ascii=False)


def _fill_topic_terms() -> None:
    """Existing signed cases get their topic terms, a thousand rows per statement batch."""
    bind = op.get_bind()
    cases = sa.table(
        "cases",
        sa.column("id", sa.Integer),
        sa.column("signature", sa.Text),
        sa.column("topic_terms", sa.Text),
    )
    last = 0
    while True:
        rows = bind.execute(
            sa.select(cases.c.id, cases.c.signature)
            .where(cases.c.id > last, cases.c.signature.is_not(None))
            .order_by(cases.c.id)
            .limit(1000)
        ).all()
        if not rows:
            return
        bind.execute(
            cases.update()
            .where(cases.c.id == sa.bindparam("case_id"))
            .values(topic_terms=sa.bindparam("terms")),
            [{"case_id": r.id, "terms": _topics(r.signature)} for r in rows],
        )
        last = rows[-1].id


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("first_response_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("topic_terms", sa.Text(), nullable=True))
    op.execute(
        "UPDATE cases SET first_response_at = (SELECT min(e.created_at) FROM case_events e "
        "WHERE e.case_id = cases.id AND e.action = 'first_response')"
    )
    _fill_topic_terms()
    op.create_index("ix_cases_unit_created", "cases", ["unit_code", "created_at"])
    op.create_index(
        "ix_cases_unit_status_first_response",
        "cases",
        ["unit_code", "status", "first_response_at"],
    )
    op.create_index("ix_case_events_action_created", "case_events", ["action", "created_at"])
    op.create_table(
        "assistant_questions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("unit_code", sa.String(64), nullable=True),
        sa.Column("programme", sa.String(64), nullable=True),
        sa.Column("aspect", sa.String(32), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assistant_questions")),
    )
    op.create_index("ix_assistant_questions_created", "assistant_questions", ["created_at", "kind"])


def downgrade() -> None:
    op.drop_index("ix_assistant_questions_created", table_name="assistant_questions")
    op.drop_table("assistant_questions")
    op.drop_index("ix_case_events_action_created", table_name="case_events")
    op.drop_index("ix_cases_unit_status_first_response", table_name="cases")
    op.drop_index("ix_cases_unit_created", table_name="cases")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("topic_terms")
        batch.drop_column("first_response_at")
