"""Account queries (accounts are administered by city admins only: no scope clause)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dustgrid.auth.models import AuthSession, User


def users(session: Session) -> list[User]:
    """Every account, by user name."""
    return list(session.scalars(select(User).order_by(User.username)))


def live_session_counts(session: Session, now: datetime) -> dict[int, int]:
    """How many unexpired sessions each account holds (accounts with none are absent)."""
    stmt = (
        select(AuthSession.user_id, func.count())
        .where(AuthSession.expires_at > now)
        .group_by(AuthSession.user_id)
    )
    return {int(user_id): int(n) for user_id, n in session.execute(stmt)}
