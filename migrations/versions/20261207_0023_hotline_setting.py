"""intake: hotline_setting (the city lets district admins open cases from complaints)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 15:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import dustgrid.models

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = dustgrid.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "hotline_setting",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("district_opens_cases", sa.Boolean(), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column(
            "updated_by_id",
            sa.Integer(),
            sa.ForeignKey("user_account.id", ondelete="SET NULL"),
            nullable=True,
        ),
    )


def downgrade() -> None:
    op.drop_table("hotline_setting")
