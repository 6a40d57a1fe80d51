"""Same-issue clusters (issue 15): ``cases.cluster_id`` and ``cases.signature``, and the
look-up keys of signatures in ``case_cluster_keys``.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("cluster_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("signature", sa.Text(), nullable=True))
    op.create_index("ix_cases_cluster_id", "cases", ["cluster_id"])
    op.create_table(
        "case_cluster_keys",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(96), nullable=False),
        sa.Column("unit_code", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_cluster_keys_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("case_id", "key", name=op.f("pk_case_cluster_keys")),
    )
    op.create_index(
        "ix_case_cluster_keys_lookup", "case_cluster_keys", ["unit_code", "key", "case_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_case_cluster_keys_lookup", table_name="case_cluster_keys")
    op.drop_table("case_cluster_keys")
    op.drop_index("ix_cases_cluster_id", table_name="cases")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("signature")
        batch.drop_column("cluster_id")
