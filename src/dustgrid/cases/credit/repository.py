"""Queries of penalties and credit: ladder proposals, stop-work orders, bad-behaviour records
and the blacklist. Lists answer in the caller's scope; the look-ups by case, site or
enterprise serve a step the caller has already checked."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import Session

from dustgrid.cases.credit.models import (
    BadBehaviourRecord,
    BlacklistEntry,
    SiteProblem,
    StopWorkOrder,
)
from dustgrid.cases.models import Case
from dustgrid.cases.repository import case_clause
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Role
from dustgrid.sites.models import Enterprise, EnterpriseKind, Grade, Site
from dustgrid.sites.repository import site_clause


def problems(
    session: Session,
    principal: Principal,
    *,
    site_id: int | None,
    status: str | None,
    limit: int,
) -> list[SiteProblem]:
    """Ladder proposals on sites in scope, newest first (a provider: its devices' cases only)."""
    stmt = select(SiteProblem).where(
        SiteProblem.site_id.in_(select(Site.id).where(site_clause(principal)))
    )
    if principal.role == Role.provider:  # a provider sees its devices' cases only
        stmt = stmt.where(SiteProblem.case_id.in_(select(Case.id).where(case_clause(principal))))
    if site_id is not None:
        stmt = stmt.where(SiteProblem.site_id == site_id)
    if status is not None:
        stmt = stmt.where(SiteProblem.status == status)
    return list(session.scalars(stmt.order_by(SiteProblem.id.desc()).limit(limit)))


def stop_work_orders(
    session: Session, principal: Principal, *, site_id: int | None, limit: int
) -> list[StopWorkOrder]:
    """Stop-work orders on sites in scope, newest first."""
    stmt = select(StopWorkOrder).where(
        StopWorkOrder.site_id.in_(select(Site.id).where(site_clause(principal)))
    )
    if site_id is not None:
        stmt = stmt.where(StopWorkOrder.site_id == site_id)
    return list(session.scalars(stmt.order_by(StopWorkOrder.id.desc()).limit(limit)))


def problem_of_case(session: Session, case_id: int) -> SiteProblem | None:
    """The ladder proposal a case raised, if any."""
    return session.scalar(select(SiteProblem).where(SiteProblem.case_id == case_id))


# --------------------------------------------------------------------------- the ladder


def problem_dates(session: Session, site_id: int, since: date, until: date) -> list[date]:
    """The days of the site's recorded problems in [since, until] (the ladder's window)."""
    stmt = select(SiteProblem.problem_date).where(
        SiteProblem.site_id == site_id,
        SiteProblem.problem_date >= since,
        SiteProblem.problem_date <= until,
    )
    return list(session.scalars(stmt))


def site_problems(session: Session, site_id: int) -> list[SiteProblem]:
    """Every ladder proposal of a site, newest problem first."""
    stmt = (
        select(SiteProblem)
        .where(SiteProblem.site_id == site_id)
        .order_by(SiteProblem.problem_date.desc(), SiteProblem.id.desc())
    )
    return list(session.scalars(stmt))


def site_stop_work_orders(session: Session, site_id: int) -> list[StopWorkOrder]:
    """Every stop-work order of a site, latest first day first."""
    stmt = (
        select(StopWorkOrder)
        .where(StopWorkOrder.site_id == site_id)
        .order_by(StopWorkOrder.first_day.desc())
    )
    return list(session.scalars(stmt))


# --------------------------------------------------------------------------- credit


def has_bad_record(session: Session, case_id: int, enterprise_id: int) -> bool:
    """Whether the case already gave the enterprise a bad-behaviour record."""
    stmt = select(BadBehaviourRecord.id).where(
        BadBehaviourRecord.case_id == case_id, BadBehaviourRecord.enterprise_id == enterprise_id
    )
    return session.scalar(stmt) is not None


def bad_record_count(session: Session, enterprise_id: int) -> int:
    """How many bad-behaviour records the enterprise has ever had."""
    stmt = select(func.count()).where(BadBehaviourRecord.enterprise_id == enterprise_id)
    return int(session.scalar(stmt) or 0)


def records_at_last_lift(session: Session, enterprise_id: int) -> int | None:
    """The record count when the enterprise's last lifted blacklisting was lifted (None:
    never lifted)."""
    return session.scalar(
        select(BlacklistEntry.records_at_lift)
        .where(
            BlacklistEntry.enterprise_id == enterprise_id,
            BlacklistEntry.records_at_lift.is_not(None),
        )
        .order_by(BlacklistEntry.id.desc())
        .limit(1)
    )


def open_blacklisting(session: Session, enterprise_id: int) -> BlacklistEntry | None:
    """The enterprise's latest blacklisting not lifted yet."""
    return session.scalar(
        select(BlacklistEntry)
        .where(BlacklistEntry.enterprise_id == enterprise_id, BlacklistEntry.lifted_at.is_(None))
        .order_by(BlacklistEntry.id.desc())
    )


def blacklisted(session: Session) -> list[Any]:
    """``(enterprise, last listed at)`` of the enterprises on the blacklist now, most
    records first (a public list inside the platform: no scope)."""
    stmt = (
        select(Enterprise, func.max(BlacklistEntry.listed_at))
        .outerjoin(BlacklistEntry, BlacklistEntry.enterprise_id == Enterprise.id)
        .where(Enterprise.blacklisted.is_(True))
        .group_by(Enterprise.id)
        .order_by(Enterprise.bad_record_count.desc(), Enterprise.name)
    )
    return list(session.execute(stmt))


def red_list(session: Session, since: datetime) -> list[Enterprise]:
    """Contractors not blacklisted with active sites, all fully compliant, and no problem
    or bad record since ``since``, by name (a public list: no scope)."""
    active = (Site.contractor_id == Enterprise.id) & Site.retired_at.is_(None)
    has_site = exists().where(active)
    not_full = exists().where(active, Site.grade != Grade.full)
    problem = exists().where(
        SiteProblem.site_id == Site.id,
        Site.contractor_id == Enterprise.id,
        SiteProblem.problem_date >= since.date(),
    )
    record = exists().where(
        BadBehaviourRecord.enterprise_id == Enterprise.id, BadBehaviourRecord.recorded_at >= since
    )
    stmt = (
        select(Enterprise)
        .where(
            Enterprise.kind == EnterpriseKind.contractor,
            Enterprise.blacklisted.is_(False),
            has_site,
            ~not_full,
            ~problem,
            ~record,
        )
        .order_by(Enterprise.name)
    )
    return list(session.scalars(stmt))


def bad_records(session: Session, principal: Principal) -> list[Any]:
    """``(record, enterprise, site)`` in the caller's scope, newest first: the whole city
    for L1, else those of visible sites and, for a contractor, its own."""
    stmt = (
        select(BadBehaviourRecord, Enterprise, Site)
        .join(Enterprise, Enterprise.id == BadBehaviourRecord.enterprise_id)
        .outerjoin(Site, Site.id == BadBehaviourRecord.site_id)
        .order_by(BadBehaviourRecord.recorded_at.desc(), BadBehaviourRecord.id.desc())
    )
    if not principal.is_city_wide:
        visible = BadBehaviourRecord.site_id.in_(select(Site.id).where(site_clause(principal)))
        own = BadBehaviourRecord.enterprise_id == (principal.enterprise_id or -1)
        stmt = stmt.where(or_(visible, own))
    return list(session.execute(stmt))
