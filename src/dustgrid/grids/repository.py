"""Grid queries, always filtered by the caller's scope (``grid_clause``/``site_clause``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, delete, func, or_, select, true
from sqlalchemy.orm import InstrumentedAttribute, Session, aliased

from dustgrid.grids.models import Grid, GridGroup, GridGroupMember, GridKind
from dustgrid.identity.models import User
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Role
from dustgrid.org.models import District, OrgUnit, UnitKind
from dustgrid.org.repository import district_clause
from dustgrid.sites import gridding
from dustgrid.sites.gridding import GridInfo
from dustgrid.sites.models import Enterprise, Site
from dustgrid.sites.repository import site_clause


def grid_clause(p: Principal) -> ColumnElement[bool]:
    """Grids the principal may see: their own, their unit's, or those holding visible sites."""
    if p.is_city_wide:
        return true()
    visible_sites = site_clause(p)
    parts: list[ColumnElement[bool]] = [
        Grid.id.in_(select(Site.enforcement_grid_id).where(visible_sites)),
        Grid.id.in_(select(Site.inspector_grid_id).where(visible_sites)),
    ]
    if p.grid_ids:
        parts.append(Grid.id.in_(p.grid_ids))
    if p.role in (Role.district_admin, Role.viewer) and p.unit_level == 2:
        if p.district_id:
            parts.append(Grid.district_id == p.district_id)
        if p.org_unit_id is not None:  # the grids the unit owns (the city station's, anywhere)
            parts.append(Grid.unit_id == p.org_unit_id)
    return or_(*parts)


def city_stations() -> Select[Any]:
    """Ids of the city-wide L2 stations (市安全监督站) that work grids with their own officers."""
    return select(OrgUnit.id).where(OrgUnit.kind == UnitKind.city_safety_station)


def lane_clause(kind: GridKind, lane: int | None) -> ColumnElement[bool]:
    """Grids of ``kind`` in ``lane`` (see ``sites.gridding.GridInfo.lane``): enforcement
    grids owned by that city station, or (lane None) by any other unit; any inspector grid."""
    if kind != GridKind.enforcement:
        return true()
    if lane is not None:
        return Grid.unit_id == lane
    return or_(Grid.unit_id.is_(None), Grid.unit_id.not_in(city_stations()))


def lane_of(session: Session, kind: GridKind, l2_unit_id: int | None) -> int | None:
    """The lane of a site answering to ``l2_unit_id`` (its L2 unit) for grids of ``kind``."""
    if kind != GridKind.enforcement or l2_unit_id is None:
        return None
    unit_kind = session.scalar(select(OrgUnit.kind).where(OrgUnit.id == l2_unit_id))
    return l2_unit_id if unit_kind == UnitKind.city_safety_station else None


def grid_lane(session: Session, grid: Grid) -> int | None:
    """The grid's lane: its owner when that is a city station and the grid enforces."""
    if grid.kind != GridKind.enforcement or grid.unit_id is None:
        return None
    unit_kind = session.scalar(select(OrgUnit.kind).where(OrgUnit.id == grid.unit_id))
    return grid.unit_id if unit_kind == UnitKind.city_safety_station else None


def site_lanes(session: Session, sites: Iterable[Site], kind: GridKind) -> dict[int, int | None]:
    """``{site id: lane}`` for grids of ``kind`` (one query for the city stations)."""
    stations = set(session.scalars(city_stations())) if kind == GridKind.enforcement else set()
    return {s.id: (s.l2_unit_id if s.l2_unit_id in stations else None) for s in sites}


def site_column(kind: GridKind) -> InstrumentedAttribute[int | None]:
    """The site column that holds a grid of ``kind``."""
    return Site.enforcement_grid_id if kind == GridKind.enforcement else Site.inspector_grid_id


def visible(session: Session, principal: Principal, grid_id: int) -> Grid | None:
    return session.scalar(select(Grid).where(Grid.id == grid_id, grid_clause(principal)))


# The site page's read (``site_with_references``): the joins are built once, per process.
# Building the aliases and their join conditions per request was half the page's CPU time
# (bench/request_cpu.py --profile site_page); a request only adds its WHERE clause.
_BUILDER, _CONTRACTOR, _SUPERVISOR = (aliased(Enterprise, name=n) for n in ("b", "c", "s"))
_EGRID, _IGRID = aliased(Grid, name="eg"), aliased(Grid, name="ig")
_SITE_WITH_REFERENCES = (
    select(Site, District, OrgUnit, _BUILDER, _CONTRACTOR, _SUPERVISOR, _EGRID, _IGRID)
    .outerjoin(District, District.id == Site.district_id)
    .outerjoin(OrgUnit, OrgUnit.id == Site.l2_unit_id)
    .outerjoin(_BUILDER, _BUILDER.id == Site.builder_id)
    .outerjoin(_CONTRACTOR, _CONTRACTOR.id == Site.contractor_id)
    .outerjoin(_SUPERVISOR, _SUPERVISOR.id == Site.supervisor_id)
    .outerjoin(_EGRID, _EGRID.id == Site.enforcement_grid_id)
    .outerjoin(_IGRID, _IGRID.id == Site.inspector_grid_id)
)


def site_with_references(session: Session, principal: Principal, site_id: int) -> Any | None:
    """``(site, district, l2_unit, builder, contractor, supervisor, enforcement_grid,
    inspector_grid)`` of one visible site, or None outside the principal's scope.

    One statement for what the site page names (a look-up per reference was seven more);
    the rows land in the session, so a later ``session.get`` of the same ids (the change
    history naming them) costs nothing. Lives with the grids: the lowest domain that sees
    every table the page names.
    """
    stmt = _SITE_WITH_REFERENCES.where(Site.id == site_id, site_clause(principal))
    return session.execute(stmt).one_or_none()


def by_code(session: Session, code: str) -> Grid | None:
    return session.scalar(select(Grid).where(Grid.code == code))


def choices(session: Session, principal: Principal) -> list[Any]:
    """``(id, code, name, kind, district_id)`` of the visible grids, ordered by code."""
    stmt = (
        select(Grid.id, Grid.code, Grid.name, Grid.kind, Grid.district_id)
        .where(grid_clause(principal))
        .order_by(Grid.code)
    )
    return list(session.execute(stmt))


def _filtered(principal: Principal, kind: GridKind | None, district_id: int | None) -> Select[Any]:
    stmt = select(Grid.id).where(grid_clause(principal))
    if kind is not None:
        stmt = stmt.where(Grid.kind == kind)
    if district_id is not None:
        stmt = stmt.where(Grid.district_id == district_id)
    return stmt


def page_rows(
    session: Session,
    principal: Principal,
    *,
    kind: GridKind | None,
    district_id: int | None,
    offset: int,
    limit: int,
) -> tuple[list[Any], int]:
    """(Grid, district name, unit name) rows of one page, and the total."""
    base = _filtered(principal, kind, district_id)
    total = int(session.scalar(select(func.count()).select_from(base.subquery())) or 0)
    ids = base.order_by(Grid.district_id, Grid.kind, Grid.code).offset(offset).limit(limit)
    stmt = (
        select(Grid, District.name, OrgUnit.name)
        .join(District, District.id == Grid.district_id)
        .outerjoin(OrgUnit, OrgUnit.id == Grid.unit_id)
        .where(Grid.id.in_(ids.scalar_subquery()))
        .order_by(Grid.district_id, Grid.kind, Grid.code)
    )
    return list(session.execute(stmt)), total


def labels(session: Session, grid: Grid) -> tuple[str, str | None]:
    """The grid's district name and owning unit name."""
    district = session.scalar(select(District.name).where(District.id == grid.district_id))
    unit = (
        session.scalar(select(OrgUnit.name).where(OrgUnit.id == grid.unit_id))
        if grid.unit_id is not None
        else None
    )
    return district or "", unit


def site_counts(
    session: Session, grids: Iterable[Grid], within: Principal | None = None
) -> dict[int, int]:
    """Active sites per grid; with ``within``, only the sites that principal may see."""
    out: dict[int, int] = {}
    by_kind: dict[GridKind, list[int]] = defaultdict(list)
    for g in grids:
        by_kind[g.kind].append(g.id)
        out[g.id] = 0
    for kind, ids in by_kind.items():
        col = site_column(kind)
        stmt = (
            select(col, func.count()).where(col.in_(ids), Site.retired_at.is_(None)).group_by(col)
        )
        if within is not None:
            stmt = stmt.where(site_clause(within))
        out.update({int(gid): int(n) for gid, n in session.execute(stmt) if gid is not None})
    return out


def groups_with_members(
    session: Session, grid_ids: Iterable[int]
) -> dict[int, list[tuple[GridGroup, list[User]]]]:
    """Groups per grid in creation order, each with its members ordered by username."""
    ids = list(grid_ids)
    out: dict[int, list[tuple[GridGroup, list[User]]]] = {gid: [] for gid in ids}
    if not ids:
        return out
    groups = list(
        session.scalars(select(GridGroup).where(GridGroup.grid_id.in_(ids)).order_by(GridGroup.id))
    )
    members: dict[int, list[User]] = defaultdict(list)
    if groups:
        stmt = (
            select(GridGroupMember.group_id, User)
            .join(User, User.id == GridGroupMember.user_id)
            .where(GridGroupMember.group_id.in_([g.id for g in groups]))
            .order_by(User.username)
        )
        for group_id, user in session.execute(stmt):
            members[group_id].append(user)
    for g in groups:
        out[g.grid_id].append((g, members[g.id]))
    return out


def group_of(session: Session, grid_id: int, group_id: int) -> GridGroup | None:
    return session.scalar(
        select(GridGroup).where(GridGroup.id == group_id, GridGroup.grid_id == grid_id)
    )


def member_ids(session: Session, group_id: int) -> list[int]:
    stmt = select(GridGroupMember.user_id).where(GridGroupMember.group_id == group_id)
    return sorted(int(u) for u in session.scalars(stmt))


def remove_members(session: Session, group_id: int, user_ids: Iterable[int]) -> None:
    ids = list(user_ids)
    if ids:
        session.execute(
            delete(GridGroupMember).where(
                GridGroupMember.group_id == group_id, GridGroupMember.user_id.in_(ids)
            )
        )


def delete_groups(session: Session, group_ids: Iterable[int]) -> None:
    """Members first, then the groups (no reliance on the database's ON DELETE CASCADE)."""
    ids = list(group_ids)
    if ids:
        session.execute(delete(GridGroupMember).where(GridGroupMember.group_id.in_(ids)))
        session.execute(delete(GridGroup).where(GridGroup.id.in_(ids)))


def members_elsewhere(
    session: Session, grid_id: int, user_ids: Iterable[int], *, except_group: int | None
) -> list[int]:
    """Users of ``user_ids`` already in another group of the same grid."""
    stmt = (
        select(GridGroupMember.user_id)
        .join(GridGroup, GridGroup.id == GridGroupMember.group_id)
        .where(GridGroup.grid_id == grid_id, GridGroupMember.user_id.in_(list(user_ids)))
    )
    if except_group is not None:
        stmt = stmt.where(GridGroup.id != except_group)
    return sorted(set(int(u) for u in session.scalars(stmt)))


def eligible_users(
    session: Session, role: Role, district_id: int, lane: int | None = None
) -> list[User]:
    """Active accounts of ``role`` who may join a group of a grid in ``district_id``.

    A grid of the city safety station (``lane``) is worked by the station's own officers,
    whichever district it lies in (seed 000 §3(二): 地铁和市政工程由市安全监督机构执法监督
    人员进入网格). Otherwise an account bound to a unit must belong to a unit of that
    district (so officers of another district, or of a unit bound to no district such as
    the city station, are out); an account without a unit (third-party inspectors, officers
    not yet placed) may join only while it works in no grid of another district. This is
    the whole set a group write may name: anything else is refused like an unknown id.
    """
    if lane is not None:
        own = select(User).where(
            User.role == role, User.is_active.is_(True), User.org_unit_id == lane
        )
        return list(session.scalars(own.order_by(User.username)))
    in_district = select(OrgUnit.id).where(OrgUnit.district_id == district_id)
    elsewhere = (
        select(GridGroupMember.user_id)
        .join(GridGroup, GridGroup.id == GridGroupMember.group_id)
        .join(Grid, Grid.id == GridGroup.grid_id)
        .where(Grid.district_id != district_id)
    )
    stmt = select(User).where(
        User.role == role,
        User.is_active.is_(True),
        or_(
            User.org_unit_id.in_(in_district),
            and_(User.org_unit_id.is_(None), User.id.not_in(elsewhere)),
        ),
    )
    return list(session.scalars(stmt.order_by(User.username)))


def first_unit(session: Session, kind: UnitKind, district_id: int) -> int | None:
    """The first unit of ``kind`` bound to the district (a new grid's default owner)."""
    stmt = select(OrgUnit.id).where(OrgUnit.kind == kind, OrgUnit.district_id == district_id)
    found = session.scalars(stmt.order_by(OrgUnit.id)).first()
    return int(found) if found is not None else None


def grid_sites(session: Session, principal: Principal, grid: Grid) -> list[Any]:
    """Active sites of the grid that the caller may see."""
    col = site_column(grid.kind)
    stmt = (
        select(Site.id, Site.project_code, Site.name, Site.grade, Site.stage)
        .where(col == grid.id, Site.retired_at.is_(None), site_clause(principal))
        .order_by(Site.project_code)
    )
    return list(session.execute(stmt))


def assign_candidates(session: Session, principal: Principal, grid: Grid) -> list[Any]:
    """Visible active sites of the grid's district that are not yet in this grid."""
    col = site_column(grid.kind)
    stmt = (
        select(Site.id, Site.project_code, Site.name, col.label("current_grid_id"))
        .where(
            Site.district_id == grid.district_id,
            Site.retired_at.is_(None),
            or_(col.is_(None), col != grid.id),
            site_clause(principal),
        )
        .order_by(Site.project_code)
    )
    return list(session.execute(stmt))


def sites_for_assign(session: Session, principal: Principal, site_ids: Iterable[int]) -> list[Site]:
    stmt = select(Site).where(Site.id.in_(list(site_ids)), site_clause(principal))
    return list(session.scalars(stmt.order_by(Site.id)))


def district_active_sites(session: Session, district_id: int) -> list[Site]:
    """Every active site of a district (partition works on the whole district)."""
    stmt = select(Site).where(Site.district_id == district_id, Site.retired_at.is_(None))
    return list(session.scalars(stmt.order_by(Site.id)))


def district_grids(
    session: Session, district_id: int, kind: GridKind, lane: int | None = None
) -> list[Grid]:
    """The district's grids of ``kind`` in ``lane`` (enforcement lanes: see ``lane_clause``)."""
    stmt = select(Grid).where(
        Grid.district_id == district_id, Grid.kind == kind, lane_clause(kind, lane)
    )
    return list(session.scalars(stmt.order_by(Grid.id)))


def grid_in_use(session: Session, grid: Grid) -> tuple[int, int]:
    """(sites referencing the grid in either column, groups) — blocks kind/district changes."""
    n_sites = session.scalar(
        select(func.count()).where(
            or_(Site.enforcement_grid_id == grid.id, Site.inspector_grid_id == grid.id)
        )
    )
    n_groups = session.scalar(select(func.count()).where(GridGroup.grid_id == grid.id))
    return int(n_sites or 0), int(n_groups or 0)


def coverage(session: Session, principal: Principal) -> list[Any]:
    """Per visible district: active visible sites, and those missing a grid of each kind."""
    missing_e = func.sum(case((Site.enforcement_grid_id.is_(None), 1), else_=0))
    missing_i = func.sum(case((Site.inspector_grid_id.is_(None), 1), else_=0))
    counts = (
        select(
            Site.district_id.label("district_id"),
            func.count().label("active_sites"),
            missing_e.label("missing_enforcement"),
            missing_i.label("missing_inspector"),
        )
        .where(Site.retired_at.is_(None), site_clause(principal))
        .group_by(Site.district_id)
        .subquery()
    )
    stmt = (
        select(
            District.id,
            District.name,
            func.coalesce(counts.c.active_sites, 0),
            func.coalesce(counts.c.missing_enforcement, 0),
            func.coalesce(counts.c.missing_inspector, 0),
        )
        .outerjoin(counts, counts.c.district_id == District.id)
        .where(district_clause(principal))
        .order_by(District.code)
    )
    return list(session.execute(stmt))


def codes(session: Session, grid_ids: Iterable[int | None]) -> dict[int, str]:
    """Grid codes for labels (a site's current grid in the move form)."""
    ids = sorted({g for g in grid_ids if g is not None})
    if not ids:
        return {}
    return {
        gid: code
        for gid, code in session.execute(select(Grid.id, Grid.code).where(Grid.id.in_(ids)))
    }


# --------------------------------------------------------------- the site ledger's grid port


def _info(session: Session, g: Grid) -> GridInfo:
    return GridInfo(g.id, g.code, g.name, g.kind, g.district_id, grid_lane(session, g))


class _Gridding:
    """What the site ledger asks about grids (``dustgrid.sites.gridding``)."""

    def get(self, session: Session, grid_id: int) -> GridInfo | None:
        grid = session.get(Grid, grid_id)
        return _info(session, grid) if grid is not None else None

    def visible(self, session: Session, principal: Principal) -> list[GridInfo]:
        stmt = select(Grid).where(grid_clause(principal)).order_by(Grid.kind, Grid.code)
        stations = set(session.scalars(city_stations()))
        return [
            GridInfo(g.id, g.code, g.name, g.kind, g.district_id, _lane_in(g, stations))
            for g in session.scalars(stmt)
        ]

    def codes(self, session: Session, ids: Iterable[int]) -> dict[int, str]:
        stmt = select(Grid.id, Grid.code).where(Grid.id.in_(list(ids)))
        return {gid: code for gid, code in session.execute(stmt)}

    def centroids(
        self, session: Session, district_id: int, kind: GridKind, lane: int | None = None
    ) -> list[tuple[int, float, float]]:
        col = site_column(kind)
        stmt = (
            select(col, func.avg(Site.lat), func.avg(Site.lon))
            .join(Grid, Grid.id == col)
            .where(
                Grid.district_id == district_id,
                Grid.kind == kind,
                lane_clause(kind, lane),
                Site.retired_at.is_(None),
            )
            .group_by(col)
        )
        return [(int(g), float(lat), float(lon)) for g, lat, lon in session.execute(stmt)]

    def any_grid(
        self, session: Session, district_id: int, kind: GridKind, lane: int | None = None
    ) -> int | None:
        only = session.scalar(
            select(Grid.id)
            .where(Grid.district_id == district_id, Grid.kind == kind, lane_clause(kind, lane))
            .order_by(Grid.id)
            .limit(1)
        )
        return int(only) if only is not None else None

    def lane_of(self, session: Session, kind: GridKind, l2_unit_id: int | None) -> int | None:
        return lane_of(session, kind, l2_unit_id)


def _lane_in(g: Grid, stations: set[int]) -> int | None:
    """``grid_lane`` with the city stations already read."""
    return g.unit_id if g.kind == GridKind.enforcement and g.unit_id in stations else None


gridding.provide(_Gridding())
