"""credit: how many bad-behaviour records an enterprise had when its blacklisting was lifted

Lifting a blacklisting gives the enterprise a fresh start: only records made after the lift
count towards the next listing. The count at the lift is kept on the entry it closes.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 22:10:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("blacklist_entry") as batch:
        batch.add_column(sa.Column("records_at_lift", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("blacklist_entry") as batch:
        batch.drop_column("records_at_lift")
