"""Queries of penalties and credit: ladder proposals and stop-work orders in the caller's scope."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from dustgrid.cases.credit.models import SiteProblem, StopWorkOrder
from dustgrid.cases.models import Case
from dustgrid.cases.repository import case_clause
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Role
from dustgrid.sites.models import Site
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
