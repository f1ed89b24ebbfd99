"""site grades: the grade history of each site (grade, reasons, policy version)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 04:10:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import dustgrid.models

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = dustgrid.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "site_grade_history",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "site_id", sa.Integer(), sa.ForeignKey("site.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("grade", sa.String(16), nullable=False),
        sa.Column("previous_grade", sa.String(16), nullable=True),
        sa.Column("policy_version", sa.String(16), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column(
            "inspection_id",
            sa.Integer(),
            sa.ForeignKey("inspection.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("stale", sa.Boolean(), nullable=False),
        sa.Column("changed_at", _TS, nullable=False),
        sa.Column(
            "actor_id",
            sa.Integer(),
            sa.ForeignKey("user_account.id", ondelete="SET NULL"),
            nullable=True,
        ),
    )
    op.create_index(
        "ix_site_grade_history_site_changed", "site_grade_history", ["site_id", "changed_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_site_grade_history_site_changed", table_name="site_grade_history")
    op.drop_table("site_grade_history")
