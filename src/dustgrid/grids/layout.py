"""Which sites belong to which grid: moving sites, re-forming a district by proximity, and
the coverage check. Never commits.

Every site keeps exactly one grid of each kind, so moving a site replaces that kind's grid;
each move is audited on the site itself (``{"enforcement_grid_id": [old, new]}``) so it
shows in the site's history, and on the grid.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from sqlalchemy.orm import Session

from dustgrid.audit import service as audit
from dustgrid.errors import Invalid
from dustgrid.grids import repository as repo
from dustgrid.grids.models import Grid, GridKind
from dustgrid.grids.partition import partition_district
from dustgrid.grids.policy import DEFAULT_GRID_POLICY, GridPolicy
from dustgrid.grids.schemas import AssignResult, CoverageRow, PartitionResult, ProposedGrid
from dustgrid.grids.service import (
    CODE_PREFIX,
    KIND_ZH,
    default_unit,
    require_district,
    require_grid_write,
    snapshot,
    writable_grid,
)
from dustgrid.identity.principal import Principal
from dustgrid.org.models import District
from dustgrid.sites.models import Site


def coverage(session: Session, principal: Principal) -> list[CoverageRow]:
    return [
        CoverageRow(
            district_id=d_id,
            district_name=name,
            active_sites=int(n),
            missing_enforcement=int(me),
            missing_inspector=int(mi),
        )
        for d_id, name, n, me, mi in repo.coverage(session, principal)
    ]


# --------------------------------------------------------------------------- sites


def _move(session: Session, principal: Principal, site: Site, grid: Grid, why: str) -> bool:
    """Put ``site`` in ``grid`` (replacing its grid of that kind); audit on the site."""
    attr = repo.site_column(grid.kind).key
    old = getattr(site, attr)
    if old == grid.id:
        return False
    setattr(site, attr, grid.id)
    audit.record(
        session,
        actor=principal,
        action="assign_grid",
        entity_type="site",
        entity_id=site.id,
        changes=audit.diff({attr: old}, {attr: grid.id}),
        summary=f"{why}：{KIND_ZH[grid.kind]}调整为 {grid.code}",
    )
    return True


def assign_sites(
    session: Session, principal: Principal, *, grid_id: int, site_ids: Sequence[int]
) -> AssignResult:
    """Move visible active sites of the grid's district into the grid (all or nothing)."""
    grid = writable_grid(session, principal, grid_id)
    wanted = sorted(set(site_ids))
    sites = repo.sites_for_assign(session, principal, wanted)
    missing = sorted(set(wanted) - {s.id for s in sites})
    if missing:
        raise Invalid(f"工地不存在或无权操作：{missing} / sites not found: {missing}")
    elsewhere = [s.project_code for s in sites if s.district_id != grid.district_id]
    if elsewhere:
        raise Invalid(
            f"工地不在网格所属区：{', '.join(elsewhere)} / "
            f"sites outside the grid's district: {', '.join(elsewhere)}"
        )
    retired = [s.project_code for s in sites if s.retired_at is not None]
    if retired:
        raise Invalid(f"工地已退出台账：{', '.join(retired)} / retired sites: {', '.join(retired)}")
    changed = [s.id for s in sites if _move(session, principal, s, grid, "网格调整")]
    if changed:
        audit.record(
            session,
            actor=principal,
            action="assign",
            entity_type="grid",
            entity_id=grid.id,
            changes={"site_ids": [None, changed]},
            summary=f"网格 {grid.code} 调入工地 {len(changed)} 个",
        )
    session.flush()
    unchanged = [s.id for s in sites if s.id not in set(changed)]
    return AssignResult(grid_id=grid.id, kind=grid.kind, changed=changed, unchanged=unchanged)


# --------------------------------------------------------------------------- partition


def _match(
    groups: list[list[int]], current: dict[int, int | None], existing: list[Grid]
) -> list[Grid | None]:
    """Map proposed groups onto existing grids by largest overlap (so ids, teams and most
    sites stay put), then hand spare grids to unmatched groups in id order; None = new."""
    by_id = {g.id: g for g in existing}
    pairs: list[tuple[int, int, int]] = []
    for i, members in enumerate(groups):
        counts = Counter(current[s] for s in members if current[s] in by_id)
        pairs += [(-n, i, gid) for gid, n in counts.items() if gid is not None]
    out: list[Grid | None] = [None] * len(groups)
    used: set[int] = set()
    for _n, i, gid in sorted(pairs):
        if out[i] is None and gid not in used:
            out[i] = by_id[gid]
            used.add(gid)
    spare = [g for g in existing if g.id not in used]
    for i in range(len(groups)):
        if out[i] is None and spare:
            out[i] = spare.pop(0)
    return out


def _new_grid(session: Session, district: District, kind: GridKind, taken: set[str]) -> Grid:
    n = 1
    while True:
        code = f"{CODE_PREFIX[kind]}-{district.code}-{n:02d}"
        if code not in taken and repo.by_code(session, code) is None:
            break
        n += 1
    taken.add(code)
    grid = Grid(
        code=code,
        name=f"{district.name}{KIND_ZH[kind]}{n:02d}",
        kind=kind,
        district_id=district.id,
        unit_id=default_unit(session, district.id, kind),
    )
    session.add(grid)
    session.flush()
    return grid


def partition(
    session: Session,
    principal: Principal,
    *,
    district_id: int,
    kind: GridKind,
    apply: bool = False,
    policy: GridPolicy = DEFAULT_GRID_POLICY,
) -> PartitionResult:
    """Re-form one district's grids of one kind by proximity (dry run unless ``apply``).

    Works on every active site of the district, whoever supervises it: the layout is the
    district's, and each site must end with exactly one grid of ``kind``.
    """
    require_grid_write(principal)
    district = session.get(District, district_id)
    if district is None:
        raise Invalid(f"所属区不存在：{district_id} / district not found")
    require_district(principal, district_id)
    sites = repo.district_active_sites(session, district_id)
    part = partition_district([(s.id, s.lat, s.lon) for s in sites], kind.value, policy)
    attr = repo.site_column(kind).key
    current = {s.id: getattr(s, attr) for s in sites}
    existing = repo.district_grids(session, district_id, kind)
    targets = _match(part.groups, current, existing)
    created: list[int] = []
    moved = 0
    if apply:
        taken: set[str] = set()
        by_site = {s.id: s for s in sites}
        for i, target in enumerate(targets):
            if target is None:
                target = targets[i] = _new_grid(session, district, kind, taken)
                created.append(target.id)
                audit.record(
                    session,
                    actor=principal,
                    action="create",
                    entity_type="grid",
                    entity_id=target.id,
                    changes=audit.diff({}, snapshot(target)),
                    summary=f"网格划分新增网格 {target.code}",
                )
            for sid in part.groups[i]:
                moved += _move(session, principal, by_site[sid], target, "网格重新划分")
        session.flush()
    proposals = [
        ProposedGrid(
            index=i,
            size=len(members),
            site_ids=list(members),
            centroid_lat=st.centroid_lat,
            centroid_lon=st.centroid_lon,
            max_radius_m=round(st.max_radius_m, 1),
            mean_radius_m=round(st.mean_radius_m, 1),
            grid_id=t.id if t else None,
            grid_code=t.code if t else None,
            moves=len(members) if t is None else sum(1 for s in members if current[s] != t.id),
        )
        for i, (members, st, t) in enumerate(zip(part.groups, part.stats, targets, strict=True))
    ]
    used = {t.id for t in targets if t is not None}
    emptied = [g.id for g in existing if g.id not in used] if apply else []
    result = PartitionResult(
        district_id=district_id,
        kind=kind,
        policy_version=policy.version,
        min_size=part.min_size,
        max_size=part.max_size,
        status=part.status.value,
        message=part.message,
        within_bounds=part.within_bounds,
        site_count=len(sites),
        sizes=part.sizes,
        rounds=part.rounds,
        notes=list(part.notes),
        groups=proposals,
        applied=apply,
        moved_sites=moved if apply else sum(p.moves for p in proposals),
        created_grid_ids=created,
        emptied_grid_ids=emptied,
    )
    if apply:
        audit.record(
            session,
            actor=principal,
            action="partition",
            entity_type="district",
            entity_id=district_id,
            changes={
                "kind": [None, kind.value],
                "sizes": [None, part.sizes],
                "policy": [None, policy.version],
                "moved_sites": [None, moved],
            },
            summary=f"{district.name}{KIND_ZH[kind]}重新划分：{len(part.groups)} 个网格",
        )
    return result
