"""patrols: weekly and fortnightly patrol plans and their stops

Revision ID: 0013
Revises: 0016
Create Date: 2026-12-07 04:30:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import dustgrid.models

revision: str = "0013"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = dustgrid.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "patrol_plan",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "grid_id", sa.Integer(), sa.ForeignKey("grid.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column(
            "group_id",
            sa.Integer(),
            sa.ForeignKey("grid_group.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("policy_version", sa.String(32), nullable=False),
        sa.Column("shortfall", sa.Integer(), nullable=False),
        sa.Column("shortfall_site_ids", sa.JSON(), nullable=False),
        sa.Column("created_at", _TS, server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False),
        sa.Column("updated_at", _TS, server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False),
        sa.UniqueConstraint(
            "group_id", "period_start", name="uq_patrol_plan_group_id_period_start"
        ),
    )
    op.create_index("ix_patrol_plan_grid_id", "patrol_plan", ["grid_id"])
    op.create_index("ix_patrol_plan_group_id", "patrol_plan", ["group_id"])
    op.create_index("ix_patrol_plan_period", "patrol_plan", ["period_start", "period_end"])
    op.create_table(
        "patrol_stop",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "plan_id",
            sa.Integer(),
            sa.ForeignKey("patrol_plan.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "member_user_id",
            sa.Integer(),
            sa.ForeignKey("user_account.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column(
            "site_id", sa.Integer(), sa.ForeignKey("site.id", ondelete="CASCADE"), nullable=False
        ),
    )
    op.create_index("ix_patrol_stop_member_user_id", "patrol_stop", ["member_user_id"])
    op.create_index("ix_patrol_stop_plan_day", "patrol_stop", ["plan_id", "day", "seq"])
    op.create_index("ix_patrol_stop_site_day", "patrol_stop", ["site_id", "day"])


def downgrade() -> None:
    op.drop_table("patrol_stop")
    op.drop_table("patrol_plan")
