"""cases: partial index of the open cases by unit and due time

For an L2 unit's overdue tab (its overdue cases in due order, without sorting the unit's
whole backlog) and the escalation and reminder sweeps' counts over every open case, which
it answers without reading the table on PostgreSQL (``INCLUDE``). Partial: only the open
states, a quarter of the table. The list of states must stay the one in
``dustgrid.cases.models.OPEN_INDEX_WHERE`` (a migration recreates the index if it changes).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 20:40:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out rather than imported: a migration keeps the schema of its day.
OPEN_WHERE = (
    "state IN ('accepted', 'dispatched', 'handling', 'penalizing', 'rectifying', "
    "'reported', 'returned', 'verifying')"
)


def upgrade() -> None:
    with op.batch_alter_table("case_record", schema=None) as batch_op:
        batch_op.create_index(
            "ix_case_record_open_unit_due",
            ["assigned_unit_id", "due_at"],
            unique=False,
            postgresql_include=["warn_at", "level", "remind_at", "responsible_user_id"],
            postgresql_where=sa.text(OPEN_WHERE),
            sqlite_where=sa.text(OPEN_WHERE),
        )


def downgrade() -> None:
    with op.batch_alter_table("case_record", schema=None) as batch_op:
        batch_op.drop_index("ix_case_record_open_unit_due")
