"""Initial schema: units, staff, cases with attachments and events, outbox, dedupe, counters.

Revision ID: 0001
Revises:
Create Date: 2025-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _in(column: str, *values: str) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table(
        "units",
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("short_name", sa.String(255), nullable=True),
        sa.Column("parent_code", sa.String(64), nullable=True),
        sa.Column("level", sa.String(32), nullable=False),
        sa.Column("telegram_chat_id", sa.BigInteger(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.text("true")),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_units")),
        sa.ForeignKeyConstraint(
            ["parent_code"], ["units.code"], name=op.f("fk_units_parent_code_units")
        ),
    )
    op.create_table(
        "staff",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("login", sa.String(128), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("display_name", sa.String(255), nullable=True),
        sa.Column("unit_code", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.text("true")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff")),
        sa.UniqueConstraint("login", name=op.f("uq_staff_login")),
        sa.ForeignKeyConstraint(
            ["unit_code"], ["units.code"], name=op.f("fk_staff_unit_code_units")
        ),
        sa.CheckConstraint(
            _in("role", "officer", "unit_admin", "system_admin"), name=op.f("ck_staff_role")
        ),
    )
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ref_code", sa.String(20), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("category", sa.String(64), nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("location_text", sa.Text(), nullable=True),
        sa.Column("unit_code", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("channel_user_id", sa.String(128), nullable=False),
        sa.Column("conversation_id", sa.String(255), nullable=True),
        sa.Column("person_name", sa.String(255), nullable=True),
        sa.Column("phone", sa.String(20), nullable=True),
        sa.Column("consent", sa.Boolean(), nullable=False, server_default=sa.text("false")),
        sa.Column("consent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(16), nullable=False, server_default="new"),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("sla_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("moderation_verdict", sa.String(32), nullable=True),
        sa.Column("anonymised", sa.Boolean(), nullable=False, server_default=sa.text("false")),
        sa.Column("idempotency_key", sa.String(255), nullable=True),
        sa.Column("rating", sa.SmallInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
        sa.UniqueConstraint("ref_code", name=op.f("uq_cases_ref_code")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_cases_idempotency_key")),
        sa.ForeignKeyConstraint(
            ["unit_code"], ["units.code"], name=op.f("fk_cases_unit_code_units")
        ),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["staff.id"], name=op.f("fk_cases_assignee_id_staff")
        ),
        sa.CheckConstraint(
            _in("kind", "feedback", "petition", "handoff"), name=op.f("ck_cases_kind")
        ),
        sa.CheckConstraint(
            _in("status", "new", "acknowledged", "in_progress", "resolved", "rejected", "closed"),
            name=op.f("ck_cases_status"),
        ),
        sa.CheckConstraint(
            "rating IS NULL OR (rating >= 1 AND rating <= 5)", name=op.f("ck_cases_rating")
        ),
    )
    op.create_index("ix_cases_channel_user", "cases", ["channel", "channel_user_id", "created_at"])
    op.create_index("ix_cases_unit_status", "cases", ["unit_code", "status"])
    op.create_index("ix_cases_status_updated", "cases", ["status", "updated_at"])

    op.create_table(
        "case_attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("payload", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_attachments")),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_attachments_case_id_cases")
        ),
        sa.CheckConstraint(
            _in("kind", "image", "location", "file"), name=op.f("ck_case_attachments_kind")
        ),
    )
    op.create_index(op.f("ix_case_attachments_case_id"), "case_attachments", ["case_id"])

    op.create_table(
        "case_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("actor_kind", sa.String(16), nullable=False),
        sa.Column("actor_id", sa.String(128), nullable=True),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_events")),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_events_case_id_cases")
        ),
        sa.CheckConstraint(
            _in("actor_kind", "citizen", "bot", "staff", "system"),
            name=op.f("ck_case_events_actor_kind"),
        ),
    )
    op.create_index("ix_case_events_case_id_id", "case_events", ["case_id", "id"])

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("target", sa.String(255), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_outbox_case_id_cases")),
        sa.CheckConstraint(
            _in("status", "pending", "sent", "failed", "undeliverable"),
            name=op.f("ck_outbox_status"),
        ),
    )
    op.create_index(op.f("ix_outbox_case_id"), "outbox", ["case_id"])

    op.create_table(
        "seen_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("message_id", sa.String(255), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seen_messages")),
        sa.UniqueConstraint(
            "channel", "message_id", name=op.f("uq_seen_messages_channel_message_id")
        ),
    )
    op.create_index(op.f("ix_seen_messages_seen_at"), "seen_messages", ["seen_at"])

    op.create_table(
        "ref_counters",
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("last_value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("prefix", name=op.f("pk_ref_counters")),
    )


def downgrade() -> None:
    for table in (
        "ref_counters",
        "seen_messages",
        "outbox",
        "case_events",
        "case_attachments",
        "cases",
        "staff",
        "units",
    ):
        op.drop_table(table)
