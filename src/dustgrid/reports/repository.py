"""The queries behind the reports (SQL lives only here)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from dustgrid.alerts.models import Alert
from dustgrid.assessments.models import AssessmentMonth, AssessmentScore
from dustgrid.cases.models import Case
from dustgrid.devices.models import Device, OfflinePeriod
from dustgrid.grids.models import GridGroupMember
from dustgrid.identity.models import User
from dustgrid.identity.roles import Role
from dustgrid.inspections.grading.models import SiteGradeHistory
from dustgrid.inspections.models import Inspection, InspectionPhoto
from dustgrid.org.models import OrgUnit
from dustgrid.reports.models import MonthlyNotice
from dustgrid.sites.models import Site
from dustgrid.telemetry.models import Rollup


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


def assessed_months(session: Session) -> list[AssessmentMonth]:
    """Months with scores (version 1 or later), newest first."""
    stmt = (
        select(AssessmentMonth)
        .where(AssessmentMonth.version > 0)
        .order_by(AssessmentMonth.month.desc())
    )
    return list(session.scalars(stmt))


def user_names(session: Session, user_ids: list[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    stmt = select(User.id, User.display_name).where(User.id.in_(user_ids))
    return {uid: name for uid, name in session.execute(stmt)}


def add(session: Session, row: object) -> None:
    session.add(row)
    session.flush()


# ---------------------------------------------------------------------------- archives


def site_inspections(session: Session, site_id: int) -> list[tuple[Inspection, str]]:
    """The site's visits with the inspector's name, newest first."""
    stmt = (
        select(Inspection, User.display_name)
        .join(User, User.id == Inspection.inspector_id)
        .where(Inspection.site_id == site_id)
        .order_by(Inspection.checked_in_at.desc(), Inspection.id.desc())
    )
    return [(i, name) for i, name in session.execute(stmt)]


def site_photos(session: Session, site_id: int) -> list[InspectionPhoto]:
    """Every photo of the site's visits, in the order they were taken within a visit."""
    stmt = (
        select(InspectionPhoto)
        .join(Inspection, Inspection.id == InspectionPhoto.inspection_id)
        .where(Inspection.site_id == site_id)
        .order_by(InspectionPhoto.inspection_id, InspectionPhoto.id)
    )
    return list(session.scalars(stmt))


def site_cases(session: Session, site_id: int) -> list[Case]:
    stmt = select(Case).where(Case.site_id == site_id).order_by(Case.opened_at.desc(), Case.id)
    return list(session.scalars(stmt))


def site_grades(session: Session, site_id: int) -> list[SiteGradeHistory]:
    stmt = (
        select(SiteGradeHistory)
        .where(SiteGradeHistory.site_id == site_id)
        .order_by(SiteGradeHistory.changed_at.desc(), SiteGradeHistory.id.desc())
    )
    return list(session.scalars(stmt))


def site_alerts(session: Session, site_id: int) -> list[Alert]:
    stmt = select(Alert).where(Alert.site_id == site_id).order_by(Alert.started_at.desc())
    return list(session.scalars(stmt))


def site_offline_periods(session: Session, site_id: int) -> list[tuple[OfflinePeriod, Device]]:
    stmt = (
        select(OfflinePeriod, Device)
        .join(Device, Device.id == OfflinePeriod.device_id)
        .where(Device.site_id == site_id)
        .order_by(OfflinePeriod.started_at.desc())
    )
    return [(p, d) for p, d in session.execute(stmt)]


def member(session: Session, user_id: int) -> tuple[User, OrgUnit | None] | None:
    """A grid member (an officer or inspector) with their unit."""
    stmt = (
        select(User, OrgUnit)
        .outerjoin(OrgUnit, OrgUnit.id == User.org_unit_id)
        .where(User.id == user_id, User.role.in_([Role.officer, Role.inspector]))
    )
    row = session.execute(stmt).first()
    return None if row is None else (row[0], row[1])


def members_districts(session: Session, user_ids: list[int]) -> list[tuple[int, int | None]]:
    """(user id, their unit's district) of the grid members (officers, inspectors) among
    ``user_ids``; other accounts are left out."""
    if not user_ids:
        return []
    stmt = (
        select(User.id, OrgUnit.district_id)
        .outerjoin(OrgUnit, OrgUnit.id == User.org_unit_id)
        .where(User.id.in_(user_ids), User.role.in_([Role.officer, Role.inspector]))
    )
    return [(uid, district) for uid, district in session.execute(stmt)]


def group_members(session: Session, group_id: int) -> list[tuple[int, str]]:
    """(user id, name) of a grid group's current members, by name."""
    stmt = (
        select(User.id, User.display_name)
        .join(GridGroupMember, GridGroupMember.user_id == User.id)
        .where(GridGroupMember.group_id == group_id)
        .order_by(User.display_name, User.id)
    )
    return [(uid, name) for uid, name in session.execute(stmt)]


def member_visits(session: Session, user_id: int) -> list[tuple[Inspection, str, int]]:
    """The member's visits with the site's name and photo counts, newest first."""
    photos = (
        select(InspectionPhoto.inspection_id, func.count().label("n"))
        .group_by(InspectionPhoto.inspection_id)
        .subquery()
    )
    stmt = (
        select(Inspection, Site.name, func.coalesce(photos.c.n, 0))
        .join(Site, Site.id == Inspection.site_id)
        .outerjoin(photos, photos.c.inspection_id == Inspection.id)
        .where(Inspection.inspector_id == user_id)
        .order_by(Inspection.checked_in_at.desc(), Inspection.id.desc())
    )
    return [(i, name, int(n)) for i, name, n in session.execute(stmt)]


def member_cases(session: Session, user_id: int) -> list[Case]:
    """Cases the member reported or is responsible for."""
    stmt = (
        select(Case)
        .where(or_(Case.reporter_id == user_id, Case.responsible_user_id == user_id))
        .order_by(Case.opened_at.desc(), Case.id)
    )
    return list(session.scalars(stmt))


def member_group_ids(session: Session, user_id: int) -> list[int]:
    stmt = select(GridGroupMember.group_id).where(GridGroupMember.user_id == user_id)
    return sorted(set(session.scalars(stmt)))


def own_scores(session: Session, user_id: int) -> list[AssessmentScore]:
    """The current scores of the member as an officer (their own score), newest first."""
    stmt = (
        select(AssessmentScore)
        .join(
            AssessmentMonth,
            (AssessmentMonth.month == AssessmentScore.month)
            & (AssessmentMonth.version == AssessmentScore.version),
        )
        .where(AssessmentScore.kind == "officer", AssessmentScore.party_id == user_id)
        .order_by(AssessmentScore.month.desc())
    )
    return list(session.scalars(stmt))


def group_scores(session: Session, group_ids: list[int]) -> list[AssessmentScore]:
    """The current scores of the groups, every month, newest first."""
    if not group_ids:
        return []
    stmt = (
        select(AssessmentScore)
        .join(
            AssessmentMonth,
            (AssessmentMonth.month == AssessmentScore.month)
            & (AssessmentMonth.version == AssessmentScore.version),
        )
        .where(
            AssessmentScore.kind.in_(["officer_group", "inspector_group"]),
            AssessmentScore.party_id.in_(group_ids),
        )
        .order_by(AssessmentScore.month.desc(), AssessmentScore.party_id)
    )
    return list(session.scalars(stmt))


def site_daily_rollups(
    session: Session, site_id: int
) -> list[tuple[datetime, str, float | None, float | None]]:
    """The site's daily aggregates (day start, metric, mean, max), every dust monitor."""
    stmt = (
        select(Rollup.period_start, Rollup.metric, Rollup.mean, Rollup.max)
        .where(Rollup.site_id == site_id, Rollup.period == "1d")
        .order_by(Rollup.period_start)
    )
    return [(r[0], r[1], r[2], r[3]) for r in session.execute(stmt)]
