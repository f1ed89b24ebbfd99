"""auth: server-side sessions (cookie and token) and login throttling by client address

``auth_session`` holds one row per signed-in browser or issued token (only the SHA-256 of
its random id); deleting the rows of an account signs it out everywhere. The index on
``login_attempt (ip, at)`` serves the per-address back-off.

Revision ID: 0010
Revises: 0007
Create Date: 2026-12-07 00:40:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import dustgrid.models

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "auth_session",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("sid_hash", sa.String(64), nullable=False),
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("user_account.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("ip", sa.String(64), nullable=False),
        sa.Column("created_at", dustgrid.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", dustgrid.models.UTCDateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("sid_hash", name="uq_auth_session_sid_hash"),
    )
    op.create_index("ix_auth_session_user_id", "auth_session", ["user_id"])
    op.create_index("ix_auth_session_expires_at", "auth_session", ["expires_at"])
    op.create_index("ix_login_attempt_ip_at", "login_attempt", ["ip", "at"])


def downgrade() -> None:
    op.drop_index("ix_login_attempt_ip_at", table_name="login_attempt")
    op.drop_index("ix_auth_session_expires_at", table_name="auth_session")
    op.drop_index("ix_auth_session_user_id", table_name="auth_session")
    op.drop_table("auth_session")
