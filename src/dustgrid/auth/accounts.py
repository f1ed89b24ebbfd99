"""Reads of the account admin page and API: the accounts, their live sessions, one account.
(Changes to an account are in ``auth.service``.)"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from dustgrid.auth import repository as repo
from dustgrid.auth.models import User
from dustgrid.errors import NotFound


def list_users(session: Session) -> list[User]:
    """Every account, by user name (city admins only: the caller checks the permission)."""
    return repo.users(session)


def live_sessions(session: Session, now: datetime) -> dict[int, int]:
    """Unexpired sessions per account id."""
    return repo.live_session_counts(session, now)


def get_user(session: Session, user_id: int) -> User:
    """One account, or 404."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("accounts.error.not_found")
    return user
