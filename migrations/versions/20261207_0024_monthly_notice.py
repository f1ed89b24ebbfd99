"""reports: published monthly notices

Revision ID: 0024
Revises: 0025
Create Date: 2026-12-07 16:10:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import dustgrid.models

revision: str = "0024"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = dustgrid.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "monthly_notice",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("assessment_version", sa.Integer(), nullable=False),
        sa.Column("assessment_state", sa.String(8), nullable=False),
        sa.Column("published_at", _TS, nullable=False),
        sa.Column(
            "published_by_id",
            sa.Integer(),
            sa.ForeignKey("user_account.id", ondelete="SET NULL"),
            nullable=True,
        ),
    )
    op.create_index("ix_monthly_notice_month", "monthly_notice", ["month"])


def downgrade() -> None:
    op.drop_index("ix_monthly_notice_month", table_name="monthly_notice")
    op.drop_table("monthly_notice")
