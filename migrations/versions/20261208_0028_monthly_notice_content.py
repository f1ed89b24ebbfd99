"""reports: what a published monthly notice said (its figures, rankings and lists)

Revision ID: 0028
Revises: 0024
Create Date: 2026-12-08 10:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("monthly_notice") as batch:
        batch.add_column(sa.Column("content", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("monthly_notice") as batch:
        batch.drop_column("content")
