"""trajectories: trucks, known places, fix batches, daily summaries, suspects, API keys

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 14:28:58.738273+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import dustgrid.models

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "traj_fix_batch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.String(length=64), nullable=False),
        sa.Column(
            "crs",
            sa.Enum("wgs84", "gcj02", name="crs", native_enum=False, length=8),
            nullable=False,
        ),
        sa.Column("client", sa.String(length=128), nullable=False),
        sa.Column("received_at", dustgrid.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("stored", sa.Integer(), nullable=False),
        sa.Column("bad", sa.Integer(), nullable=False),
        sa.Column("files", sa.Integer(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_traj_fix_batch")),
        sa.UniqueConstraint("batch_id", name=op.f("uq_traj_fix_batch_batch_id")),
    )
    op.create_table(
        "traj_stay",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("terminal_id", sa.String(length=64), nullable=False),
        sa.Column("start_at", dustgrid.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("end_at", dustgrid.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("n_fixes", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_traj_stay")),
    )
    with op.batch_alter_table("traj_stay", schema=None) as batch_op:
        batch_op.create_index("ix_traj_stay_day_lat_lon", ["day", "lat", "lon"], unique=False)
        batch_op.create_index(batch_op.f("ix_traj_stay_terminal_id"), ["terminal_id"], unique=False)

    op.create_table(
        "traj_truck",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plate", sa.String(length=16), nullable=False),
        sa.Column("company", sa.String(length=128), nullable=False),
        sa.Column("terminal_id", sa.String(length=64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at",
            dustgrid.models.UTCDateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            dustgrid.models.UTCDateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_traj_truck")),
        sa.UniqueConstraint("plate", name=op.f("uq_traj_truck_plate")),
        sa.UniqueConstraint("terminal_id", name=op.f("uq_traj_truck_terminal_id")),
    )
    op.create_table(
        "traj_truck_day",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("terminal_id", sa.String(length=64), nullable=False),
        sa.Column("stays", sa.Integer(), nullable=False),
        sa.Column("dwell_seconds", sa.Integer(), nullable=False),
        sa.Column("first_at", dustgrid.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_at", dustgrid.models.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_traj_truck_day")),
        sa.UniqueConstraint("day", "terminal_id", name=op.f("uq_traj_truck_day_day")),
    )
    with op.batch_alter_table("traj_truck_day", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_traj_truck_day_day"), ["day"], unique=False)

    op.create_table(
        "traj_api_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("prefix", sa.String(length=12), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("created_at", dustgrid.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("revoked_at", dustgrid.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", dustgrid.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["user_account.id"],
            name=op.f("fk_traj_api_key_created_by_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_traj_api_key")),
    )
    with op.batch_alter_table("traj_api_key", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_traj_api_key_prefix"), ["prefix"], unique=False)

    op.create_table(
        "traj_suspect",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=32), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pushed",
                "confirmed",
                "dismissed",
                name="suspectstatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("detected_on", sa.Date(), nullable=False),
        sa.Column("last_detected_on", sa.Date(), nullable=False),
        sa.Column("district_id", sa.Integer(), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("grid_id", sa.Integer(), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("pushed_at", dustgrid.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_at", dustgrid.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("policy_version", sa.String(length=16), nullable=False),
        sa.Column("verdict_at", dustgrid.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("verdict_by_id", sa.Integer(), nullable=True),
        sa.Column("verdict_by_name", sa.String(length=64), nullable=False),
        sa.Column(
            "dismiss_reason",
            sa.Enum(
                "road_works",
                "depot",
                "car_park",
                "other",
                name="dismissreason",
                native_enum=False,
                length=16,
            ),
            nullable=True,
        ),
        sa.Column("verdict_text", sa.Text(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("known_place_id", sa.Integer(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("trucks", sa.Integer(), nullable=False),
        sa.Column("visits", sa.Integer(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("dwell_seconds", sa.Integer(), nullable=False),
        sa.Column("night_share", sa.Float(), nullable=False),
        sa.Column("first_seen", dustgrid.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen", dustgrid.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("terminals", sa.JSON(), nullable=False),
        sa.Column("companies", sa.JSON(), nullable=False),
        sa.Column("nearest_known", sa.String(length=128), nullable=True),
        sa.Column("known_clearance_m", sa.Float(), nullable=True),
        sa.Column(
            "created_at",
            dustgrid.models.UTCDateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            dustgrid.models.UTCDateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["case_record.id"],
            name=op.f("fk_traj_suspect_case_id_case_record"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["district_id"],
            ["district.id"],
            name=op.f("fk_traj_suspect_district_id_district"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["grid_id"], ["grid.id"], name=op.f("fk_traj_suspect_grid_id_grid"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["site.id"], name=op.f("fk_traj_suspect_site_id_site"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["org_unit.id"],
            name=op.f("fk_traj_suspect_unit_id_org_unit"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["verdict_by_id"],
            ["user_account.id"],
            name=op.f("fk_traj_suspect_verdict_by_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_traj_suspect")),
        sa.UniqueConstraint("ref", name=op.f("uq_traj_suspect_ref")),
    )
    with op.batch_alter_table("traj_suspect", schema=None) as batch_op:
        batch_op.create_index(
            "ix_traj_suspect_district_status", ["district_id", "status"], unique=False
        )
        batch_op.create_index("ix_traj_suspect_verdict_at", ["verdict_at"], unique=False)

    op.create_table(
        "traj_cluster",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("is_suspect", sa.Boolean(), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("suspect_id", sa.Integer(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("trucks", sa.Integer(), nullable=False),
        sa.Column("visits", sa.Integer(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("dwell_seconds", sa.Integer(), nullable=False),
        sa.Column("night_share", sa.Float(), nullable=False),
        sa.Column("first_seen", dustgrid.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen", dustgrid.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("terminals", sa.JSON(), nullable=False),
        sa.Column("companies", sa.JSON(), nullable=False),
        sa.Column("nearest_known", sa.String(length=128), nullable=True),
        sa.Column("known_clearance_m", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["suspect_id"],
            ["traj_suspect.id"],
            name=op.f("fk_traj_cluster_suspect_id_traj_suspect"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_traj_cluster")),
    )
    with op.batch_alter_table("traj_cluster", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_traj_cluster_day"), ["day"], unique=False)

    op.create_table(
        "traj_known_place",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "permitted_site",
                "disposal",
                "landfill",
                "depot",
                "car_park",
                "fuel_station",
                "road_works",
                "other",
                name="placekind",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("radius_m", sa.Float(), nullable=False),
        sa.Column("boundary", sa.JSON(), nullable=True),
        sa.Column("district_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("suspect_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at",
            dustgrid.models.UTCDateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            dustgrid.models.UTCDateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["district_id"],
            ["district.id"],
            name=op.f("fk_traj_known_place_district_id_district"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["suspect_id"],
            ["traj_suspect.id"],
            name=op.f("fk_traj_known_place_suspect_id_traj_suspect"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_traj_known_place")),
    )
    with op.batch_alter_table("traj_known_place", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_traj_known_place_district_id"), ["district_id"], unique=False
        )

    op.create_table(
        "traj_run",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("ran_at", dustgrid.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_traj_run")),
    )


def downgrade() -> None:
    op.drop_table("traj_run")
    with op.batch_alter_table("traj_known_place", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_traj_known_place_district_id"))

    op.drop_table("traj_known_place")
    with op.batch_alter_table("traj_cluster", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_traj_cluster_day"))

    op.drop_table("traj_cluster")
    with op.batch_alter_table("traj_suspect", schema=None) as batch_op:
        batch_op.drop_index("ix_traj_suspect_verdict_at")
        batch_op.drop_index("ix_traj_suspect_district_status")

    op.drop_table("traj_suspect")
    with op.batch_alter_table("traj_api_key", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_traj_api_key_prefix"))

    op.drop_table("traj_api_key")
    with op.batch_alter_table("traj_truck_day", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_traj_truck_day_day"))

    op.drop_table("traj_truck_day")
    op.drop_table("traj_truck")
    with op.batch_alter_table("traj_stay", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_traj_stay_terminal_id"))
        batch_op.drop_index("ix_traj_stay_day_lat_lon")

    op.drop_table("traj_stay")
    op.drop_table("traj_fix_batch")
