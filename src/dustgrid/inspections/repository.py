"""Queries of the inspections domain and its scope clause (``inspection_clause``).

A visit is seen by whoever may see its site (``sites.repository.site_clause``): L1 the city,
L2/L3 their scope, officers and inspectors their own grids, contractors their own sites;
device providers see none.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, false, func, or_, select, true
from sqlalchemy.orm import Session

from dustgrid.auth.models import User
from dustgrid.cases.models import Case
from dustgrid.cases.repository import case_clause
from dustgrid.grids.models import GridGroup, GridGroupMember
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Role
from dustgrid.inspections.models import Inspection, InspectionItem, InspectionPhoto
from dustgrid.sites.models import Site
from dustgrid.sites.repository import site_clause

SITE_CANDIDATES_MAX = 500  # a grid holds at most ~90 sites; an inspector a few grids


def inspection_clause(p: Principal) -> ColumnElement[bool]:
    """WHERE clause limiting ``Inspection`` rows to what ``p`` may see (by the site)."""
    if p.role == Role.city_admin:
        return true()
    if p.role == Role.provider:
        return false()
    return Inspection.site_id.in_(select(Site.id).where(site_clause(p)))


def visible_site(session: Session, p: Principal, site_id: int) -> Site | None:
    return session.scalar(select(Site).where(Site.id == site_id, site_clause(p)))


def site(session: Session, site_id: int) -> Site | None:
    return session.get(Site, site_id)


def group_in_grid(session: Session, user_id: int, grid_id: int) -> int | None:
    """The id of the user's group in ``grid_id`` (None when they are in none of its groups)."""
    stmt = (
        select(GridGroup.id)
        .join(GridGroupMember, GridGroupMember.group_id == GridGroup.id)
        .where(GridGroup.grid_id == grid_id, GridGroupMember.user_id == user_id)
        .order_by(GridGroup.id)
        .limit(1)
    )
    return session.scalar(stmt)


def by_key(session: Session, key: str) -> Inspection | None:
    return session.scalar(select(Inspection).where(Inspection.idempotency_key == key))


def get_visible(session: Session, p: Principal, inspection_id: int) -> Inspection | None:
    stmt = select(Inspection).where(Inspection.id == inspection_id, inspection_clause(p))
    return session.scalar(stmt)


def items_of(session: Session, inspection_id: int) -> list[InspectionItem]:
    stmt = (
        select(InspectionItem)
        .where(InspectionItem.inspection_id == inspection_id)
        .order_by(InspectionItem.id)
    )
    return list(session.scalars(stmt))


def photos_of(session: Session, inspection_id: int) -> list[InspectionPhoto]:
    stmt = (
        select(InspectionPhoto)
        .where(InspectionPhoto.inspection_id == inspection_id)
        .order_by(InspectionPhoto.id)
    )
    return list(session.scalars(stmt))


def photo_of(session: Session, inspection_id: int, photo_id: int) -> InspectionPhoto | None:
    stmt = select(InspectionPhoto).where(
        InspectionPhoto.id == photo_id, InspectionPhoto.inspection_id == inspection_id
    )
    return session.scalar(stmt)


def same_photo(
    session: Session, inspection_id: int, item_code: str, sha256: str
) -> InspectionPhoto | None:
    stmt = select(InspectionPhoto).where(
        InspectionPhoto.inspection_id == inspection_id,
        InspectionPhoto.item_code == item_code,
        InspectionPhoto.sha256 == sha256,
    )
    return session.scalar(stmt)


def photo_count(session: Session, inspection_id: int) -> int:
    stmt = select(func.count(InspectionPhoto.id)).where(
        InspectionPhoto.inspection_id == inspection_id
    )
    return int(session.scalar(stmt) or 0)


def _filtered(
    p: Principal,
    site_id: int | None,
    since: datetime | None,
    until: datetime | None,
    inspector_id: int | None = None,
) -> Any:
    stmt = select(Inspection).where(inspection_clause(p))
    if site_id is not None:
        stmt = stmt.where(Inspection.site_id == site_id)
    if inspector_id is not None:
        stmt = stmt.where(Inspection.inspector_id == inspector_id)
    if since is not None:
        stmt = stmt.where(Inspection.checked_in_at >= since)
    if until is not None:
        stmt = stmt.where(Inspection.checked_in_at < until)
    return stmt


def page_rows(
    session: Session,
    p: Principal,
    *,
    site_id: int | None,
    since: datetime | None,
    until: datetime | None,
    inspector_id: int | None = None,
    offset: int,
    limit: int,
) -> tuple[list[Inspection], int]:
    stmt = _filtered(p, site_id, since, until, inspector_id)
    total = int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    rows = session.scalars(
        stmt.order_by(Inspection.checked_in_at.desc(), Inspection.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return list(rows), total


def site_names(session: Session, site_ids: Iterable[int]) -> dict[int, tuple[str, str]]:
    ids = set(site_ids)
    if not ids:
        return {}
    stmt = select(Site.id, Site.name, Site.project_code).where(Site.id.in_(ids))
    return {r.id: (r.name, r.project_code) for r in session.execute(stmt)}


def user_names(session: Session, user_ids: Iterable[int]) -> dict[int, str]:
    ids = set(user_ids)
    if not ids:
        return {}
    stmt = select(User.id, User.display_name).where(User.id.in_(ids))
    return {r.id: r.display_name for r in session.execute(stmt)}


def cases_of(session: Session, p: Principal, case_ids: Sequence[int]) -> list[Case]:
    """The cases a visit opened, as far as the principal may see them."""
    if not case_ids:
        return []
    stmt = select(Case).where(Case.id.in_(list(case_ids)), case_clause(p)).order_by(Case.id)
    return list(session.scalars(stmt))


def candidate_sites(session: Session, p: Principal, q: str) -> list[Site]:
    """Open sites of the principal's own grids (officers, inspectors) or scope, optionally
    filtered by name or project code; the service orders them by distance."""
    stmt = select(Site).where(site_clause(p), Site.retired_at.is_(None))
    if p.role in (Role.officer, Role.inspector):
        grids = list(p.grid_ids)
        stmt = stmt.where(
            or_(Site.enforcement_grid_id.in_(grids), Site.inspector_grid_id.in_(grids))
        )
    if q:
        like = f"%{q}%"
        stmt = stmt.where(or_(Site.name.like(like), Site.project_code.like(like)))
    return list(session.scalars(stmt.order_by(Site.id).limit(SITE_CANDIDATES_MAX)))


def site_points(session: Session) -> list[Any]:
    """Every open site's id, point and grids (the demo city's inspection history)."""
    stmt = select(
        Site.id, Site.lat, Site.lon, Site.enforcement_grid_id, Site.inspector_grid_id
    ).where(Site.retired_at.is_(None))
    return list(session.execute(stmt.order_by(Site.id)))


def demo_visits(session: Session) -> list[Any]:
    """(id, idempotency_key) of the demo city's visits."""
    stmt = select(Inspection.id, Inspection.idempotency_key).where(
        Inspection.idempotency_key.like("demo-%")
    )
    return list(session.execute(stmt))
