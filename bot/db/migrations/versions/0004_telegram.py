"""Telegram for staff: link codes, linked members, posted case messages, overdue notices.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "telegram_link_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("unit_code", sa.String(64), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_by_telegram_user_id", sa.BigInteger(), nullable=True),
        sa.Column("used_in_chat_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_telegram_link_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_telegram_link_codes_code_hash")),
        sa.ForeignKeyConstraint(
            ["unit_code"], ["units.code"], name=op.f("fk_telegram_link_codes_unit_code_units")
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_telegram_link_codes_staff_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["staff.id"], name=op.f("fk_telegram_link_codes_created_by_staff")
        ),
        sa.CheckConstraint(
            "purpose IN ('group', 'member')", name=op.f("ck_telegram_link_codes_purpose")
        ),
    )

    op.create_table(
        "telegram_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("telegram_user_id", sa.BigInteger(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("telegram_username", sa.String(64), nullable=True),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("link_code_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_telegram_members")),
        sa.UniqueConstraint("telegram_user_id", name=op.f("uq_telegram_members_telegram_user_id")),
        sa.UniqueConstraint("staff_id", name=op.f("uq_telegram_members_staff_id")),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_telegram_members_staff_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["link_code_id"],
            ["telegram_link_codes.id"],
            name=op.f("fk_telegram_members_link_code_id_telegram_link_codes"),
        ),
    )

    op.create_table(
        "telegram_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_telegram_messages")),
        sa.UniqueConstraint(
            "chat_id", "message_id", name=op.f("uq_telegram_messages_chat_id_message_id")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_telegram_messages_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["outbox_id"], ["outbox.id"], name=op.f("fk_telegram_messages_outbox_id_outbox")
        ),
    )
    op.create_index(op.f("ix_telegram_messages_case_id"), "telegram_messages", ["case_id"])

    op.create_table(
        "overdue_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_overdue_notices")),
        sa.UniqueConstraint("case_id", "due_at", name=op.f("uq_overdue_notices_case_id_due_at")),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_overdue_notices_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["outbox_id"], ["outbox.id"], name=op.f("fk_overdue_notices_outbox_id_outbox")
        ),
    )


def downgrade() -> None:
    op.drop_table("overdue_notices")
    op.drop_index(op.f("ix_telegram_messages_case_id"), table_name="telegram_messages")
    op.drop_table("telegram_messages")
    op.drop_table("telegram_members")
    op.drop_table("telegram_link_codes")
