"""Grids and their member groups (site membership lives in ``layout.py``). Never commits.

Writes need ``Perm.grid_write``; a district admin manages only the district grids of their
own unit's district, the city safety station's admin only the station's own enforcement
grids (metro and municipal works, in any district); a grid they cannot see answers 404, one
they see but may not change 403.

Group sizes (``GridPolicy.group_size``): a group is written whole (created with its full
team, its member list replaced in one request), and a write that would leave it outside the
rule is refused, naming the rule. A group can still fall short afterwards without a write
here (a member's account disabled, deleted or given another role): it is then reported as
incomplete (``GroupOut.complete`` false) and not counted as staffing the grid
(``GridOut.staffed``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from dustgrid.audit import service as audit
from dustgrid.errors import Conflict, Forbidden, Invalid, NotFound
from dustgrid.grids import repository as repo
from dustgrid.grids.models import Grid, GridGroup, GridGroupMember, GridKind
from dustgrid.grids.policy import DEFAULT_GRID_POLICY, GridPolicy
from dustgrid.grids.schemas import (
    GridCreate,
    GridDetail,
    GridOut,
    GridPage,
    GridSite,
    GridUpdate,
    GroupCreate,
    GroupOut,
    GroupUpdate,
    MemberOut,
)
from dustgrid.i18n import Msg
from dustgrid.identity.models import User
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Perm, Role
from dustgrid.org.models import District, OrgUnit, UnitKind
from dustgrid.sites.models import Enterprise, Site

# Who may work a grid of each kind (domain.md §1): L4 officers, or third-party inspectors.
MEMBER_ROLE = {GridKind.enforcement: Role.officer, GridKind.inspector: Role.inspector}
KIND_ZH = {GridKind.enforcement: "执法监督网格", GridKind.inspector: "专职巡查网格"}
CODE_PREFIX = {GridKind.enforcement: "E", GridKind.inspector: "I"}
# The unit that owns a new grid by default: the district's L3 station for enforcement
# grids, the district bureau (which buys the inspection service) for inspector grids.
OWNER_KIND = {
    GridKind.enforcement: UnitKind.supervision_station,
    GridKind.inspector: UnitKind.district_bureau,
}
GRID_FIELDS = ("code", "name", "kind", "district_id", "unit_id")


# --------------------------------------------------------------------------- access


def may_write_district(principal: Principal, district_id: int) -> bool:
    """City admin anywhere; a grid writer of an L2 district unit only in that district."""
    if not principal.can(Perm.grid_write):
        return False
    return principal.role == Role.city_admin or principal.district_id == district_id


def own_lane(session: Session, principal: Principal) -> int | None:
    """The principal's unit when it is a city station working its own grids, else None."""
    return repo.lane_of(session, GridKind.enforcement, principal.org_unit_id)


def may_write_lane(principal: Principal, district_id: int, lane: int | None) -> bool:
    """City admin anywhere; the district's admin for district grids (lane None); the city
    station's admin for the grids of its own lane, in every district."""
    if not principal.can(Perm.grid_write):
        return False
    if principal.role == Role.city_admin:
        return True
    if lane is None:
        return principal.district_id == district_id
    return principal.org_unit_id == lane


def may_create_in(session: Session, principal: Principal, district_id: int) -> bool:
    """Whether the principal may add grids in the district (the city station: its own
    enforcement grids, in any district)."""
    if may_write_district(principal, district_id):
        return True
    return principal.can(Perm.grid_write) and own_lane(session, principal) is not None


def may_write_grid(session: Session, principal: Principal, grid: Grid) -> bool:
    return may_write_lane(principal, grid.district_id, repo.grid_lane(session, grid))


def require_grid_write(principal: Principal) -> None:
    if not principal.can(Perm.grid_write):
        raise Forbidden("grids.error.role_may_not_manage_grids")


def require_district(principal: Principal, district_id: int) -> None:
    if not may_write_district(principal, district_id):
        raise Forbidden("grids.error.you_may_only_manage_grids_own")


def get_visible(session: Session, principal: Principal, grid_id: int) -> Grid:
    grid = repo.visible(session, principal, grid_id)
    if grid is None:
        raise NotFound("grids.error.grid_not_found", grid_id=grid_id)
    return grid


def writable_grid(session: Session, principal: Principal, grid_id: int) -> Grid:
    require_grid_write(principal)
    grid = get_visible(session, principal, grid_id)
    if not may_write_grid(session, principal, grid):
        raise Forbidden("grids.error.you_may_only_manage_own_unit")
    return grid


# --------------------------------------------------------------------------- reads


def _member(u: User) -> MemberOut:
    return MemberOut(user_id=u.id, username=u.username, display_name=u.display_name, role=u.role)


GroupRows = list[tuple[GridGroup, list[User]]]


def working_members(kind: GridKind, members: Sequence[User]) -> int:
    """Members who can work a grid of ``kind``: active accounts of its member role."""
    return sum(1 for u in members if u.is_active and u.role == MEMBER_ROLE[kind])


def group_complete(
    kind: GridKind, members: Sequence[User], policy: GridPolicy = DEFAULT_GRID_POLICY
) -> bool:
    """Whether the group meets the size rule counting only ``working_members``."""
    return policy.group_fits(kind.value, working_members(kind, members))


def _out(grid: Grid, district: str, unit: str | None, count: int, groups: GroupRows) -> GridOut:
    seen: dict[int, MemberOut] = {}
    for _group, members in groups:
        for u in members:
            seen.setdefault(u.id, _member(u))
    return GridOut(
        id=grid.id,
        code=grid.code,
        name=grid.name,
        kind=grid.kind,
        district_id=grid.district_id,
        district_name=district,
        unit_id=grid.unit_id,
        unit_name=unit,
        site_count=count,
        members=list(seen.values()),
        staffed=any(group_complete(grid.kind, ms) for _g, ms in groups),
    )


@dataclass(frozen=True, slots=True)
class SiteCard:
    """A site with the rows its page names (district, L2 unit, parties, grids)."""

    site: Site
    district: District | None
    l2_unit: OrgUnit | None
    enterprises: dict[str, Enterprise | None]  # by the site's column: builder_id, …
    enforcement_grid: Grid | None
    inspector_grid: Grid | None


def site_card(session: Session, principal: Principal, site_id: int) -> SiteCard:
    """One visible site and what its page names, read in one statement (404 outside the
    principal's scope, as ``sites.service.get_site``)."""
    row = repo.site_with_references(session, principal, site_id)
    if row is None:
        raise NotFound("sites.error.site_not_found", site_id=site_id)
    site, district, l2_unit, builder, contractor, supervisor, egrid, igrid = row
    return SiteCard(
        site=site,
        district=district,
        l2_unit=l2_unit,
        enterprises={
            "builder_id": builder,
            "contractor_id": contractor,
            "supervisor_id": supervisor,
        },
        enforcement_grid=egrid,
        inspector_grid=igrid,
    )


def grid_choices(session: Session, principal: Principal) -> list[Any]:
    """``(id, code, name, kind, district_id)`` rows of the visible grids (forms' select boxes)."""
    return repo.choices(session, principal)


def assign_candidates(session: Session, principal: Principal, grid: Grid) -> list[Any]:
    """Visible active sites of the grid's district not yet in this grid (the move form)."""
    return repo.assign_candidates(session, principal, grid)


def grid_codes(session: Session, grid_ids: Iterable[int | None]) -> dict[int, str]:
    """Codes of these grids, by id (for labels)."""
    return repo.codes(session, grid_ids)


#: Company accounts see the grids of their own sites only, and count only their own sites
#: there; they do see those grids' members (who supervises and inspects them).
COMPANY_ROLES = frozenset({Role.contractor, Role.provider})


def _count_scope(principal: Principal) -> Principal | None:
    """Whose sites a grid's site count covers: all of them, except for company accounts."""
    return principal if principal.role in COMPANY_ROLES else None


def list_grids(
    session: Session,
    principal: Principal,
    *,
    kind: GridKind | None = None,
    district_id: int | None = None,
    page: int = 1,
    size: int = 50,
) -> GridPage:
    rows, total = repo.page_rows(
        session, principal, kind=kind, district_id=district_id, offset=(page - 1) * size, limit=size
    )
    grids = [r[0] for r in rows]
    counts = repo.site_counts(session, grids, _count_scope(principal))
    groups = repo.groups_with_members(session, [g.id for g in grids])
    items = [_out(g, d, u, counts[g.id], groups[g.id]) for g, d, u in rows]
    return GridPage(items=items, total=total, page=page, size=size)


def get_grid(session: Session, principal: Principal, grid_id: int) -> GridDetail:
    grid = get_visible(session, principal, grid_id)
    district, unit = repo.labels(session, grid)
    groups = repo.groups_with_members(session, [grid.id])[grid.id]
    base = _out(
        grid,
        district,
        unit,
        repo.site_counts(session, [grid], _count_scope(principal))[grid.id],
        groups,
    )
    return GridDetail(
        **base.model_dump(),
        groups=[
            GroupOut(
                id=g.id,
                name=g.name,
                members=[_member(u) for u in ms],
                complete=group_complete(grid.kind, ms),
                working_members=working_members(grid.kind, ms),
            )
            for g, ms in groups
        ],
        sites=[
            GridSite(
                id=r.id, project_code=r.project_code, name=r.name, grade=r.grade, stage=r.stage
            )
            for r in repo.grid_sites(session, principal, grid)
        ],
    )


def eligible_members(session: Session, principal: Principal, grid: Grid) -> list[User]:
    """Accounts the form may offer for a new group of ``grid`` (not yet in one of its groups)."""
    if not may_write_grid(session, principal, grid):
        return []
    groups = repo.groups_with_members(session, [grid.id])[grid.id]
    taken = {u.id for _group, members in groups for u in members}
    eligible = repo.eligible_users(
        session, MEMBER_ROLE[grid.kind], grid.district_id, repo.grid_lane(session, grid)
    )
    return [u for u in eligible if u.id not in taken]


# --------------------------------------------------------------------------- grid writes


def snapshot(grid: Grid) -> dict[str, object]:
    return {name: getattr(grid, name) for name in GRID_FIELDS}


def default_unit(session: Session, district_id: int, kind: GridKind) -> int | None:
    return repo.first_unit(session, OWNER_KIND[kind], district_id)


def _check_place(session: Session, grid: Grid) -> None:
    """The district exists; the owning unit exists and is not bound to another district."""
    if session.get(District, grid.district_id) is None:
        raise Invalid("org.error.district_not_found_2", district_id=grid.district_id)
    if grid.unit_id is not None:
        unit = session.get(OrgUnit, grid.unit_id)
        if unit is None:
            raise Invalid("grids.error.unit_not_found", unit_id=grid.unit_id)
        if unit.district_id not in (None, grid.district_id):
            raise Invalid("grids.error.owning_unit_belongs_another_district")


def _require_lane(session: Session, principal: Principal, grid: Grid) -> None:
    """The grid's lane (after a create or an owner change) is one the principal manages."""
    if not may_write_grid(session, principal, grid):
        raise Forbidden("grids.error.you_may_only_manage_own_unit_2")


def create_grid(session: Session, principal: Principal, data: GridCreate) -> Grid:
    require_grid_write(principal)
    lane = own_lane(session, principal)
    if lane is None:
        require_district(principal, data.district_id)
    elif data.kind != GridKind.enforcement:
        raise Forbidden("grids.error.city_safety_station_manages_enforcement_grids")
    if repo.by_code(session, data.code) is not None:
        raise Conflict("grids.error.grid_code_already_exists", data_code=data.code)
    grid = Grid(
        code=data.code,
        name=data.name.strip(),
        kind=data.kind,
        district_id=data.district_id,
        unit_id=data.unit_id or lane,
    )
    if grid.unit_id is None:
        grid.unit_id = default_unit(session, data.district_id, data.kind)
    _check_place(session, grid)
    _require_lane(session, principal, grid)
    session.add(grid)
    session.flush()
    audit.record_change(
        session,
        actor=principal,
        action="create",
        entity_type="grid",
        entity_id=grid.id,
        before={},
        after=snapshot(grid),
        summary=f"新增网格 {grid.code}",
    )
    return grid


def update_grid(session: Session, principal: Principal, grid_id: int, data: GridUpdate) -> Grid:
    grid = writable_grid(session, principal, grid_id)
    before = snapshot(grid)
    values = {
        k: v
        for k, v in data.model_dump(exclude_unset=True).items()
        if v is not None or k == "unit_id"
    }
    if values.get("code") and values["code"] != grid.code and repo.by_code(session, values["code"]):
        raise Conflict("grids.error.grid_code_already_exists", data_code=values["code"])
    lane = repo.grid_lane(session, grid)
    moving = any(k in values and values[k] != getattr(grid, k) for k in ("kind", "district_id"))
    if moving:
        n_sites, n_groups = repo.grid_in_use(session, grid)
        if n_sites or n_groups:
            raise Invalid("grids.error.grid_sites_or_groups_cannot_change")
        if "district_id" in values and not may_write_lane(principal, values["district_id"], lane):
            raise Forbidden("grids.error.you_may_only_manage_grids_own")
    with session.no_autoflush:
        for key, value in values.items():
            setattr(grid, key, value.strip() if isinstance(value, str) else value)
        _check_place(session, grid)
        if repo.grid_lane(session, grid) != lane:
            _check_lane_change(session, principal, grid)
    session.flush()
    audit.record_change(
        session,
        actor=principal,
        action="update",
        entity_type="grid",
        entity_id=grid.id,
        before=before,
        after=snapshot(grid),
        summary=f"修改网格 {grid.code}",
    )
    return grid


def _check_lane_change(session: Session, principal: Principal, grid: Grid) -> None:
    """A new owner that moves the grid into or out of the city station's lane: only while
    the grid is empty (its sites and officers belong to the old lane), and only to a lane
    the principal manages."""
    if any(repo.grid_in_use(session, grid)):
        raise Invalid(
            "grids.error.grid_sites_or_groups_cannot_move",
            details={"field": "unit_id"},
        )
    _require_lane(session, principal, grid)


def delete_grid(session: Session, principal: Principal, grid_id: int) -> None:
    """Remove an empty grid (for example one a partition left without sites)."""
    grid = writable_grid(session, principal, grid_id)
    if repo.grid_in_use(session, grid)[0]:
        raise Invalid("grids.error.move_grid_s_sites_out_first")
    groups = [g.id for g, _ in repo.groups_with_members(session, [grid.id])[grid.id]]
    repo.delete_groups(session, groups)
    audit.record_change(
        session,
        actor=principal,
        action="delete",
        entity_type="grid",
        entity_id=grid.id,
        before=snapshot(grid),
        after={},
        summary=f"删除网格 {grid.code}",
    )
    session.delete(grid)
    session.flush()


# --------------------------------------------------------------------------- groups


def _check_members(
    session: Session,
    grid: Grid,
    member_ids: Sequence[int],
    policy: GridPolicy,
    *,
    except_group: int | None,
) -> list[int]:
    """Distinct ids of active accounts of the grid's member role, enough for a group."""
    ids = sorted(set(member_ids))
    _check_group_size(grid.kind, len(ids), policy)
    # Only accounts the caller could pick in the form (the grid's district or, for the city
    # station's grids, the station; the grid's member role; active): everything else is
    # refused like an id that does not exist, and the error names ids only, so it reveals
    # no accounts outside the caller's scope.
    lane = repo.grid_lane(session, grid)
    eligible = {
        u.id for u in repo.eligible_users(session, MEMBER_ROLE[grid.kind], grid.district_id, lane)
    }
    refused = [i for i in ids if i not in eligible]
    if refused:
        raise Invalid(
            "grids.error.unknown_disabled_or_not_eligible_grid",
            refused=", ".join(str(i) for i in refused),
            who=_who(grid, lane),
            details={"member_ids": refused},
        )
    twice = repo.members_elsewhere(session, grid.id, ids, except_group=except_group)
    if twice:
        raise Invalid(
            "grids.error.already_another_group_grid",
            twice=", ".join(str(i) for i in twice),
            details={"member_ids": twice},
        )
    return ids


def _who(grid: Grid, lane: int | None) -> Msg:
    """Who may join ``grid`` (the station's lane, or the district's officers or inspectors)."""
    if lane is not None:
        return Msg("grids.who.station")
    return Msg(f"grids.who.{grid.kind.value}")


def _check_group_size(kind: GridKind, n: int, policy: GridPolicy) -> None:
    """Refuse a group outside ``policy.group_size`` (domain.md §1), naming the rule."""
    if policy.group_fits(kind.value, n):
        return
    lo, hi = policy.group_size(kind.value)
    raise Invalid(
        "grids.error.group_size_exact" if hi == lo else "grids.error.group_size_min",
        kind=Msg(f"grid_kind.{kind.value}"),
        lo=lo,
        version=policy.version,
        n=n,
        details={"field": "member_ids", "rule": f"{kind.value}_group_size", "got": n},
    )


def _record_group(
    session: Session,
    principal: Principal,
    grid: Grid,
    action: str,
    before: dict[str, object],
    after: dict[str, object],
    summary: str,
) -> None:
    """Group changes go on the grid's own history (nothing when nothing changed)."""
    audit.record_change(
        session,
        actor=principal,
        action=action,
        entity_type="grid",
        entity_id=grid.id,
        before=before,
        after=after,
        summary=summary,
    )


def add_group(
    session: Session,
    principal: Principal,
    grid_id: int,
    data: GroupCreate,
    policy: GridPolicy = DEFAULT_GRID_POLICY,
) -> GridGroup:
    grid = writable_grid(session, principal, grid_id)
    ids = _check_members(session, grid, data.member_ids, policy, except_group=None)
    group = GridGroup(grid_id=grid.id, name=data.name.strip())
    session.add(group)
    session.flush()
    session.add_all(GridGroupMember(group_id=group.id, user_id=u) for u in ids)
    session.flush()
    _record_group(
        session,
        principal,
        grid,
        "group_create",
        {},
        {"group_id": group.id, "group_name": group.name, "member_ids": ids},
        f"网格 {grid.code} 新增成员组 {group.name}",
    )
    return group


def update_group(
    session: Session,
    principal: Principal,
    grid_id: int,
    group_id: int,
    data: GroupUpdate,
    policy: GridPolicy = DEFAULT_GRID_POLICY,
) -> GridGroup:
    grid = writable_grid(session, principal, grid_id)
    group = repo.group_of(session, grid.id, group_id)
    if group is None:
        raise NotFound("grids.error.group_not_found", group_id=group_id)
    old_ids = repo.member_ids(session, group.id)
    before = {"group_id": group.id, "group_name": group.name, "member_ids": old_ids}
    if data.name is not None:
        group.name = data.name.strip()
    ids = old_ids
    if data.member_ids is not None:
        ids = _check_members(session, grid, data.member_ids, policy, except_group=group.id)
        gone = [u for u in old_ids if u not in ids]
        repo.remove_members(session, group.id, gone)
        session.add_all(
            GridGroupMember(group_id=group.id, user_id=u) for u in ids if u not in old_ids
        )
    session.flush()
    after = {"group_id": group.id, "group_name": group.name, "member_ids": ids}
    _record_group(
        session,
        principal,
        grid,
        "group_update",
        before,
        after,
        f"网格 {grid.code} 修改成员组 {group.name}",
    )
    return group


def delete_group(session: Session, principal: Principal, grid_id: int, group_id: int) -> None:
    grid = writable_grid(session, principal, grid_id)
    group = repo.group_of(session, grid.id, group_id)
    if group is None:
        raise NotFound("grids.error.group_not_found", group_id=group_id)
    before = {
        "group_id": group.id,
        "group_name": group.name,
        "member_ids": repo.member_ids(session, group.id),
    }
    repo.delete_groups(session, [group.id])
    session.flush()
    _record_group(
        session,
        principal,
        grid,
        "group_delete",
        before,
        {},
        f"网格 {grid.code} 删除成员组 {before['group_name']}",
    )


# --------------------------------------------------------------------------- one member


@dataclass(frozen=True, slots=True)
class GroupChoice:
    """A group an account may be added to (the account page's select box)."""

    grid_id: int
    grid_code: str
    group_id: int
    group_name: str
    members: tuple[int, ...]


def groups_of_member(session: Session, principal: Principal, user: User) -> list[GroupChoice]:
    """The visible groups ``user`` belongs to."""
    return [c for c in _visible_groups(session, principal, user.role) if user.id in c.members]


def joinable_groups(session: Session, principal: Principal, user: User) -> list[GroupChoice]:
    """Groups of grids the principal may write whose members have ``user``'s role and that
    ``user`` is not yet in (an officer joins enforcement groups, an inspector inspector ones)."""
    out = []
    for choice in _visible_groups(session, principal, user.role):
        grid = session.get(Grid, choice.grid_id)
        writable = grid is not None and may_write_grid(session, principal, grid)
        if writable and user.id not in choice.members:
            out.append(choice)
    return out


def _visible_groups(session: Session, principal: Principal, role: Role) -> list[GroupChoice]:
    kinds = {kind for kind, member_role in MEMBER_ROLE.items() if member_role == role}
    grids = {row.id: row.code for row in repo.choices(session, principal) if row.kind in kinds}
    groups = repo.groups_with_members(session, grids)
    return [
        GroupChoice(
            grid_id=gid,
            grid_code=grids[gid],
            group_id=g.id,
            group_name=g.name,
            members=tuple(u.id for u in ms),
        )
        for gid, rows in groups.items()
        for g, ms in rows
    ]


def add_member(
    session: Session, principal: Principal, grid_id: int, group_id: int, user_id: int
) -> GridGroup:
    """Add one account to a group: the group is written whole through ``update_group``, so
    the size rule (inspector groups exactly 2, enforcement at least 2) and the member rules
    apply and the change goes on the grid's history."""
    group = repo.group_of(session, grid_id, group_id)
    if group is None:
        raise NotFound("users.grid.unknown_group")
    ids = [*repo.member_ids(session, group.id), user_id]
    return update_group(session, principal, grid_id, group_id, GroupUpdate(member_ids=ids))
