"""inspections: field visits (check-in, checklist answers, photos)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 04:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import dustgrid.models

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = dustgrid.models.UTCDateTime(timezone=True)


def _stamps() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", _TS, server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False),
        sa.Column("updated_at", _TS, server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "inspection",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("idempotency_key", sa.String(64), nullable=False),
        sa.Column(
            "site_id", sa.Integer(), sa.ForeignKey("site.id", ondelete="RESTRICT"), nullable=False
        ),
        sa.Column(
            "inspector_id",
            sa.Integer(),
            sa.ForeignKey("user_account.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column(
            "group_id",
            sa.Integer(),
            sa.ForeignKey("grid_group.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("result", sa.String(16), nullable=False),
        sa.Column("template_version", sa.String(32), nullable=False),
        sa.Column("checked_in_at", _TS, nullable=False),
        sa.Column("submitted_at", _TS, nullable=True),
        sa.Column("check_in_lat", sa.Float(), nullable=True),
        sa.Column("check_in_lon", sa.Float(), nullable=True),
        sa.Column("check_in_accuracy_m", sa.Float(), nullable=True),
        sa.Column("check_in_distance_m", sa.Float(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        *_stamps(),
        sa.UniqueConstraint("idempotency_key", name="uq_inspection_idempotency_key"),
    )
    op.create_index("ix_inspection_group_id", "inspection", ["group_id"])
    op.create_index("ix_inspection_site_submitted", "inspection", ["site_id", "submitted_at"])
    op.create_index(
        "ix_inspection_inspector_checked_in", "inspection", ["inspector_id", "checked_in_at"]
    )
    op.create_table(
        "inspection_item",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "inspection_id",
            sa.Integer(),
            sa.ForeignKey("inspection.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("item_code", sa.String(48), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column(
            "case_id",
            sa.Integer(),
            sa.ForeignKey("case_record.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.UniqueConstraint("inspection_id", "item_code", name="uq_inspection_item_inspection_id"),
    )
    op.create_index("ix_inspection_item_inspection_id", "inspection_item", ["inspection_id"])
    op.create_table(
        "inspection_photo",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "inspection_id",
            sa.Integer(),
            sa.ForeignKey("inspection.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("item_code", sa.String(48), nullable=False),
        sa.Column("original_path", sa.String(255), nullable=False),
        sa.Column("stamped_path", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(64), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("exif_taken_at", _TS, nullable=True),
        sa.Column("exif_lat", sa.Float(), nullable=True),
        sa.Column("exif_lon", sa.Float(), nullable=True),
        sa.Column("flags", sa.String(128), nullable=False),
        *_stamps(),
    )
    op.create_index("ix_inspection_photo_inspection_id", "inspection_photo", ["inspection_id"])


def downgrade() -> None:
    op.drop_table("inspection_photo")
    op.drop_table("inspection_item")
    op.drop_table("inspection")
