"""Patrol queries: the groups to plan, their sites with what ranks them, plans, stops and
the visits coverage counts. Every read for a caller goes through ``plan_clause``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ColumnElement, delete, func, or_, select
from sqlalchemy.orm import Session

from dustgrid.alerts.models import Alert, AlertState
from dustgrid.cases.models import Case, open_clause
from dustgrid.grids.models import Grid, GridGroup, GridGroupMember
from dustgrid.grids.repository import grid_clause
from dustgrid.identity.models import User
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Role
from dustgrid.inspections.models import Inspection, InspectionResult
from dustgrid.org.models import District
from dustgrid.patrols.models import PatrolPlan, PatrolStop
from dustgrid.sites.gridding import GridKind
from dustgrid.sites.models import Site, Stage

MEMBER_ROLES = frozenset({Role.officer, Role.inspector})


def plan_clause(p: Principal) -> ColumnElement[bool]:
    """Plans ``p`` may see: a grid member their own groups'; others the grids in scope."""
    if p.role in MEMBER_ROLES:
        mine = select(GridGroupMember.group_id).where(GridGroupMember.user_id == p.user_id)
        return PatrolPlan.group_id.in_(mine)
    return PatrolPlan.grid_id.in_(select(Grid.id).where(grid_clause(p)))


@dataclass(frozen=True, slots=True)
class GroupRow:
    grid_id: int
    grid_code: str
    grid_name: str
    grid_kind: str
    district_id: int
    group_id: int
    group_name: str


@dataclass(frozen=True, slots=True)
class MemberRow:
    user_id: int
    username: str
    display_name: str


@dataclass(frozen=True, slots=True)
class SiteRow:
    site_id: int
    name: str
    lat: float
    lon: float
    grade: str


@dataclass(frozen=True, slots=True)
class VisitRow:
    site_id: int
    inspector_id: int
    group_id: int | None
    mode: str
    submitted_at: datetime


def groups(session: Session, grid_code: str | None = None) -> list[GroupRow]:
    """Every grid group (of one grid when ``grid_code``), by grid code and group id."""
    stmt = (
        select(
            Grid.id, Grid.code, Grid.name, Grid.kind, Grid.district_id, GridGroup.id, GridGroup.name
        )
        .join(GridGroup, GridGroup.grid_id == Grid.id)
        .order_by(Grid.code, GridGroup.id)
    )
    if grid_code is not None:
        stmt = stmt.where(Grid.code == grid_code)
    return [GroupRow(r[0], r[1], r[2], str(r[3]), r[4], r[5], r[6]) for r in session.execute(stmt)]


def groups_without_plan(session: Session, period_starts: dict[str, date]) -> list[GroupRow]:
    """Groups with no plan starting on their kind's period start (``{kind: start}``)."""
    have = {
        (str(kind), gid)
        for kind, gid in session.execute(
            select(Grid.kind, PatrolPlan.group_id)
            .join(Grid, Grid.id == PatrolPlan.grid_id)
            .where(PatrolPlan.period_start.in_(set(period_starts.values())))
            .where(
                or_(
                    *(
                        (Grid.kind == kind) & (PatrolPlan.period_start == start)
                        for kind, start in period_starts.items()
                    )
                )
            )
        )
    }
    return [g for g in groups(session) if (g.grid_kind, g.group_id) not in have]


def grid_exists(session: Session, code: str) -> bool:
    return session.scalar(select(Grid.id).where(Grid.code == code)) is not None


def members(session: Session, group_ids: Iterable[int]) -> dict[int, list[MemberRow]]:
    ids = list(set(group_ids))
    out: dict[int, list[MemberRow]] = defaultdict(list)
    if not ids:
        return out
    stmt = (
        select(GridGroupMember.group_id, User.id, User.username, User.display_name)
        .join(User, User.id == GridGroupMember.user_id)
        .where(GridGroupMember.group_id.in_(ids))
        .order_by(GridGroupMember.group_id, User.id)
    )
    for gid, uid, username, display in session.execute(stmt):
        out[gid].append(MemberRow(uid, username, display))
    return out


def active_sites(session: Session, grid_id: int, kind: str) -> list[SiteRow]:
    """Sites of the grid still to patrol: not retired, not completed (竣工)."""
    column = Site.enforcement_grid_id if kind == GridKind.enforcement else Site.inspector_grid_id
    stmt = (
        select(Site.id, Site.name, Site.lat, Site.lon, Site.grade)
        .where(column == grid_id, Site.retired_at.is_(None), Site.stage != Stage.completed)
        .order_by(Site.id)
    )
    return [SiteRow(r[0], r[1], r[2], r[3], str(r[4])) for r in session.execute(stmt)]


def site_names(session: Session, site_ids: Iterable[int]) -> dict[int, tuple[str, float, float]]:
    ids = list(set(site_ids))
    if not ids:
        return {}
    stmt = select(Site.id, Site.name, Site.lat, Site.lon).where(Site.id.in_(ids))
    return {r[0]: (r[1], r[2], r[3]) for r in session.execute(stmt)}


def open_case_counts(session: Session, site_ids: Sequence[int]) -> dict[int, int]:
    if not site_ids:
        return {}
    stmt = (
        select(Case.site_id, func.count())
        .where(Case.site_id.in_(site_ids), open_clause())
        .group_by(Case.site_id)
    )
    return {int(r[0] or 0): int(r[1]) for r in session.execute(stmt)}


def recheck_dues(session: Session, site_ids: Sequence[int]) -> dict[int, datetime]:
    """The earliest running recheck deadline (整改复查) of each site's open cases."""
    if not site_ids:
        return {}
    stmt = (
        select(Case.site_id, func.min(Case.due_at))
        .where(
            Case.site_id.in_(site_ids),
            open_clause(),
            Case.clock == "recheck",
            Case.due_at.is_not(None),
        )
        .group_by(Case.site_id)
    )
    return {int(r[0] or 0): r[1] for r in session.execute(stmt) if r[1] is not None}


def open_alert_counts(session: Session, site_ids: Sequence[int]) -> dict[int, int]:
    if not site_ids:
        return {}
    stmt = (
        select(Alert.site_id, func.count())
        .where(Alert.site_id.in_(site_ids), Alert.state != AlertState.cleared)
        .group_by(Alert.site_id)
    )
    return {int(r[0] or 0): int(r[1]) for r in session.execute(stmt)}


def plan_for(session: Session, group_id: int, period_start: date) -> PatrolPlan | None:
    return session.scalar(
        select(PatrolPlan).where(
            PatrolPlan.group_id == group_id, PatrolPlan.period_start == period_start
        )
    )


def add(session: Session, row: PatrolPlan | PatrolStop) -> None:
    session.add(row)


def add_stops(session: Session, stops: Sequence[PatrolStop]) -> None:
    session.add_all(stops)
    session.flush()


def stops_of(session: Session, plan_ids: Sequence[int]) -> list[PatrolStop]:
    if not plan_ids:
        return []
    stmt = (
        select(PatrolStop)
        .where(PatrolStop.plan_id.in_(plan_ids))
        .order_by(PatrolStop.plan_id, PatrolStop.day, PatrolStop.member_user_id, PatrolStop.seq)
    )
    return list(session.scalars(stmt))


def delete_stops(session: Session, stop_ids: Sequence[int]) -> None:
    if stop_ids:
        session.execute(delete(PatrolStop).where(PatrolStop.id.in_(stop_ids)))


def plans_overlapping(
    session: Session,
    first: date,
    last: date,
    *,
    principal: Principal | None = None,
    grid_code: str | None = None,
) -> list[tuple[PatrolPlan, GroupRow]]:
    """Plans whose period meets ``first``..``last``, with their grid and group."""
    stmt = (
        select(PatrolPlan, Grid.code, Grid.name, Grid.kind, Grid.district_id, GridGroup.name)
        .join(Grid, Grid.id == PatrolPlan.grid_id)
        .join(GridGroup, GridGroup.id == PatrolPlan.group_id)
        .where(PatrolPlan.period_start <= last, PatrolPlan.period_end >= first)
        .order_by(Grid.code, PatrolPlan.group_id)
    )
    if principal is not None:
        stmt = stmt.where(plan_clause(principal))
    if grid_code is not None:
        stmt = stmt.where(Grid.code == grid_code)
    out = []
    for plan, code, name, kind, district_id, group_name in session.execute(stmt):
        row = GroupRow(plan.grid_id, code, name, str(kind), district_id, plan.group_id, group_name)
        out.append((plan, row))
    return out


def visits(
    session: Session, site_ids: Sequence[int], start: datetime, end: datetime
) -> list[VisitRow]:
    """Submitted visits (not drafts) at these sites with ``start <= submitted_at < end``."""
    if not site_ids:
        return []
    stmt = select(
        Inspection.site_id,
        Inspection.inspector_id,
        Inspection.group_id,
        Inspection.mode,
        Inspection.submitted_at,
    ).where(
        Inspection.site_id.in_(site_ids),
        Inspection.result != InspectionResult.draft,
        Inspection.submitted_at.is_not(None),
        Inspection.submitted_at >= start,
        Inspection.submitted_at < end,
    )
    return [
        VisitRow(r[0], r[1], r[2], str(r[3]), r[4])
        for r in session.execute(stmt)
        if r[4] is not None
    ]


def district_names(session: Session, district_ids: Iterable[int]) -> dict[int, str]:
    ids = list(set(district_ids))
    if not ids:
        return {}
    stmt = select(District.id, District.name).where(District.id.in_(ids))
    return {r[0]: r[1] for r in session.execute(stmt)}
