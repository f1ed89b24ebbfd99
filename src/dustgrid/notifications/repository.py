"""Inbox queries. A user reads only their own notifications: every query takes the
recipient's user id (the inbox's scope)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session

from dustgrid.notifications.models import Notification


def _inbox_where(user_id: int, *, unread_only: bool) -> list[ColumnElement[bool]]:
    where = [Notification.user_id == user_id]
    if unread_only:
        where.append(Notification.read_at.is_(None))
    return where


def count(session: Session, user_id: int, *, unread_only: bool) -> int:
    """How many notifications the user has (only unread ones with ``unread_only``)."""
    stmt = select(func.count()).where(*_inbox_where(user_id, unread_only=unread_only))
    return int(session.scalar(stmt) or 0)


def page(
    session: Session, user_id: int, *, unread_only: bool, offset: int, limit: int
) -> list[Notification]:
    """One page of the user's notifications, newest first."""
    stmt = (
        select(Notification)
        .where(*_inbox_where(user_id, unread_only=unread_only))
        .order_by(Notification.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def mark_all_read(session: Session, user_id: int, now: datetime) -> int:
    """Stamp every unread notification of the user as read at ``now``; how many were."""
    result = session.execute(
        update(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
