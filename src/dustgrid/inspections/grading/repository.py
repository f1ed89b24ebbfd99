"""The queries of site grading: the facts the rule needs, the history, the stale sites."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from dustgrid.cases.models import Case, open_clause
from dustgrid.identity.models import User
from dustgrid.inspections.grading.models import SiteGradeHistory
from dustgrid.inspections.models import Inspection, InspectionItem, InspectionResult
from dustgrid.sites.models import Site

__all__ = [
    "history_with_names",
    "items_of",
    "latest_history",
    "latest_submitted_inspection",
    "open_cases_at",
    "stale_site_ids",
]

_SUBMITTED = (InspectionResult.nothing_found, InspectionResult.problems)


def latest_submitted_inspection(session: Session, site_id: int) -> Inspection | None:
    """The site's most recently submitted visit (on site or by video), drafts left out."""
    stmt = (
        select(Inspection)
        .where(
            Inspection.site_id == site_id,
            Inspection.submitted_at.is_not(None),
            Inspection.result.in_(_SUBMITTED),
        )
        .order_by(Inspection.submitted_at.desc(), Inspection.id.desc())
        .limit(1)
    )
    return session.scalars(stmt).first()


def items_of(session: Session, inspection_id: int) -> list[InspectionItem]:
    stmt = select(InspectionItem).where(InspectionItem.inspection_id == inspection_id)
    return list(session.scalars(stmt.order_by(InspectionItem.item_code)))


def open_cases_at(session: Session, site_id: int) -> list[Case]:
    stmt = select(Case).where(Case.site_id == site_id, open_clause()).order_by(Case.id)
    return list(session.scalars(stmt))


def latest_history(session: Session, site_id: int) -> SiteGradeHistory | None:
    stmt = (
        select(SiteGradeHistory)
        .where(SiteGradeHistory.site_id == site_id)
        .order_by(SiteGradeHistory.changed_at.desc(), SiteGradeHistory.id.desc())
        .limit(1)
    )
    return session.scalars(stmt).first()


def history_with_names(
    session: Session, site_id: int, limit: int
) -> list[tuple[SiteGradeHistory, str | None]]:
    """The site's grade history, newest first, each row with its actor's display name."""
    stmt = (
        select(SiteGradeHistory, User.display_name)
        .outerjoin(User, User.id == SiteGradeHistory.actor_id)
        .where(SiteGradeHistory.site_id == site_id)
        .order_by(SiteGradeHistory.changed_at.desc(), SiteGradeHistory.id.desc())
        .limit(limit)
    )
    return [(h, name) for h, name in session.execute(stmt).all()]


def stale_site_ids(session: Session, cutoff: datetime, limit: int) -> Sequence[int]:
    """Graded sites whose latest submitted visit is older than ``cutoff`` and whose latest
    history row does not say so yet (the chore regrades them once, not every run)."""
    last_visit = (
        select(Inspection.site_id, func.max(Inspection.submitted_at).label("at"))
        .where(Inspection.submitted_at.is_not(None), Inspection.result.in_(_SUBMITTED))
        .group_by(Inspection.site_id)
        .subquery()
    )
    last_row = (
        select(SiteGradeHistory.site_id, func.max(SiteGradeHistory.id).label("id"))
        .group_by(SiteGradeHistory.site_id)
        .subquery()
    )
    stmt = (
        select(Site.id)
        .join(last_visit, last_visit.c.site_id == Site.id)
        .outerjoin(last_row, last_row.c.site_id == Site.id)
        .outerjoin(SiteGradeHistory, SiteGradeHistory.id == last_row.c.id)
        .where(
            last_visit.c.at < cutoff,
            Site.retired_at.is_(None),
            or_(SiteGradeHistory.id.is_(None), SiteGradeHistory.stale.is_(False)),
        )
        .order_by(Site.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))
