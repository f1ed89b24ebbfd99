"""ingest: dead letters (MQTT messages and HTTP items that could not be stored)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 00:40:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import dustgrid.models

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ingest_dead_letter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("received_at", dustgrid.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("topic", sa.String(length=255), nullable=False),
        sa.Column("mn", sa.String(length=64), nullable=True),
        sa.Column("device_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("payload_bytes", sa.Integer(), nullable=False),
        sa.Column("repeats", sa.Integer(), nullable=False),
        sa.Column("last_at", dustgrid.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_dead_letter")),
    )
    op.create_index(
        "ix_ingest_dead_letter_received", "ingest_dead_letter", ["received_at"], unique=False
    )
    op.create_index(
        "ix_ingest_dead_letter_repeat",
        "ingest_dead_letter",
        ["channel", "status", "mn", "last_at"],
        unique=False,
    )
    op.create_index("ix_ingest_dead_letter_last", "ingest_dead_letter", ["last_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_ingest_dead_letter_last", table_name="ingest_dead_letter")
    op.drop_index("ix_ingest_dead_letter_repeat", table_name="ingest_dead_letter")
    op.drop_index("ix_ingest_dead_letter_received", table_name="ingest_dead_letter")
    op.drop_table("ingest_dead_letter")
