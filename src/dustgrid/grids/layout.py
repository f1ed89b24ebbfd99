"""Which sites belong to which grid: moving sites, re-forming a district by proximity, and
the coverage check. Never commits.

Every site keeps exactly one grid of each kind, so moving a site replaces that kind's grid;
each move is audited on the site itself (``{"enforcement_grid_id": [old, new]}``) so it
shows in the site's history, and on the grid.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from dustgrid.audit import service as audit
from dustgrid.errors import Forbidden, Invalid
from dustgrid.grids import repository as repo
from dustgrid.grids.models import Grid, GridKind
from dustgrid.grids.partition import Partition, partition_district, partition_lanes
from dustgrid.grids.policy import DEFAULT_GRID_POLICY, GridPolicy
from dustgrid.grids.schemas import AssignResult, CoverageRow, PartitionResult, ProposedGrid
from dustgrid.grids.service import (
    CODE_PREFIX,
    KIND_ZH,
    default_unit,
    may_write_lane,
    own_lane,
    require_grid_write,
    snapshot,
    writable_grid,
)
from dustgrid.i18n import DEFAULT_LOCALE, Msg
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


def _check_assignable(session: Session, grid: Grid, sites: Sequence[Site]) -> None:
    """Same district, still active, and (enforcement) supervised by the grid's lane."""
    elsewhere = [s.project_code for s in sites if s.district_id != grid.district_id]
    if elsewhere:
        raise Invalid("grids.error.sites_outside_grid_s_district", elsewhere=", ".join(elsewhere))
    retired = [s.project_code for s in sites if s.retired_at is not None]
    if retired:
        raise Invalid("grids.error.retired_sites", retired=", ".join(retired))
    lane = repo.grid_lane(session, grid)
    lanes = repo.site_lanes(session, sites, grid.kind)
    other = [s.project_code for s in sites if lanes[s.id] != lane]
    if other:
        raise Invalid(
            "grids.error.sites_supervised_by_another_unit_cannot",
            other=", ".join(other),
            details={"site_ids": [s.id for s in sites if lanes[s.id] != lane]},
        )


def assign_sites(
    session: Session, principal: Principal, *, grid_id: int, site_ids: Sequence[int]
) -> AssignResult:
    """Move visible active sites of the grid's district into the grid (all or nothing)."""
    grid = writable_grid(session, principal, grid_id)
    wanted = sorted(set(site_ids))
    sites = repo.sites_for_assign(session, principal, wanted)
    missing = sorted(set(wanted) - {s.id for s in sites})
    if missing:
        raise Invalid("grids.error.sites_not_found", missing=missing)
    _check_assignable(session, grid, sites)
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


def _new_grid(
    session: Session, district: District, kind: GridKind, lane: int | None, taken: set[str]
) -> Grid:
    """A new grid of the district: owned by the district's default unit, or (a city
    station's lane) by the station, coded ``E-<district>-C01`` and named for its works."""
    prefix = f"{CODE_PREFIX[kind]}-{district.code}-" + ("C" if lane is not None else "")
    label = f"{district.name}{'地铁市政' if lane is not None else ''}{KIND_ZH[kind]}"
    n = 1
    while True:
        code = f"{prefix}{n:02d}"
        if code not in taken and repo.by_code(session, code) is None:
            break
        n += 1
    taken.add(code)
    grid = Grid(
        code=code,
        name=f"{label}{n:02d}",
        kind=kind,
        district_id=district.id,
        unit_id=lane if lane is not None else default_unit(session, district.id, kind),
    )
    session.add(grid)
    session.flush()
    return grid


@dataclass
class _LanePlan:
    """One lane's proposal: the partition, the grid each group maps onto (None = new)."""

    lane: int | None
    part: Partition[int]
    existing: list[Grid]
    targets: list[Grid | None]


def _writable_lanes(
    session: Session,
    principal: Principal,
    district_id: int,
    kind: GridKind,
    sites: list[Site],
    policy: GridPolicy,
) -> list[_LanePlan]:
    """Partition the district's sites per lane; keep the lanes the principal manages."""
    lanes = repo.site_lanes(session, sites, kind)
    points = [(s.id, s.lat, s.lon, lanes[s.id]) for s in sites]
    parts = partition_lanes(points, kind.value, policy)
    own = own_lane(session, principal)
    if kind == GridKind.enforcement and own is not None and own not in dict(parts):
        parts.append((own, partition_district([], kind.value, policy)))
    plans: list[_LanePlan] = []
    attr = repo.site_column(kind).key
    current = {s.id: getattr(s, attr) for s in sites}
    for lane, part in parts:
        if not may_write_lane(principal, district_id, lane):
            continue
        existing = repo.district_grids(session, district_id, kind, lane)
        plans.append(_LanePlan(lane, part, existing, _match(part.groups, current, existing)))
    if not plans:
        raise Forbidden("grids.error.you_may_only_re_form_own")
    return plans


def _apply_plan(
    session: Session, principal: Principal, district: District, kind: GridKind,
    plan: _LanePlan, by_site: dict[int, Site], taken: set[str],
) -> tuple[int, list[int]]:  # fmt: skip
    """Create the missing grids of one lane and move its sites; (moved, created ids)."""
    moved, created = 0, []
    for i, target in enumerate(plan.targets):
        if target is None:
            target = plan.targets[i] = _new_grid(session, district, kind, plan.lane, taken)
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
        for sid in plan.part.groups[i]:
            moved += _move(session, principal, by_site[sid], target, "网格重新划分")
    return moved, created


def _proposals(plans: list[_LanePlan], current: dict[int, int | None]) -> list[ProposedGrid]:
    out: list[ProposedGrid] = []
    for plan in plans:
        for members, st, t in zip(plan.part.groups, plan.part.stats, plan.targets, strict=True):
            out.append(
                ProposedGrid(
                    index=len(out),
                    size=len(members),
                    site_ids=list(members),
                    centroid_lat=st.centroid_lat,
                    centroid_lon=st.centroid_lon,
                    max_radius_m=round(st.max_radius_m, 1),
                    mean_radius_m=round(st.mean_radius_m, 1),
                    grid_id=t.id if t else None,
                    grid_code=t.code if t else None,
                    moves=len(members) if t is None else sum(current[s] != t.id for s in members),
                    unit_id=t.unit_id if t else plan.lane,
                )
            )
    return out


_STATUS_RANK = {"infeasible": 0, "undersized": 1, "ok": 2, "empty": 3}


def _said(messages: Sequence[Msg], principal: Principal) -> str:
    """The partition's messages in the reader's language, one sentence each."""
    sep = "；" if principal.locale == DEFAULT_LOCALE else "; "
    return sep.join(m.render(principal.locale) for m in messages)


def _status(plans: list[_LanePlan]) -> str:
    """The worst status of the lanes (an empty lane beside others does not count)."""
    statuses = sorted((p.part.status.value for p in plans), key=_STATUS_RANK.__getitem__)
    return statuses[0]


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

    Works on every active site of the district that the caller's unit grids: inspector
    grids cover the whole district; enforcement grids are drawn per lane (the district's
    own sites; the metro and municipal works of the city safety station, in grids the
    station owns), and the caller re-forms only the lanes it manages (a city admin all).
    Each site ends with exactly one grid of ``kind``.
    """
    require_grid_write(principal)
    district = session.get(District, district_id)
    if district is None:
        raise Invalid("org.error.district_not_found_2", district_id=district_id)
    sites = repo.district_active_sites(session, district_id)
    plans = _writable_lanes(session, principal, district_id, kind, sites, policy)
    attr = repo.site_column(kind).key
    current = {s.id: getattr(s, attr) for s in sites}
    created: list[int] = []
    moved = 0
    if apply:
        taken: set[str] = set()
        by_site = {s.id: s for s in sites}
        for plan in plans:
            n, new = _apply_plan(session, principal, district, kind, plan, by_site, taken)
            moved, created = moved + n, created + new
        session.flush()
    proposals = _proposals(plans, current)
    parts = [p.part for p in plans]
    sizes = [n for p in parts for n in p.sizes]
    used = {t.id for p in plans for t in p.targets if t is not None}
    emptied = [g.id for p in plans for g in p.existing if g.id not in used] if apply else []
    result = PartitionResult(
        district_id=district_id,
        kind=kind,
        policy_version=policy.version,
        min_size=parts[0].min_size,
        max_size=parts[0].max_size,
        status=_status(plans),
        message=_said([p.message for p in parts if p.groups] or [parts[0].message], principal),
        within_bounds=all(p.within_bounds for p in parts),
        site_count=sum(len(g) for p in parts for g in p.groups),
        sizes=sizes,
        rounds=max(p.rounds for p in parts),
        notes=[n for p in parts for n in p.notes],
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
                "sizes": [None, sizes],
                "policy": [None, policy.version],
                "moved_sites": [None, moved],
            },
            summary=f"{district.name}{KIND_ZH[kind]}重新划分：{len(sizes)} 个网格",
        )
    return result
