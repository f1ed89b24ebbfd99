"""Reads of the account admin page: live sessions per account. (Accounts in an admin's
scope, and changes to them, are in ``auth.admin``.)"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from dustgrid.auth import repository as repo


def live_sessions(session: Session, now: datetime) -> dict[int, int]:
    """Unexpired sessions per account id."""
    return repo.live_session_counts(session, now)
