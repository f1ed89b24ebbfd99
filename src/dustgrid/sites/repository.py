"""Site queries, always filtered by the caller's scope."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    and_,
    false,
    func,
    or_,
    select,
    true,
    type_coerce,
)
from sqlalchemy.orm import Session, aliased

from dustgrid.identity.principal import Principal
from dustgrid.identity.reach import Reach
from dustgrid.identity.roles import Role
from dustgrid.org.models import District
from dustgrid.org.repository import DISTRICTS_OF_VISIBLE_SITES
from dustgrid.sites.models import Enterprise, Site
from dustgrid.sites.schemas import SiteFilter

# A device provider sees the sites where its devices are (domain.md §7; devices.repository).
SITES_OF_PROVIDER_DEVICES = Reach(
    "sites of a provider's devices", provided_by="dustgrid.devices.repository"
)


def _unit_sites(p: Principal) -> ColumnElement[bool]:
    """Sites under the principal's unit, by the unit's level.

    An L3 station sees the sites of the enforcement grids it owns that its parent L2 unit
    answers for: never more than the unit above it (docs/grids.md, "Who sees what"). A
    district's station therefore does not see the city safety station's metro and
    municipal works in its district, even in a grid it should not own.
    """
    if p.unit_level == 1:
        return true()
    if p.unit_level == 2 and p.org_unit_id is not None:
        return Site.l2_unit_id == p.org_unit_id
    if p.unit_level == 3 and p.grid_ids:
        in_grids = Site.enforcement_grid_id.in_(p.grid_ids)
        if p.parent_unit_id is None:
            return in_grids
        return and_(in_grids, Site.l2_unit_id == p.parent_unit_id)
    return false()


def site_clause(p: Principal) -> ColumnElement[bool]:
    """WHERE clause limiting ``Site`` rows to what ``p`` may see.

    A district sees its own district, a station its own grids, an officer or inspector their
    own grids, a contractor its own enterprise's sites, a device provider the sites where its
    devices are. Reads outside scope answer 404.
    """
    match p.role:
        case Role.city_admin:
            return true()
        case Role.district_admin | Role.station_staff | Role.viewer:
            return _unit_sites(p)
        case Role.officer | Role.inspector:
            if not p.grid_ids:
                return false()
            return or_(
                Site.enforcement_grid_id.in_(p.grid_ids), Site.inspector_grid_id.in_(p.grid_ids)
            )
        case Role.contractor:
            if p.enterprise_id is None:
                return false()
            return or_(Site.contractor_id == p.enterprise_id, Site.builder_id == p.enterprise_id)
        case Role.provider:
            if p.enterprise_id is None:
                return false()
            return SITES_OF_PROVIDER_DEVICES(p)
        case _:
            return false()


def site_writable_clause(p: Principal) -> ColumnElement[bool]:
    """Sites the principal may change (the caller has already checked the permission)."""
    if p.role == Role.city_admin:
        return true()
    if p.role == Role.district_admin:
        return and_(site_clause(p))
    return false()


def is_visible(session: Session, p: Principal, site_id: int) -> bool:
    """Whether ``p`` may see site ``site_id``."""
    stmt = select(Site.id).where(Site.id == site_id, site_clause(p))
    return session.scalar(stmt) is not None


def is_writable(session: Session, p: Principal, site_id: int) -> bool:
    """Whether ``p`` may change site ``site_id`` as it now stands (after a flush)."""
    stmt = select(Site.id).where(Site.id == site_id, site_writable_clause(p))
    return session.scalar(stmt) is not None


@DISTRICTS_OF_VISIBLE_SITES.provide
def _districts_of_visible_sites(p: Principal) -> ColumnElement[bool]:
    return District.id.in_(select(Site.district_id).where(site_clause(p)))


def filtered(principal: Principal, f: SiteFilter) -> Select[Any]:
    """``SELECT site.id`` limited to scope and filters; callers pick columns from it."""
    stmt = select(Site.id).where(site_clause(principal))
    if not f.include_retired:
        stmt = stmt.where(Site.retired_at.is_(None))
    if f.q:
        like = f"%{f.q.strip()}%"
        stmt = stmt.where(or_(Site.name.ilike(like), Site.project_code.ilike(like)))
    if f.district_id is not None:
        stmt = stmt.where(Site.district_id == f.district_id)
    if f.grade is not None:
        stmt = stmt.where(Site.grade == f.grade)
    if f.stage is not None:
        stmt = stmt.where(Site.stage == f.stage)
    if f.kind is not None:
        stmt = stmt.where(Site.kind == f.kind)
    if f.permit_status is not None:
        stmt = stmt.where(Site.permit_status == f.permit_status)
    if f.grid_id is not None:
        stmt = stmt.where(
            or_(Site.enforcement_grid_id == f.grid_id, Site.inspector_grid_id == f.grid_id)
        )
    if f.monitors_required is not None:
        stmt = stmt.where(Site.monitors_required.is_(f.monitors_required))
    return stmt


def count(session: Session, principal: Principal, f: SiteFilter) -> int:
    sub = filtered(principal, f).subquery()
    return int(session.scalar(select(func.count()).select_from(sub)) or 0)


def page_with_total(
    session: Session, principal: Principal, f: SiteFilter, *, offset: int, limit: int
) -> tuple[list[Any], int]:
    """One page of the ledger as light rows (no ORM objects: the list must stay fast) and
    the number of sites the filter matches, in one statement: the total rides on each row
    as ``count(*) OVER ()`` (computed before the page is cut). Only a page past the end,
    which has no row to carry it, asks for the total on its own."""
    rows = page_rows(session, principal, f, offset=offset, limit=limit)
    if rows:
        return rows, int(rows[0].total)
    return rows, count(session, principal, f) if offset else 0


def page_rows(
    session: Session, principal: Principal, f: SiteFilter, *, offset: int, limit: int
) -> list[Any]:
    """One page of the ledger as light rows, each with the filter's ``total``."""
    contractor = aliased(Enterprise)
    ids = (
        filtered(principal, f)
        .add_columns(func.count().over().label("total"))
        .order_by(Site.id)
        .offset(offset)
        .limit(limit)
        .subquery()
    )
    stmt = (
        select(
            Site.id,
            Site.project_code,
            Site.name,
            Site.district_id,
            District.name.label("district_name"),
            Site.kind,
            Site.stage,
            Site.grade,
            Site.permit_status,
            contractor.name.label("contractor_name"),
            Site.monitors_required,
            Site.retired_at,
            ids.c.total,
        )
        .join(ids, ids.c.id == Site.id)
        .join(District, District.id == Site.district_id)
        .outerjoin(contractor, contractor.id == Site.contractor_id)
        .order_by(Site.id)
    )
    return list(session.execute(stmt))


def map_rows(
    session: Session, principal: Principal, f: SiteFilter, crs: str = "wgs84"
) -> list[tuple[Any, ...]]:
    """``(id, lat, lon, grade, name, project_code)`` tuples, coordinates in ``crs``.

    The map asks for every visible site (10,000 in a city), so this is the hot path of the
    map page (bench/ledger.py): the filter's WHERE is applied to ``site`` directly (no
    self-join on a subquery), the coordinates of the wanted datum are picked in SQL, the
    grade comes back as its plain string (no Enum round trip) and the rows are read through
    the session's connection in Core (same transaction, no ORM row processing), as the
    driver's plain tuples: tuples of numbers and strings drop out of the
    garbage collector's tracking, whereas 10,000 kept ``Row`` objects or lists set off a
    full collection every few requests (~100 ms each on a busy 2-core machine: that, not the
    query, made the map's p95).
    """
    gcj = crs == "gcj02"
    stmt = (
        filtered(principal, f)
        .with_only_columns(
            Site.id,
            Site.gcj_lat if gcj else Site.lat,
            Site.gcj_lon if gcj else Site.lon,
            # stored as the member name, which equals the value for every Grade
            type_coerce(Site.grade, String),
            Site.name,
            Site.project_code,
        )
        .order_by(Site.id)
    )
    if session.autoflush:  # what session.execute would do before reading
        session.flush()
    result = session.connection().execute(stmt)
    try:
        # Every column is a plain number or string (no result processors): the driver's own
        # fetchall builds the tuples in one call, instead of 10,000 fetchone() round trips
        # through SQLAlchemy's row machinery (half the map's CPU time, bench/request_cpu.py).
        return list(result.cursor.fetchall())
    finally:
        result.close()


def get_visible(session: Session, principal: Principal, site_id: int) -> Site | None:
    stmt = select(Site).where(Site.id == site_id, site_clause(principal))
    return session.scalar(stmt)


def open_choices(session: Session, principal: Principal, *, limit: int) -> list[Any]:
    """``(id, project_code, name)`` of the sites in scope that are not retired, by code."""
    stmt = (
        select(Site.id, Site.project_code, Site.name)
        .where(site_clause(principal), Site.retired_at.is_(None))
        .order_by(Site.project_code)
        .limit(limit)
    )
    return list(session.execute(stmt))


def _like_words(q: str) -> str:
    """``q`` without LIKE wildcards and escapes (a user's words are matched literally)."""
    return q.strip().replace("\\", "").replace("%", "").replace("_", "")


def search_open(session: Session, principal: Principal, q: str, *, limit: int) -> list[Any]:
    """Open sites in scope whose project code, name, address or permit number contains ``q``
    (a form's site picker): ``(id, project_code, name, address, permit_no, district name)``,
    codes that start with ``q`` first, then by code."""
    words = _like_words(q)
    if not words:
        return []
    like = f"%{words}%"
    starts = Site.project_code.ilike(f"{words}%")
    stmt = (
        select(Site.id, Site.project_code, Site.name, Site.address, Site.permit_no, District.name)
        .join(District, District.id == Site.district_id)
        .where(
            site_clause(principal),
            Site.retired_at.is_(None),
            or_(
                Site.project_code.ilike(like),
                Site.name.ilike(like),
                Site.address.ilike(like),
                Site.permit_no.ilike(like),
            ),
        )
        .order_by(starts.desc(), Site.project_code)
        .limit(limit)
    )
    return list(session.execute(stmt))


def open_by_code_or_name(session: Session, principal: Principal, text: str) -> list[Any]:
    """Open sites in scope whose project code or name is exactly ``text`` (code case-blind):
    ``(id, project_code, name)``, at most two (enough to tell "one" from "several")."""
    stmt = (
        select(Site.id, Site.project_code, Site.name)
        .where(
            site_clause(principal),
            Site.retired_at.is_(None),
            or_(func.lower(Site.project_code) == text.strip().lower(), Site.name == text.strip()),
        )
        .order_by(Site.project_code)
        .limit(2)
    )
    return list(session.execute(stmt))


def l2_unit_of(session: Session, site_id: int) -> int | None:
    """The L2 unit a site answers to (no scope: the caller already holds the site's case)."""
    return session.scalar(select(Site.l2_unit_id).where(Site.id == site_id))


def enterprise_by_uscc(session: Session, uscc: str) -> Enterprise | None:
    """The enterprise with this unified social credit code (its identity)."""
    return session.scalar(select(Enterprise).where(Enterprise.uscc == uscc))


def by_project_code(session: Session, code: str) -> Site | None:
    return session.scalar(select(Site).where(Site.project_code == code))


def export_rows(session: Session, principal: Principal, f: SiteFilter) -> list[Site]:
    ids = filtered(principal, f).subquery()
    stmt = select(Site).join(ids, ids.c.id == Site.id).order_by(Site.project_code)
    return list(session.scalars(stmt))


def enterprises_in_scope(session: Session, p: Principal, q: str, *, limit: int) -> list[Enterprise]:
    """Enterprises that build, contract or supervise a site ``p`` may see, whose name or
    credit code contains ``q`` (a form's picker), by name."""
    linked = (
        select(Site.id)
        .where(
            site_clause(p),
            or_(
                Site.builder_id == Enterprise.id,
                Site.contractor_id == Enterprise.id,
                Site.supervisor_id == Enterprise.id,
            ),
        )
        .exists()
    )
    stmt = select(Enterprise).where(linked)
    words = q.strip().replace("\\", "").replace("%", "").replace("_", "")
    if words:
        like = f"%{words}%"
        stmt = stmt.where(or_(Enterprise.name.ilike(like), Enterprise.uscc.ilike(like)))
    return list(session.scalars(stmt.order_by(Enterprise.name, Enterprise.id).limit(limit)))
