"""Announcements to subscribers: the announcement, its recipients, its audit trail, and the shared
send-rate buckets (issue 16).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

ANNOUNCEMENT_STATUSES = (
    "draft",
    "pending_approval",
    "approved",
    "scheduled",
    "sending",
    "sent",
    "rejected",
    "cancelled",
)
RECIPIENT_STATUSES = ("pending", "sent", "not_allowed", "blocked", "failed", "unsubscribed")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table(
        "announcements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_code", sa.String(64), nullable=False),
        sa.Column("target_units", sa.Text(), nullable=False),
        sa.Column("topic", sa.String(32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("image_url", sa.Text(), nullable=True),
        sa.Column("link_url", sa.Text(), nullable=True),
        sa.Column("status", sa.String(24), server_default="draft", nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("approver_id", sa.Integer(), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            _in("status", ANNOUNCEMENT_STATUSES), name=op.f("ck_announcements_status")
        ),
        sa.ForeignKeyConstraint(
            ["unit_code"], ["units.code"], name=op.f("fk_announcements_unit_code_units")
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["staff.id"], name=op.f("fk_announcements_author_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["approver_id"], ["staff.id"], name=op.f("fk_announcements_approver_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_announcements")),
    )
    op.create_index(
        "ix_announcements_status_scheduled", "announcements", ["status", "scheduled_at"]
    )
    op.create_table(
        "announcement_recipients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("announcement_id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("sender_id", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), server_default="pending", nullable=False),
        sa.Column("kind", sa.String(32), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("parts_sent", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("sending_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            _in("status", RECIPIENT_STATUSES), name=op.f("ck_announcement_recipients_status")
        ),
        sa.ForeignKeyConstraint(
            ["announcement_id"],
            ["announcements.id"],
            name=op.f("fk_announcement_recipients_announcement_id_announcements"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_announcement_recipients")),
        sa.UniqueConstraint(
            "announcement_id",
            "channel",
            "sender_id",
            name=op.f("uq_announcement_recipients_announcement_id_channel_sender_id"),
        ),
    )
    op.create_index(
        "ix_announcement_recipients_status",
        "announcement_recipients",
        ["announcement_id", "status"],
    )
    op.create_index(
        "ix_announcement_recipients_sent",
        "announcement_recipients",
        ["channel", "status", "sent_at"],
    )
    op.create_table(
        "announcement_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("announcement_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["announcement_id"],
            ["announcements.id"],
            name=op.f("fk_announcement_events_announcement_id_announcements"),
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_announcement_events_staff_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_announcement_events")),
    )
    op.create_index(
        "ix_announcement_events_announcement", "announcement_events", ["announcement_id", "id"]
    )
    op.create_table(
        "rate_buckets",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("next_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_rate_buckets")),
    )


def downgrade() -> None:
    op.drop_table("rate_buckets")
    op.drop_index("ix_announcement_events_announcement", table_name="announcement_events")
    op.drop_table("announcement_events")
    op.drop_index("ix_announcement_recipients_sent", table_name="announcement_recipients")
    op.drop_index("ix_announcement_recipients_status", table_name="announcement_recipients")
    op.drop_table("announcement_recipients")
    op.drop_index("ix_announcements_status_scheduled", table_name="announcements")
    op.drop_table("announcements")
