"""emergencies: heavy-pollution warnings, emergency orders

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 05:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import dustgrid.models

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = dustgrid.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "emergency",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("starts_at", _TS, nullable=False),
        sa.Column("ends_at", _TS, nullable=False),
        sa.Column("ended_at", _TS, nullable=True),
        sa.Column("area_kind", sa.String(16), nullable=False),
        sa.Column("district_ids", sa.JSON(), nullable=False),
        sa.Column("polygon", sa.JSON(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("policy_version", sa.String(16), nullable=False),
        sa.Column(
            "declared_by_id",
            sa.Integer(),
            sa.ForeignKey("user_account.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column(
            "ended_by_id",
            sa.Integer(),
            sa.ForeignKey("user_account.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("created_at", _TS, server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False),
        sa.Column("updated_at", _TS, server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False),
    )
    op.create_index("ix_emergency_period", "emergency", ["starts_at", "ends_at"])
    op.create_table(
        "emergency_order",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "emergency_id",
            sa.Integer(),
            sa.ForeignKey("emergency.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "site_id", sa.Integer(), sa.ForeignKey("site.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("measures", sa.JSON(), nullable=False),
        sa.Column("issued_at", _TS, nullable=False),
        sa.UniqueConstraint("emergency_id", "site_id", name="uq_emergency_order_emergency_id"),
    )
    op.create_index("ix_emergency_order_site", "emergency_order", ["site_id"])


def downgrade() -> None:
    op.drop_table("emergency_order")
    op.drop_table("emergency")
