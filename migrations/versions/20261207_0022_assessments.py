"""assessments: monthly scores, their versions and appeals

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 15:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import dustgrid.models

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = dustgrid.models.UTCDateTime(timezone=True)


def _user_fk(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        name, sa.Integer(), sa.ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True
    )


def upgrade() -> None:
    op.create_table(
        "assessment_month",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("closed_at", _TS, nullable=True),
        _user_fk("closed_by_id"),
        sa.UniqueConstraint("month", name="uq_assessment_month_month"),
    )
    op.create_table(
        "assessment_run",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("appeal_id", sa.Integer(), nullable=True),
        sa.Column("policy_version", sa.String(16), nullable=False),
        _user_fk("actor_id"),
        sa.Column("created_at", _TS, nullable=False),
        sa.UniqueConstraint("month", "version", name="uq_assessment_run_month_version"),
    )
    op.create_table(
        "assessment_score",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "run_id",
            sa.Integer(),
            sa.ForeignKey("assessment_run.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("party_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("consequence", sa.String(16), nullable=False),
        sa.Column("policy_version", sa.String(16), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("district_id", sa.Integer(), nullable=True),
        sa.Column("grid_id", sa.Integer(), nullable=True),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("facts", sa.JSON(), nullable=False),
    )
    op.create_index("ix_assessment_score_month_version", "assessment_score", ["month", "version"])
    op.create_index("ix_assessment_score_party", "assessment_score", ["kind", "party_id", "month"])
    op.create_table(
        "assessment_appeal",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("party_id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(32), nullable=False),
        sa.Column("period", sa.String(16), nullable=False),
        sa.Column("ref_key", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        _user_fk("filed_by_id"),
        sa.Column("filed_at", _TS, nullable=False),
        _user_fk("decided_by_id"),
        sa.Column("decided_at", _TS, nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("score_before", sa.Float(), nullable=False),
        sa.Column("score_after", sa.Float(), nullable=True),
        sa.Column("version_after", sa.Integer(), nullable=True),
    )
    op.create_index(
        "ix_assessment_appeal_month_party", "assessment_appeal", ["month", "kind", "party_id"]
    )


def downgrade() -> None:
    op.drop_table("assessment_appeal")
    op.drop_table("assessment_score")
    op.drop_table("assessment_run")
    op.drop_table("assessment_month")
