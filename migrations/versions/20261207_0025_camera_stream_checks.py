"""devices: camera stream checks (003 附件6, mandatory devices)

Revision ID: 0025
Revises: 0023
Create Date: 2026-12-07 16:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import dustgrid.models

revision: str = "0025"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = dustgrid.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "camera_stream_check",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "device_id", sa.Integer(), sa.ForeignKey("device.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("checked_at", _TS, nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("note", sa.String(255), nullable=False),
        sa.Column(
            "checked_by_id", sa.Integer(),
            sa.ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True,
        ),
        sa.Column("recorded_at", _TS, nullable=False),
    )  # fmt: skip
    op.create_index(
        "ix_camera_stream_check_device_at", "camera_stream_check", ["device_id", "checked_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_camera_stream_check_device_at", table_name="camera_stream_check")
    op.drop_table("camera_stream_check")
