"""The weekly digest (issue 15 item 2–3): indexes for counting a unit's cases by filing time and
its events by kind and time, ``cases.first_response_at`` (filled from the ``first_response``
events) so the unanswered open cases are found without the event trail, and the record of the
questions citizens asked the assistant (programme questions answered, and those
it could not answer) for the digest's "for trainers" section.

Revision ID: 0011
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("first_response_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE cases SET first_response_at = (SELECT min(e.created_at) FROM case_events e "
        "WHERE e.case_id = cases.id AND e.action = 'first_response')"
    )
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
        batch.drop_column("first_response_at")
