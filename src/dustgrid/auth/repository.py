"""Account, session and login-attempt queries. Account management is scoped by
``account_clause`` (a city admin: every account; a district admin: its units' accounts);
a session or attempt is looked up by its own key."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    bindparam,
    case,
    cast,
    delete,
    func,
    null,
    or_,
    select,
)
from sqlalchemy.orm import Session

from dustgrid.auth.models import AuthSession, LoginAttempt, User
from dustgrid.grids.models import Grid, GridGroup, GridGroupMember
from dustgrid.identity.roles import Role
from dustgrid.org.models import OrgUnit
from dustgrid.sites.models import Enterprise

#: Who works the grids of their groups (officers, inspectors) and the unit level that owns
#: grids (an L3 supervision station): the grids a request principal carries.
GRID_MEMBER_ROLES = (Role.officer, Role.inspector)
STATION_LEVEL = 3


def live_session_counts(session: Session, now: datetime) -> dict[int, int]:
    """How many unexpired sessions each account holds (accounts with none are absent)."""
    stmt = (
        select(AuthSession.user_id, func.count())
        .where(AuthSession.expires_at > now)
        .group_by(AuthSession.user_id)
    )
    return {int(user_id): int(n) for user_id, n in session.execute(stmt)}


# --- the request principal ------------------------------------------------------------------


def _identity_columns() -> tuple[Any, ...]:
    """The account, its unit and the grids it works, as plain columns: what a principal is
    built from (``auth.service.principal_of``), for a live session and for an account alike.

    ``grid_ids`` (comma-separated, or None): the grids of the account's groups for an
    officer or inspector, those its unit owns for the staff of an L3 station."""
    member_grids = (
        select(func.aggregate_strings(cast(GridGroup.grid_id, String), ","))
        .join(GridGroupMember, GridGroupMember.group_id == GridGroup.id)
        .where(GridGroupMember.user_id == User.id)
        .scalar_subquery()
    )
    station_grids = (
        select(func.aggregate_strings(cast(Grid.id, String), ","))
        .where(Grid.unit_id == User.org_unit_id)
        .scalar_subquery()
    )
    grid_ids = case(
        (User.role.in_(GRID_MEMBER_ROLES), member_grids),
        (OrgUnit.level == STATION_LEVEL, station_grids),
        else_=null(),
    )
    return (
        User.id.label("user_id"),
        User.username,
        User.display_name,
        User.role,
        User.org_unit_id,
        User.enterprise_id,
        User.locale,
        User.is_active,
        User.is_demo,
        User.must_change_password,
        OrgUnit.level.label("unit_level"),
        OrgUnit.parent_id.label("parent_unit_id"),
        OrgUnit.district_id,
        grid_ids.label("grid_ids"),
    )


def _session_identity_statement() -> Select[Any]:
    """The statement of :func:`session_identity`, the session's id hash a parameter."""
    return (
        select(AuthSession.kind, AuthSession.expires_at, *_identity_columns())
        .join(User, User.id == AuthSession.user_id)
        .outerjoin(OrgUnit, OrgUnit.id == User.org_unit_id)
        .where(AuthSession.sid_hash == bindparam("sid_hash"))
    )


def _user_identity_statement() -> Select[Any]:
    """The statement of :func:`user_identity`, the account's id a parameter."""
    return (
        select(*_identity_columns())
        .outerjoin(OrgUnit, OrgUnit.id == User.org_unit_id)
        .where(User.id == bindparam("user_id"))
    )


#: Built once per process: every request runs the first, and building it (and its cache key)
#: each time cost more CPU than sending it (bench/request_cpu.py --profile).
_SESSION_IDENTITY = _session_identity_statement()
_USER_IDENTITY = _user_identity_statement()


def session_identity(session: Session, sid_hash: str) -> Any:
    """The session row with this id hash joined to its account, the account's unit and the
    grids it works, in one statement of plain columns (no ORM objects): every request runs
    it, so it costs one round trip instead of four and no identity-map work. None when there
    is no such row."""
    return session.execute(_SESSION_IDENTITY, {"sid_hash": sid_hash}).first()


def user_identity(session: Session, user_id: int) -> Any:
    """The account with this id, as the same plain columns as :func:`session_identity`
    (without the session's); None when there is no such account."""
    return session.execute(_USER_IDENTITY, {"user_id": user_id}).first()


def member_grid_ids(session: Session, user_id: int) -> set[int]:
    """Grids whose group the user (an officer or inspector) belongs to."""
    stmt = (
        select(GridGroup.grid_id)
        .join(GridGroupMember, GridGroupMember.group_id == GridGroup.id)
        .where(GridGroupMember.user_id == user_id)
    )
    return set(session.scalars(stmt))


def unit_grid_ids(session: Session, unit_id: int) -> set[int]:
    """Grids owned by a unit (a supervision station)."""
    return set(session.scalars(select(Grid.id).where(Grid.unit_id == unit_id)))


def people_with_units(session: Session, user_ids: Collection[int]) -> list[Any]:
    """``(user, unit, enterprise)`` of these accounts (unit and enterprise None when the
    account has none), in one statement."""
    stmt = (
        select(User, OrgUnit, Enterprise)
        .outerjoin(OrgUnit, OrgUnit.id == User.org_unit_id)
        .outerjoin(Enterprise, Enterprise.id == User.enterprise_id)
        .where(User.id.in_(user_ids))
    )
    return list(session.execute(stmt))


# --- login attempts -------------------------------------------------------------------------


def failures_since(
    session: Session, since: datetime, *, username: str | None = None, ip: str | None = None
) -> tuple[int, datetime | None]:
    """How many failed attempts came after ``since`` under this user name or from this
    address (whichever is given), and when the last of them was."""
    who: list[ColumnElement[bool]] = []
    if username is not None:
        who.append(LoginAttempt.username == username)
    if ip is not None:
        who.append(LoginAttempt.ip == ip)
    row = session.execute(
        select(func.count(), func.max(LoginAttempt.at)).where(
            LoginAttempt.success.is_(False), LoginAttempt.at > since, *who
        )
    ).one()
    return int(row[0] or 0), row[1]


def last_success(session: Session, username: str) -> datetime | None:
    """When this user name last logged in successfully (None if never)."""
    return session.scalar(
        select(func.max(LoginAttempt.at)).where(
            LoginAttempt.username == username, LoginAttempt.success.is_(True)
        )
    )


def purge_attempts_before(session: Session, keep: datetime) -> None:
    """Drop login attempts older than ``keep``."""
    session.execute(delete(LoginAttempt).where(LoginAttempt.at < keep))


# --- accounts and sessions ------------------------------------------------------------------


def user_by_name(session: Session, username: str) -> User | None:
    """The account with this exact user name."""
    return session.scalar(select(User).where(User.username == username))


def username_taken(session: Session, username: str) -> bool:
    """Whether an account already has this user name."""
    return session.scalar(select(User.id).where(User.username == username)) is not None


def session_by_hash(session: Session, sid_hash: str) -> AuthSession | None:
    """The session row with this id hash (live or not)."""
    return session.scalar(select(AuthSession).where(AuthSession.sid_hash == sid_hash))


def delete_session(session: Session, sid_hash: str) -> None:
    """End the session with this id hash (nothing happens when there is none)."""
    session.execute(delete(AuthSession).where(AuthSession.sid_hash == sid_hash))


def delete_user_sessions(session: Session, user_id: int) -> int:
    """End every session and token of an account; how many there were."""
    result = session.execute(delete(AuthSession).where(AuthSession.user_id == user_id))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def delete_expired_sessions(session: Session, now: datetime) -> None:
    """Drop the session rows that expired at or before ``now``."""
    session.execute(delete(AuthSession).where(AuthSession.expires_at <= now))


# --- account management in scope ------------------------------------------------------------


def child_unit_ids(session: Session, unit_id: int) -> set[int]:
    """The units directly below ``unit_id`` (an L2 unit's L3 stations)."""
    return set(session.scalars(select(OrgUnit.id).where(OrgUnit.parent_id == unit_id)))


def units_by_ids(session: Session, unit_ids: set[int] | None) -> list[OrgUnit]:
    """These units (every unit when ``unit_ids`` is None), by level and name."""
    stmt = select(OrgUnit).order_by(OrgUnit.level, OrgUnit.name)
    if unit_ids is not None:
        stmt = stmt.where(OrgUnit.id.in_(unit_ids or {-1}))
    return list(session.scalars(stmt))


def account_clause(unit_ids: set[int] | None) -> ColumnElement[bool]:
    """The scope clause of account management: every account (``None``: a city admin) or
    the accounts attached to these units."""
    if unit_ids is None:
        return User.id.is_not(None)
    return User.org_unit_id.in_(unit_ids or {-1})


def search_users(
    session: Session,
    unit_ids: set[int] | None,
    *,
    text: str = "",
    unit_id: int | None = None,
    role: str | None = None,
) -> list[User]:
    """Accounts in scope, by user name, matching a name/user-name search, a unit and a role."""
    stmt = select(User).where(account_clause(unit_ids)).order_by(User.username)
    if text:
        like = f"%{text.lower()}%"
        stmt = stmt.where(
            or_(func.lower(User.username).like(like), func.lower(User.display_name).like(like))
        )
    if unit_id is not None:
        stmt = stmt.where(User.org_unit_id == unit_id)
    if role:
        stmt = stmt.where(User.role == role)
    return list(session.scalars(stmt))


def user_in_scope(session: Session, unit_ids: set[int] | None, user_id: int) -> User | None:
    """The account with this id when it is in scope."""
    return session.scalar(select(User).where(User.id == user_id, account_clause(unit_ids)))
