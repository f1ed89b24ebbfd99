"""cases handled by the grid on the spot; notifications as a message key and params

``case_record.grid_handled``: the reporting officer of the site's own enforcement grid
fixed the problem on site or ordered rectification at once (网格现场处置), without
dispatch and acceptance. ``notification.message_key`` / ``params``: a notification shown
in the reader's language (``title`` stays the text outbound channels send).

Revision ID: 0015
Revises: 0012
Create Date: 2026-12-07 04:10:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("case_record") as batch:
        batch.add_column(
            sa.Column(
                "grid_handled", sa.Boolean(), server_default=sa.text("false"), nullable=False
            )
        )
    with op.batch_alter_table("notification") as batch:
        batch.add_column(sa.Column("message_key", sa.String(64), nullable=True))
        batch.add_column(sa.Column("params", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notification") as batch:
        batch.drop_column("params")
        batch.drop_column("message_key")
    with op.batch_alter_table("case_record") as batch:
        batch.drop_column("grid_handled")
