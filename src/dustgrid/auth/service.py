"""Login, throttling, tokens, and building the request principal."""

from __future__ import annotations

from datetime import timedelta

import jwt
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dustgrid.audit import service as audit
from dustgrid.auth.models import LoginAttempt, User
from dustgrid.auth.passwords import check_strength, hash_password, verify_password
from dustgrid.auth.principal import Principal
from dustgrid.auth.roles import Role
from dustgrid.config import Settings
from dustgrid.errors import Conflict, Invalid, Throttled, Unauthenticated
from dustgrid.grids.models import Grid, GridGroup, GridGroupMember
from dustgrid.models import utcnow
from dustgrid.org.models import OrgUnit
from dustgrid.sites.models import Enterprise

TOKEN_ALGORITHM = "HS256"


def load_principal(session: Session, user: User, *, ip: str = "") -> Principal:
    """Resolve the user's unit, district and grids once per request."""
    unit = session.get(OrgUnit, user.org_unit_id) if user.org_unit_id else None
    grid_ids: set[int] = set()
    if user.role in (Role.officer, Role.inspector):
        stmt = (
            select(GridGroup.grid_id)
            .join(GridGroupMember, GridGroupMember.group_id == GridGroup.id)
            .where(GridGroupMember.user_id == user.id)
        )
        grid_ids = set(session.scalars(stmt))
    elif unit is not None and unit.level == 3:
        grid_ids = set(session.scalars(select(Grid.id).where(Grid.unit_id == unit.id)))
    return Principal(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        org_unit_id=user.org_unit_id,
        unit_level=unit.level if unit else None,
        district_id=unit.district_id if unit else None,
        enterprise_id=user.enterprise_id,
        grid_ids=frozenset(grid_ids),
        locale=user.locale,
        ip=ip,
    )


def _recent_failures(session: Session, username: str, settings: Settings) -> int:
    since = utcnow() - timedelta(minutes=settings.login_window_minutes)
    last_ok = session.scalar(
        select(func.max(LoginAttempt.at)).where(
            LoginAttempt.username == username, LoginAttempt.success.is_(True)
        )
    )
    if last_ok is not None and last_ok > since:
        since = last_ok
    stmt = select(func.count()).where(
        LoginAttempt.username == username,
        LoginAttempt.success.is_(False),
        LoginAttempt.at > since,
    )
    return int(session.scalar(stmt) or 0)


def authenticate(
    session: Session, *, username: str, password: str, ip: str, settings: Settings
) -> User:
    """Check a password; throttle after repeated failures. Records every attempt."""
    username = username.strip()
    if _recent_failures(session, username, settings) >= settings.login_max_failures:
        session.add(LoginAttempt(username=username, ip=ip, success=False))
        raise Throttled(
            f"登录失败次数过多，请 {settings.login_window_minutes} 分钟后再试 / "
            f"too many failed logins, try again in {settings.login_window_minutes} minutes",
            persist=True,
        )
    user = session.scalar(select(User).where(User.username == username))
    ok = (
        user is not None
        and user.is_active
        and verify_password(user.password_hash, password)
        and (not user.is_demo or settings.demo_mode)
    )
    session.add(LoginAttempt(username=username, ip=ip, success=ok))
    if not ok or user is None:
        raise Unauthenticated("用户名或密码错误 / wrong username or password", persist=True)
    return user


def issue_token(user: User, settings: Settings) -> str:
    now = utcnow()
    payload = {
        "sub": str(user.id),
        "role": user.role.value,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=settings.token_ttl_minutes)).timestamp()),
    }
    return jwt.encode(payload, settings.resolved_secret_key(), algorithm=TOKEN_ALGORITHM)


def user_from_token(session: Session, token: str, settings: Settings) -> User:
    try:
        payload = jwt.decode(token, settings.resolved_secret_key(), algorithms=[TOKEN_ALGORITHM])
        user_id = int(payload["sub"])
    except (jwt.PyJWTError, KeyError, ValueError) as exc:
        raise Unauthenticated("令牌无效或已过期 / invalid or expired token") from exc
    user = session.get(User, user_id)
    if user is None or not user.is_active or (user.is_demo and not settings.demo_mode):
        raise Unauthenticated("账号不可用 / account disabled")
    return user


def create_user(
    session: Session,
    *,
    actor: Principal | None,
    username: str,
    password: str,
    display_name: str,
    role: Role,
    org_unit_id: int | None = None,
    enterprise_id: int | None = None,
    phone: str = "",
    is_demo: bool = False,
    check_password: bool = True,
) -> User:
    """Create an account with a hashed password; demo accounts skip the strength check."""
    username = username.strip()
    if not username:
        raise Invalid("用户名不能为空 / username is required")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"用户名已存在：{username} / username taken")
    if check_password:
        try:
            check_strength(password)
        except ValueError as exc:
            raise Invalid(str(exc)) from exc
    if role in (Role.contractor, Role.provider) and enterprise_id is None:
        raise Invalid("企业账号须指定企业 / contractor and provider accounts need an enterprise")
    if org_unit_id is not None and session.get(OrgUnit, org_unit_id) is None:
        raise Invalid(
            f"单位不存在：{org_unit_id} / unknown org_unit_id", details={"field": "org_unit_id"}
        )
    if enterprise_id is not None and session.get(Enterprise, enterprise_id) is None:
        raise Invalid(
            f"企业不存在：{enterprise_id} / unknown enterprise_id",
            details={"field": "enterprise_id"},
        )
    user = User(
        username=username,
        display_name=display_name or username,
        password_hash=hash_password(password),
        role=role,
        org_unit_id=org_unit_id,
        enterprise_id=enterprise_id,
        phone=phone,
        is_demo=is_demo,
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="create",
        entity_type="user",
        entity_id=user.id,
        changes={"username": [None, username], "role": [None, role.value]},
        summary=f"创建账号 {username}",
    )
    return user
