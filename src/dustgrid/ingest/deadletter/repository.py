"""Dead-letter queries. Dead letters are city-wide (the service lets only city admins read
them), so there is no scope clause."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from dustgrid.ingest.deadletter.models import DeadLetter


def last_repeatable(
    session: Session, *, channel: str, status: str, mn: str | None, topic: str, since: datetime
) -> DeadLetter | None:
    """The latest dead letter of this channel, status and MN (without an MN: of this topic)
    last seen at or after ``since``: the row a new refusal of the same kind counts on."""
    same = select(DeadLetter).where(
        DeadLetter.channel == channel,
        DeadLetter.status == status,
        DeadLetter.last_at >= since,
        DeadLetter.mn == mn if mn is not None else DeadLetter.mn.is_(None),
    )
    if mn is None:
        same = same.where(DeadLetter.topic == topic)
    return session.scalar(same.order_by(DeadLetter.last_at.desc()).limit(1))


def delete_seen_before(session: Session, before: datetime) -> int:
    """Delete the dead letters last seen before ``before``; how many went."""
    result = session.execute(delete(DeadLetter).where(DeadLetter.last_at < before))
    return int(getattr(result, "rowcount", 0) or 0)


def newest(
    session: Session, *, channel: str | None, status: str | None, mn: str | None, limit: int
) -> list[DeadLetter]:
    """Up to ``limit`` dead letters, newest first, of this channel, status and MN (each
    filter applies only when given)."""
    stmt = select(DeadLetter).order_by(DeadLetter.last_at.desc(), DeadLetter.id.desc())
    if channel:
        stmt = stmt.where(DeadLetter.channel == channel)
    if status:
        stmt = stmt.where(DeadLetter.status == status)
    if mn:
        stmt = stmt.where(DeadLetter.mn == mn)
    return list(session.scalars(stmt.limit(limit)))


def repeats_by_channel_status(session: Session) -> dict[tuple[str, str], int]:
    """Refused messages per (channel, status), repeats included."""
    stmt = select(DeadLetter.channel, DeadLetter.status, func.sum(DeadLetter.repeats)).group_by(
        DeadLetter.channel, DeadLetter.status
    )
    return {(c, s): int(n) for c, s, n in session.execute(stmt)}
