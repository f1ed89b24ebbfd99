"""Server-side sessions and login attempts (for throttling) of the user accounts.

The account table itself (``User``) is a foundation, ``dustgrid.identity.models``: domains
below ``auth`` (grids: group members) read accounts without importing ``auth``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from dustgrid.identity.models import User
from dustgrid.models import Base, UTCDateTime, utcnow

__all__ = ["AuthSession", "LoginAttempt", "User"]


class AuthSession(Base):
    """One signed-in session: a browser cookie or an API bearer token.

    The cookie (or the token's ``sid`` claim) carries a random id; only its SHA-256 is kept
    here, so a copy of this table does not let anyone sign in. Every request looks the row
    up: deleting it ends the session at once, in every process.
    """

    __tablename__ = "auth_session"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sid_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))  # "cookie" | "token"
    ip: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class LoginAttempt(Base):
    """One login try; recent failures per client address and per username slow further tries."""

    __tablename__ = "login_attempt"
    __table_args__ = (Index("ix_login_attempt_ip_at", "ip", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    ip: Mapped[str] = mapped_column(String(64), default="")
    success: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
