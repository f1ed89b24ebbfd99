"""The queries behind the reports (SQL lives only here)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from dustgrid.alerts.models import Alert
from dustgrid.cases.models import Case
from dustgrid.reports.models import MonthlyNotice
from dustgrid.sites.models import Site


def sites_in_service(session: Session, end: datetime) -> int:
    """Sites on the ledger at ``end`` and not retired by then."""
    stmt = (
        select(func.count())
        .select_from(Site)
        .where(Site.created_at < end, or_(Site.retired_at.is_(None), Site.retired_at >= end))
    )
    return int(session.scalar(stmt) or 0)


def cases_opened(session: Session, start: datetime, end: datetime) -> int:
    stmt = (
        select(func.count()).select_from(Case).where(Case.opened_at >= start, Case.opened_at < end)
    )
    return int(session.scalar(stmt) or 0)


def cases_closed(session: Session, start: datetime, end: datetime) -> int:
    stmt = (
        select(func.count())
        .select_from(Case)
        .where(Case.closed_at.is_not(None), Case.closed_at >= start, Case.closed_at < end)
    )
    return int(session.scalar(stmt) or 0)


def alerts_raised(session: Session, start: datetime, end: datetime) -> int:
    stmt = (
        select(func.count())
        .select_from(Alert)
        .where(Alert.started_at >= start, Alert.started_at < end)
    )
    return int(session.scalar(stmt) or 0)


def notices(session: Session) -> list[MonthlyNotice]:
    """Every publication, newest month first."""
    stmt = select(MonthlyNotice).order_by(MonthlyNotice.month.desc(), MonthlyNotice.id.desc())
    return list(session.scalars(stmt))


def notice(session: Session, notice_id: int) -> MonthlyNotice | None:
    return session.get(MonthlyNotice, notice_id)


def add(session: Session, row: object) -> None:
    session.add(row)
    session.flush()
