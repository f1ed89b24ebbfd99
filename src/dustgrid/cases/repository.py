"""Case queries, always through the caller's scope (``case_clause``).

The inbox tabs and the overdue board are written so that each one is a range scan of one
of the indexes declared on ``Case`` (see ``models.py``); the scope clause then filters the
few rows that range returns.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Select,
    String,
    and_,
    case,
    cast,
    false,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.orm import Session

from dustgrid.auth.models import User
from dustgrid.cases.models import OPEN_STATES, Case, CaseAttachment, CaseEvent
from dustgrid.cases.policy import Level
from dustgrid.cases.states import CaseSource, CaseState
from dustgrid.cases.tabs import TABS_BY_ROLE, Tab
from dustgrid.grids.models import Grid, GridGroup, GridGroupMember
from dustgrid.i18n import DEFAULT_LOCALE, translate
from dustgrid.identity.principal import Principal
from dustgrid.identity.reach import Reach
from dustgrid.identity.roles import Role
from dustgrid.notifications.models import Notification
from dustgrid.org.models import OrgUnit
from dustgrid.sites.models import Site
from dustgrid.sites.repository import site_clause

# Cases raised from the alerts of a provider's own devices (alerts are above cases).
CASES_OF_PROVIDER_ALERTS = Reach(
    "cases raised from a provider's device alerts", provided_by="dustgrid.alerts.repository"
)


def provider_case_clause(p: Principal) -> ColumnElement[bool]:
    """Cases raised from the alerts of a provider's own devices (exceedance, offline,
    stale key, data quality): a provider sees its devices' cases, not every case of the
    sites where it has a device (those are the site's and the grid's business)."""
    if p.enterprise_id is None:
        return false()
    return CASES_OF_PROVIDER_ALERTS(p)


def case_clause(p: Principal) -> ColumnElement[bool]:
    """Cases the principal may see: those of visible sites; L1 all; an L2 unit also those
    dispatched to it; a device provider only its devices' cases; everyone the cases they
    reported or were named responsible for."""
    if p.is_city_wide:
        return true()
    if p.role == Role.provider:
        return or_(
            provider_case_clause(p),
            Case.reporter_id == p.user_id,
            Case.responsible_user_id == p.user_id,
        )
    parts: list[ColumnElement[bool]] = [
        Case.site_id.in_(select(Site.id).where(site_clause(p))),
        Case.reporter_id == p.user_id,
        Case.responsible_user_id == p.user_id,
    ]
    if p.role in (Role.district_admin, Role.viewer) and p.unit_level == 2 and p.org_unit_id:
        parts.append(Case.assigned_unit_id == p.org_unit_id)
    return or_(*parts)


S = CaseState
HANDLING = (S.accepted, S.handling, S.penalizing)
NOT_CLOSED = tuple(OPEN_STATES | {S.suspended})


def _l2_unit(p: Principal) -> int | None:
    """The L2 unit whose dispatched cases ``case_clause`` lets ``p`` see, if any."""
    if p.role in (Role.district_admin, Role.viewer) and p.unit_level == 2 and p.org_unit_id:
        return p.org_unit_id
    return None


def _my_sites(p: Principal) -> Select[Any]:
    return select(Site.id).where(site_clause(p))


def narrow(p: Principal, *conds: ColumnElement[bool]) -> ColumnElement[bool]:
    """``conds`` limited to the caller's own cases, a subset of ``case_clause(p)`` that an
    index can answer: the whole city for L1, the cases dispatched to an L2 unit, else the
    cases of the sites in one's grids (or of one's enterprise).

    That covers the cases an L3/L4 person is responsible for, because only a person who
    sees the case's site can be named (``workflow._responsible``). Leaving out the scope's
    ``OR`` matters: across different columns it makes PostgreSQL filter every candidate.
    """
    base = and_(*conds)
    if p.is_city_wide:
        return base
    unit = _l2_unit(p)
    if unit is not None:
        return and_(base, Case.assigned_unit_id == unit)
    if p.role == Role.provider:
        return and_(base, provider_case_clause(p))
    return and_(base, Case.site_id.in_(_my_sites(p)))


def _to_handle_clause(p: Principal) -> ColumnElement[bool]:
    """The "to handle" tab: station staff and officers see their scope's handling cases,
    everyone else only the cases they are responsible for (inside their scope by design)."""
    state = Case.state.in_(HANDLING)
    if p.role in (Role.station_staff, Role.officer):
        return narrow(p, state)
    return and_(state, Case.responsible_user_id == p.user_id)


def tab_clause(p: Principal, tab: Tab, now: datetime) -> tuple[ColumnElement[bool], bool]:
    """The tab's WHERE clause, and whether it already lies inside ``case_clause(p)`` (then
    the caller need not add the scope, whose ``OR`` would defeat the indexes)."""
    late = and_(Case.state.in_(tuple(OPEN_STATES)), Case.due_at < now)
    match tab:
        case Tab.to_dispatch:
            return Case.state.in_((S.reported, S.returned)), False
        case Tab.to_accept:
            return narrow(p, Case.state == S.dispatched), True
        case Tab.to_handle:
            return _to_handle_clause(p), True
        case Tab.to_recheck | Tab.to_rectify:
            return narrow(p, Case.state == S.rectifying), True
        case Tab.to_verify:
            return narrow(p, Case.state == S.verifying), True
        case Tab.overdue:
            return narrow(p, late), True
        case Tab.look_back:
            return narrow(p, Case.state == S.closed, Case.look_back_due_at.is_not(None)), True
        case Tab.reported:
            return Case.reporter_id == p.user_id, True
        case Tab.open:
            return narrow(p, Case.state.in_(NOT_CLOSED)), True
        case _:
            return and_(True), False


def filtered(
    p: Principal,
    *,
    tab: Tab,
    now: datetime,
    state: CaseState | None = None,
    site_id: int | None = None,
    source: CaseSource | None = None,
    light: str | None = None,
    district_id: int | None = None,
    category: str | None = None,
    opened_since: datetime | None = None,
    opened_before: datetime | None = None,
) -> Select[Any]:
    clause, within_scope = tab_clause(p, tab, now)
    stmt = select(Case).where(clause)
    if not within_scope:
        stmt = stmt.where(case_clause(p))
    if state is not None:
        stmt = stmt.where(Case.state == state)
    if site_id is not None:
        stmt = stmt.where(Case.site_id == site_id)
    if source is not None:
        stmt = stmt.where(Case.source == source)
    if district_id is not None:
        stmt = stmt.where(Case.district_id == district_id)
    if category:
        stmt = stmt.where(Case.category == category)
    if opened_since is not None:
        stmt = stmt.where(Case.opened_at >= opened_since)
    if opened_before is not None:
        stmt = stmt.where(Case.opened_at < opened_before)
    return _light(stmt, light, now)


def _light(stmt: Select[Any], light: str | None, now: datetime) -> Select[Any]:
    """Cases of one traffic light: red overdue, yellow warned, green on time."""
    if light == "red":
        stmt = stmt.where(Case.due_at < now)
    elif light == "yellow":
        stmt = stmt.where(Case.due_at >= now, Case.warn_at <= now)
    elif light == "green":
        stmt = stmt.where(Case.warn_at > now)
    return stmt


def page(
    session: Session, stmt: Select[Any], *, offset: int, limit: int, order_due: bool
) -> tuple[list[Case], int]:
    total = int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    if order_due:
        stmt = stmt.order_by(Case.due_at.asc().nulls_last(), Case.id)
    else:
        stmt = stmt.order_by(Case.id.desc())
    return list(session.scalars(stmt.offset(offset).limit(limit))), total


# The most the phone's "Today" page lists of each kind (a page size, not a rule).
FIELD_LIST_LIMIT = 50


def rechecks_due(session: Session, p: Principal, *, now: datetime, until: datetime) -> list[Case]:
    """Rectification cases in the caller's grids whose recheck falls due by ``until``: the
    contractor's rectification deadline has come, or the recheck's own clock runs out."""
    clause, _ = tab_clause(p, Tab.to_recheck, now)
    due = or_(Case.rectify_due_at <= until, Case.due_at <= until)
    stmt = select(Case).where(clause, due).order_by(Case.due_at.asc().nulls_last(), Case.id)
    return list(session.scalars(stmt.limit(FIELD_LIST_LIMIT)))


def open_cases_at(session: Session, p: Principal, site_ids: Collection[int]) -> list[Case]:
    """Cases not yet closed at these sites, in the caller's scope, the most urgent first."""
    if not site_ids:
        return []
    clause = narrow(p, Case.state.in_(NOT_CLOSED), Case.site_id.in_(list(site_ids)))
    stmt = select(Case).where(clause).order_by(Case.due_at.asc().nulls_last(), Case.id)
    return list(session.scalars(stmt.limit(FIELD_LIST_LIMIT)))


def get_visible(
    session: Session, p: Principal | None, case_id: int, *, lock: bool = False
) -> Case | None:
    stmt = select(Case).where(Case.id == case_id)
    if p is not None:
        stmt = stmt.where(case_clause(p))
    if lock:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def reported_site(session: Session, actor: Principal | None, site_id: int) -> Site | None:
    """The site a report names, if its reporter may see it (the system, no actor, sees
    every site)."""
    stmt = select(Site).where(Site.id == site_id)
    if actor is not None:
        stmt = stmt.where(site_clause(actor))
    return session.scalar(stmt)


def by_external_ref(session: Session, source: CaseSource, ref: str) -> Case | None:
    stmt = select(Case).where(Case.source == source, Case.external_ref == ref).limit(1)
    return session.scalar(stmt)


def open_duplicate(session: Session, key: str, *, since: datetime | None) -> Case | None:
    stmt = select(Case).where(Case.dedup_key == key, Case.state.in_(NOT_CLOSED))
    if since is not None:
        stmt = stmt.where(Case.opened_at >= since)
    return session.scalar(stmt.order_by(Case.opened_at.desc()).limit(1).with_for_update())


def nearby_open(
    session: Session,
    sources: Collection[CaseSource],
    lat: float,
    lon: float,
    *,
    radius_m: float,
    since: datetime,
) -> list[Case]:
    """Open cases of ``sources`` in a box around the point (the caller measures distance)."""
    dlat = radius_m / 111_000
    dlon = radius_m / (111_000 * max(0.1, abs(math.cos(math.radians(lat)))))
    stmt = select(Case).where(
        Case.source.in_(sources),
        Case.state.in_(NOT_CLOSED),
        Case.opened_at >= since,
        Case.lat.between(lat - dlat, lat + dlat),
        Case.lon.between(lon - dlon, lon + dlon),
    )
    return list(session.scalars(stmt))


def map_rows(session: Session, p: Principal, now: datetime, limit: int = 20000) -> list[Any]:
    """Open cases with a location: id, lat, lon, state, light, category, site id."""
    light = case((Case.due_at < now, "red"), (Case.warn_at <= now, "yellow"), else_="green")
    stmt = (
        select(Case.id, Case.lat, Case.lon, Case.state, light, Case.category, Case.site_id)
        .where(case_clause(p), Case.state.in_(NOT_CLOSED), Case.lat.is_not(None))
        .order_by(Case.id.desc())
        .limit(limit)
    )
    return list(session.execute(stmt))


def overdue_board(session: Session, p: Principal, now: datetime) -> list[dict[str, Any]]:
    """Per L2 unit: open cases, yellow, red (overdue) and the oldest due time overdue."""
    red = case((Case.due_at < now, 1), else_=0)
    yellow = case((and_(Case.due_at >= now, Case.warn_at <= now), 1), else_=0)
    stmt = (
        select(
            Case.assigned_unit_id,
            func.count(),
            func.sum(yellow),
            func.sum(red),
            func.min(case((Case.due_at < now, Case.due_at), else_=None)),
        )
        .where(narrow(p, Case.state.in_(tuple(OPEN_STATES))))
        .group_by(Case.assigned_unit_id)
    )
    rows = list(session.execute(stmt))
    names = {
        int(i): str(n)
        for i, n in session.execute(
            select(OrgUnit.id, OrgUnit.name).where(
                OrgUnit.id.in_([r[0] for r in rows if r[0] is not None])
            )
        )
    }
    out = [
        {
            "unit_id": unit_id,
            "unit_name": names.get(unit_id, "") if unit_id else "",
            "open": int(n or 0),
            "yellow": int(y or 0),
            "red": int(r or 0),
            "oldest_due_at": oldest,
        }
        for unit_id, n, y, r, oldest in rows
    ]
    return sorted(out, key=lambda d: (-d["red"], -d["yellow"], d["unit_name"]))


def site_cases(session: Session, p: Principal, site_id: int, limit: int = 100) -> list[Case]:
    stmt = (
        select(Case)
        .where(Case.site_id == site_id, case_clause(p))
        .order_by(Case.opened_at.desc(), Case.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def tab_counts(session: Session, p: Principal, now: datetime) -> dict[str, int]:
    out = {}
    for tab in TABS_BY_ROLE.get(p.role, (Tab.all,)):
        if tab in (Tab.all, Tab.open):
            continue
        clause, within_scope = tab_clause(p, tab, now)
        stmt = select(func.count()).where(clause)
        if not within_scope:
            stmt = stmt.where(case_clause(p))
        out[tab.value] = int(session.scalar(stmt) or 0)
    return out


def recent_window(now: datetime, window: timedelta | None) -> datetime | None:
    return now - window if window is not None else None


def names(session: Session, model: Any, ids: Sequence[int | None], attr: str) -> dict[int, str]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    col = getattr(model, attr)
    rows = session.execute(select(model.id, col).where(model.id.in_(wanted)))
    return {int(i): str(v) for i, v in rows}


def names_of_case(session: Session, case: Case) -> tuple[str | None, str | None, str | None]:
    """``(site name, unit name, responsible person's name)`` of one case in one statement
    (``names`` is one statement per table: right for a page of cases, three for one)."""
    wanted = (
        (Site.name, Site.id, case.site_id),
        (OrgUnit.name, OrgUnit.id, case.assigned_unit_id),
        (User.display_name, User.id, case.responsible_user_id),
    )
    if not any(row_id for _col, _key, row_id in wanted):
        return None, None, None
    cols = [
        select(col).where(key == row_id).scalar_subquery() if row_id else null()
        for col, key, row_id in wanted
    ]
    site, unit, person = session.execute(select(*cols)).one()
    return site, unit, person


def attachment(session: Session, case_id: int, attachment_id: int) -> CaseAttachment | None:
    """One attachment of one case (the caller has already checked the case's scope)."""
    stmt = select(CaseAttachment).where(
        CaseAttachment.id == attachment_id, CaseAttachment.case_id == case_id
    )
    return session.scalar(stmt)


def events(session: Session, case_id: int) -> list[CaseEvent]:
    """A case's timeline, oldest first."""
    stmt = select(CaseEvent).where(CaseEvent.case_id == case_id)
    return list(session.scalars(stmt.order_by(CaseEvent.at, CaseEvent.id)))


def attachments(session: Session, case_id: int) -> list[CaseAttachment]:
    """A case's attachments, in the order they were added."""
    stmt = select(CaseAttachment).where(CaseAttachment.case_id == case_id)
    return list(session.scalars(stmt.order_by(CaseAttachment.id)))


def attachment_in_use(session: Session, sha256: str) -> bool:
    """Whether any attachment row still points at the stored file of this digest."""
    stmt = select(CaseAttachment.id).where(CaseAttachment.sha256 == sha256).limit(1)
    return session.scalar(stmt) is not None


def responsible_candidates(session: Session, unit_id: int | None, site_id: int | None) -> list[Any]:
    """``(id, display_name, role, member)`` of the active people who may hold a case, by
    role and name, in one statement: the district admins of its unit, the staff of the
    station owning its site's enforcement grid, and that grid's members (``member``)."""
    parts: list[ColumnElement[bool]] = []
    member: ColumnElement[bool] = false()
    if unit_id:
        parts.append(and_(User.role == Role.district_admin, User.org_unit_id == unit_id))
    if site_id:
        grid = select(Site.enforcement_grid_id).where(Site.id == site_id).scalar_subquery()
        station = select(Grid.unit_id).where(Grid.id == grid)
        members = (
            select(GridGroupMember.user_id)
            .join(GridGroup, GridGroup.id == GridGroupMember.group_id)
            .where(GridGroup.grid_id == grid)
        )
        member = User.id.in_(members)
        parts += [and_(User.role == Role.station_staff, User.org_unit_id.in_(station)), member]
    if not parts:
        return []
    stmt = (
        select(User.id, User.display_name, User.role, member.label("member"))
        .where(User.is_active.is_(True), or_(*parts))
        .order_by(User.role, User.display_name)
    )
    return list(session.execute(stmt))


# --------------------------------------------------------------------------- recipients


def _active(stmt: Any) -> Any:
    return stmt.where(User.is_active.is_(True))


def l1_users(session: Session) -> set[int]:
    return set(session.scalars(_active(select(User.id).where(User.role == Role.city_admin))))


def l2_users(session: Session, unit_ids: Iterable[int | None]) -> set[int]:
    units = {u for u in unit_ids if u}
    if not units:
        return set()
    stmt = select(User.id).where(User.role == Role.district_admin, User.org_unit_id.in_(units))
    return set(session.scalars(_active(stmt)))


def l3_users(session: Session, case: Case, site: Site | None) -> set[int]:
    """Staff of the station owning the site's enforcement grid (else under the L2 unit)."""
    if site is not None and site.enforcement_grid_id:
        units = select(Grid.unit_id).where(Grid.id == site.enforcement_grid_id)
    elif case.assigned_unit_id:
        units = select(OrgUnit.id).where(OrgUnit.parent_id == case.assigned_unit_id)
    else:
        return set()
    stmt = select(User.id).where(User.role == Role.station_staff, User.org_unit_id.in_(units))
    return set(session.scalars(_active(stmt)))


def grid_members(session: Session, grid_id: int | None) -> set[int]:
    if not grid_id:
        return set()
    stmt = (
        select(GridGroupMember.user_id)
        .join(GridGroup, GridGroup.id == GridGroupMember.group_id)
        .join(User, User.id == GridGroupMember.user_id)
        .where(GridGroup.grid_id == grid_id)
    )
    return set(session.scalars(_active(stmt)))


def contractor_users(session: Session, site: Site | None) -> set[int]:
    if site is None or site.contractor_id is None:
        return set()
    stmt = select(User.id).where(
        User.role == Role.contractor, User.enterprise_id == site.contractor_id
    )
    return set(session.scalars(_active(stmt)))


# --------------------------------------------------------------------------- the sweeps
# escalation.py: system work over every case, so no scope clause. The sweep decides which
# cases (``where``: its window, the open states, the level); these statements write the
# notifications and events set-based, whatever the backlog.


def try_sweep_lock(session: Session, key: int) -> bool:
    """Take the transaction's advisory lock ``key`` on PostgreSQL (one sweeper at a time);
    False when another transaction holds it. Always True elsewhere (SQLite has one writer)."""
    if session.get_bind().dialect.name != "postgresql":
        return True
    return bool(session.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key}))


def _active_users(role: Role) -> ColumnElement[bool]:
    return and_(User.role == role, User.is_active.is_(True))


def unnamed_l2() -> ColumnElement[bool]:
    """An L2 clock with nobody named yet: the admins of the unit it was dispatched to act."""
    return and_(Case.responsible_user_id.is_(None), Case.level == Level.L2.value)


def _title(prefix_zh: str, mid: Any, suffix: str) -> Any:
    return literal(prefix_zh) + cast(mid, String) + literal(suffix)


def case_notice(kind: str, key: str) -> dict[str, Any]:
    """Columns of a per-case notification built in SQL: the message ``key`` (its
    ``{case_id}`` comes from the row) and its zh-CN text for outbound channels."""
    zh = translate(key, DEFAULT_LOCALE)
    head, _, tail = zh.partition("{case_id}")
    return {
        "kind": literal(kind),
        "message_key": literal(key),
        "title": _title(head, Case.id, tail),
        "body": func.substr(Case.description, 1, 200),
        "link": literal("/cases/") + cast(Case.id, String),
        "case_id": Case.id,
    }


def _insert_notices(
    session: Session,
    cols: dict[str, Any],
    user_col: Any,
    where: ColumnElement[bool],
    join: tuple[Any, Any] | None,
    now: datetime,
) -> int:
    sel = select(user_col, *cols.values(), literal(now, type_=Case.opened_at.type))
    sel = sel.select_from(Case)
    if join is not None:
        sel = sel.join(*join)
    sel = sel.where(where)
    names = ["user_id", *cols, "created_at"]
    result = session.execute(insert(Notification).from_select(names, sel))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def notify_responsible(
    session: Session, cols: dict[str, Any], where: ColumnElement[bool], now: datetime
) -> int:
    """One notification (``cols``, see :func:`case_notice`) per case of ``where`` to the
    person named on it; how many were written."""
    return _insert_notices(session, cols, Case.responsible_user_id, where, None, now)


def notify_unit_admins(
    session: Session, cols: dict[str, Any], where: ColumnElement[bool], now: datetime
) -> int:
    """One notification per case of ``where`` to each active admin of the unit it was
    dispatched to; how many were written."""
    unit_admin = and_(User.org_unit_id == Case.assigned_unit_id, _active_users(Role.district_admin))
    return _insert_notices(session, cols, User.id, where, (User, unit_admin), now)


def add_notices(session: Session, rows: list[dict[str, Any]]) -> None:
    """Write ready-made notification rows (digests) in one statement."""
    session.execute(insert(Notification), rows)


def reminder_groups(session: Session, due: ColumnElement[bool]) -> list[Any]:
    """The cases of ``due`` counted per person named on them and, for an unnamed L2 clock,
    per unit it was dispatched to: rows ``(responsible_user_id, unit_id, count)``."""
    unit_of_unnamed = case((unnamed_l2(), Case.assigned_unit_id), else_=None)
    stmt = (
        select(Case.responsible_user_id, unit_of_unnamed, func.count())
        .where(due)
        .group_by(Case.responsible_user_id, unit_of_unnamed)
    )
    return list(session.execute(stmt).all())


def unit_admin_ids(session: Session, unit_ids: Collection[int]) -> list[tuple[int, int]]:
    """``(user id, unit id)`` of the active admins of these units, by user id."""
    stmt = (
        select(User.id, User.org_unit_id)
        .where(User.org_unit_id.in_(sorted(unit_ids)), _active_users(Role.district_admin))
        .order_by(User.id)
    )
    return [(int(u), int(unit)) for u, unit in session.execute(stmt) if unit is not None]


def late_by_level_and_unit(
    session: Session, late: ColumnElement[bool]
) -> dict[Level, dict[int | None, int]]:
    """How many cases ``late`` selects, per level and per unit they were dispatched to."""
    stmt = (
        select(Case.level, Case.assigned_unit_id, func.count())
        .where(late)
        .group_by(Case.level, Case.assigned_unit_id)
    )
    out: dict[Level, dict[int | None, int]] = {}
    for level, unit_id, n in session.execute(stmt):
        out.setdefault(Level(str(level)), {})[unit_id] = int(n)
    return out


def add_escalation_events(
    session: Session,
    late: ColumnElement[bool],
    chain: Mapping[Level, Level],
    *,
    now: datetime,
    policy_version: str,
) -> None:
    """One ``case.escalated`` event per case of ``late`` in one ``INSERT … SELECT``, its
    ``{"from_level", "to_level"}`` picked per row from ``chain`` (source → target level)."""
    data = case(
        *(
            (
                Case.level == src.value,
                literal({"from_level": src.value, "to_level": target.value}, type_=JSON),
            )
            for src, target in chain.items()
        )
    )
    events = select(
        Case.id,
        literal("case.escalated"),
        literal(now, type_=CaseEvent.at.type),
        literal("system"),
        literal("system"),
        Case.state,
        Case.state,
        literal(""),
        data,
        literal(policy_version),
    ).where(late)
    cols = [
        "case_id",
        "kind",
        "at",
        "actor_name",
        "actor_role",
        "from_state",
        "to_state",
        "reason",
        "data",
        "policy_version",
    ]
    session.execute(insert(CaseEvent).from_select(cols, events))


def count_where(session: Session, where: ColumnElement[bool]) -> int:
    """How many cases ``where`` selects."""
    return int(session.scalar(select(func.count()).where(where)) or 0)


def random_ids(session: Session, where: ColumnElement[bool], k: int) -> list[int]:
    """``k`` cases of ``where`` drawn at random (the look-back sample)."""
    return list(session.scalars(select(Case.id).where(where).order_by(func.random()).limit(k)))


def set_look_back_due(session: Session, case_ids: Collection[int], due: datetime) -> None:
    """Mark these cases for look-back, due at ``due``."""
    session.execute(update(Case).where(Case.id.in_(case_ids)).values(look_back_due_at=due))
