"""devices: the resolution a camera stream check measured (003 附件7 provider score)

Revision ID: 0027
Revises: 0024
Create Date: 2026-12-08 10:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("main_stream_width", "main_stream_height", "sub_stream_width", "sub_stream_height")


def upgrade() -> None:
    with op.batch_alter_table("camera_stream_check") as batch:
        for name in COLUMNS:
            batch.add_column(sa.Column(name, sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("camera_stream_check") as batch:
        for name in reversed(COLUMNS):
            batch.drop_column(name)
