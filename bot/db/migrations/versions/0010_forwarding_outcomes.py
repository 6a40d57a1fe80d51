"""Forwarding to a competent body and the recorded outcome of a case (issue 17 items 3 and 5).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_forwardings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("body_name", sa.String(255), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("reference", sa.String(128), nullable=False),
        sa.Column("forwarded_on", sa.Date(), nullable=False),
        sa.Column("forwarded_by", sa.Integer(), nullable=True),
        sa.Column("answer_due_on", sa.Date(), nullable=True),
        sa.Column("due_basis", sa.String(16), nullable=True),
        sa.Column("warned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("late_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answer_text", sa.Text(), nullable=True),
        sa.Column("answer_reference", sa.String(128), nullable=True),
        sa.Column("answered_on", sa.Date(), nullable=True),
        sa.Column("answer_recorded_by", sa.Integer(), nullable=True),
        sa.Column("answer_recorded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_forwardings_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["forwarded_by"], ["staff.id"], name=op.f("fk_case_forwardings_forwarded_by_staff")
        ),
        sa.ForeignKeyConstraint(
            ["answer_recorded_by"],
            ["staff.id"],
            name=op.f("fk_case_forwardings_answer_recorded_by_staff"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_forwardings")),
    )
    op.create_index("ix_case_forwardings_case_id", "case_forwardings", ["case_id"])
    op.create_table(
        "case_outcomes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("action_text", sa.Text(), nullable=False),
        sa.Column("done_by", sa.String(255), nullable=False),
        sa.Column("done_on", sa.Date(), nullable=False),
        sa.Column("recorded_by", sa.Integer(), nullable=True),
        sa.Column("evidence_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_outcomes_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"], ["staff.id"], name=op.f("fk_case_outcomes_recorded_by_staff")
        ),
        sa.ForeignKeyConstraint(
            ["evidence_id"],
            ["case_attachments.id"],
            name=op.f("fk_case_outcomes_evidence_id_case_attachments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_outcomes")),
    )
    op.create_index("ix_case_outcomes_case_id", "case_outcomes", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_case_outcomes_case_id", table_name="case_outcomes")
    op.drop_table("case_outcomes")
    op.drop_index("ix_case_forwardings_case_id", table_name="case_forwardings")
    op.drop_table("case_forwardings")
