"""quarantine: one row per MN and reason (was: per MN, so a later reason overwrote the first)

A device with a wrong password and then a wrong CRC variant lost its ``bad_password`` row to
``crc_variant``. Each (MN, reason) keeps its own counts, first and last seen and sample.

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-07 00:45:00.000000+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("quarantined_mn") as batch:
        batch.drop_constraint("uq_quarantined_mn_mn", type_="unique")
        batch.create_unique_constraint("uq_quarantined_mn_mn_reason", ["mn", "reason"])


def downgrade() -> None:
    # back to one row per MN: keep each MN's most recent row
    op.execute(
        "DELETE FROM quarantined_mn WHERE id NOT IN ("
        " SELECT id FROM (SELECT id, ROW_NUMBER() OVER ("
        "  PARTITION BY mn ORDER BY last_seen_at DESC, id DESC) AS n FROM quarantined_mn) AS r"
        " WHERE n = 1)"
    )
    with op.batch_alter_table("quarantined_mn") as batch:
        batch.drop_constraint("uq_quarantined_mn_mn_reason", type_="unique")
        batch.create_unique_constraint("uq_quarantined_mn_mn", ["mn"])
