"""Login, throttling, server-side sessions, tokens, and building the request principal."""

from __future__ import annotations

import hashlib
import math
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import jwt
from sqlalchemy.orm import Session

from dustgrid.audit import service as audit
from dustgrid.auth import repository
from dustgrid.auth.models import AuthSession, LoginAttempt, User
from dustgrid.config import Settings, get_settings
from dustgrid.errors import Conflict, Invalid, Throttled, Unauthenticated
from dustgrid.identity.passwords import (
    WeakPassword,
    check_strength,
    hash_password,
    verify_dummy,
    verify_password,
)
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Role
from dustgrid.models import utcnow
from dustgrid.org.models import OrgUnit
from dustgrid.sites.models import Enterprise

TOKEN_ALGORITHM = "HS256"
# A token without these claims is refused: it could not expire or be revoked.
TOKEN_REQUIRED_CLAIMS = ["exp", "iat", "sub", "sid"]
SESSION_COOKIE = "cookie"
SESSION_TOKEN = "token"
SID_BYTES = 32
USERNAME_MAX = 64
IP_MAX = 64


class IdentityRow(Protocol):
    """The columns a principal is built from (``repository._identity_columns``)."""

    user_id: int
    username: str
    display_name: str
    role: Role | str
    org_unit_id: int | None
    unit_level: int | None
    parent_unit_id: int | None
    district_id: int | None
    enterprise_id: int | None
    locale: str
    grid_ids: str | None  # comma-separated grid ids, or None


@dataclass(frozen=True, slots=True)
class RequestIdentity:
    """Who a live session belongs to, read in one statement on every request."""

    principal: Principal
    must_change_password: bool


def identity_for_session(
    session: Session,
    sid: str,
    *,
    kind: str,
    settings: Settings,
    user_id: int | None = None,
    ip: str = "",
) -> RequestIdentity | None:
    """The principal of a live session of ``kind`` whose account may log in, or None
    (unknown, ended, expired, other kind, disabled account, demo account outside demo mode).

    Looked up on every request, never cached: a logout or "sign out everywhere" in any
    process or machine takes effect at the next request."""
    if not sid:
        return None
    row = repository.session_identity(session, _sid_hash(sid))
    if row is None or row.kind != kind or _aware(row.expires_at) <= utcnow():
        return None
    if user_id is not None and row.user_id != user_id:
        return None
    if not row.is_active or (row.is_demo and not settings.demo_mode):
        return None
    principal = principal_of(row, ip=ip)
    return RequestIdentity(principal, bool(row.must_change_password))


def _aware(moment: datetime) -> datetime:
    """A stored moment as UTC-aware (SQLite hands back naive UTC)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def principal_of(row: IdentityRow, *, ip: str = "") -> Principal:
    """The principal of an account from its identity row (``repository.session_identity``
    or ``repository.user_identity``): the one place a principal is built, so a page login,
    a request and a service acting for a user see the same scope. The row carries the grids
    an officer's or inspector's groups cover, or an L3 station's own grids."""
    role = Role(row.role)
    grid_ids = {int(i) for i in row.grid_ids.split(",")} if row.grid_ids else set()
    return Principal(
        user_id=row.user_id,
        username=row.username,
        display_name=row.display_name,
        role=role,
        org_unit_id=row.org_unit_id,
        unit_level=row.unit_level,
        parent_unit_id=row.parent_unit_id,
        district_id=row.district_id,
        enterprise_id=row.enterprise_id,
        grid_ids=frozenset(grid_ids),
        locale=row.locale,
        ip=ip,
    )


def load_principal(session: Session, user: User, *, ip: str = "") -> Principal:
    """The principal of ``user`` (a login, or work done for an account outside a request):
    its unit, district and grids, resolved once."""
    row = repository.user_identity(session, user.id)  # autoflush: pending changes count
    if row is None:
        raise ValueError(f"no account with id {user.id}")
    return principal_of(row, ip=ip)


def people_with_units(
    session: Session, user_ids: Iterable[int]
) -> list[tuple[User, OrgUnit | None, Enterprise | None]]:
    """The accounts behind these ids with their unit or enterprise, read in one statement:
    a page that names who did what (a case timeline, a change history) asks once for all
    of them instead of once per person and once per unit."""
    wanted = set(user_ids)
    return repository.people_with_units(session, wanted) if wanted else []


# --- login throttling: exponential back-off per client address and per user name ---------


def backoff_delay(failures: int, *, free: int, base_s: float, max_s: float) -> float:
    """Seconds to wait after ``failures`` recent failures: none for the first ``free``,
    then ``base_s`` doubling with each further failure, never more than ``max_s``."""
    if failures < free:
        return 0.0
    return float(min(max_s, base_s * 2.0 ** min(failures - free, 62)))


def login_wait_seconds(
    session: Session, *, username: str, ip: str, settings: Settings, now: datetime
) -> float:
    """How long this address, and this user name, must still wait before the next try.

    Failures are read from ``login_attempt``, so every process and machine sharing the
    database applies the same back-off. A success clears the user name's count (it proves
    the password), not the address's (one valid account must not reset a guessing run).
    """
    since = now - timedelta(minutes=settings.login_window_minutes)
    last_ok = repository.last_success(session, username)
    acct_since = max(since, last_ok) if last_ok is not None else since

    def wait(failures: tuple[int, datetime | None], free: int, max_s: float) -> float:
        """Seconds still to wait after ``failures`` (how many, and the last one's time)."""
        n, last = failures
        delay = backoff_delay(n, free=free, base_s=settings.login_backoff_base_s, max_s=max_s)
        if not delay or last is None:
            return 0.0
        return (last + timedelta(seconds=delay) - now).total_seconds()

    waits = [
        0.0,
        wait(
            repository.failures_since(session, acct_since, username=username),
            settings.login_free_failures_account,
            settings.login_backoff_max_account_s,
        ),
    ]
    if ip:
        waits.append(
            wait(
                repository.failures_since(session, since, ip=ip),
                settings.login_free_failures_ip,
                settings.login_backoff_max_ip_s,
            )
        )
    return max(waits)


def authenticate(
    session: Session, *, username: str, password: str, ip: str, settings: Settings
) -> User:
    """Check a password, after the back-off of this address and user name has passed.

    Records every checked attempt (a refused-while-waiting try is not recorded, so waiting
    out the delay is enough). An unknown user name costs the same argon2 verification as a
    known one, so the answer time does not tell which names exist.
    """
    username = username.strip()[:USERNAME_MAX]
    ip = ip[:IP_MAX]
    now = utcnow()
    wait = login_wait_seconds(session, username=username, ip=ip, settings=settings, now=now)
    if wait > 0:
        secs = math.ceil(wait)
        raise Throttled("auth.error.throttled", seconds=secs, details={"retry_after_s": secs})
    user = repository.user_by_name(session, username)
    if user is None:
        verify_dummy(password)
        ok = False
    else:
        ok = (
            verify_password(user.password_hash, password)
            and user.is_active
            and (not user.is_demo or settings.demo_mode)
        )
    session.add(LoginAttempt(username=username, ip=ip, success=ok, at=now))
    if not ok or user is None:
        raise Unauthenticated("auth.error.wrong_password", persist=True)
    purge_expired(session, settings, now=now)
    return user


def verify_current_password(
    session: Session, user: User, *, password: str, ip: str, settings: Settings
) -> None:
    """Re-check a signed-in user's password (before changing it), under the same back-off
    and recording as a login, so a stolen session cannot be used to guess it."""
    ip = ip[:IP_MAX]
    now = utcnow()
    wait = login_wait_seconds(session, username=user.username, ip=ip, settings=settings, now=now)
    if wait > 0:
        secs = math.ceil(wait)
        raise Throttled("auth.error.throttled", seconds=secs, details={"retry_after_s": secs})
    ok = verify_password(user.password_hash, password)
    session.add(LoginAttempt(username=user.username, ip=ip, success=ok, at=now))
    if not ok:
        raise Invalid("auth.error.current_password", persist=True)


# --- server-side sessions (cookie and token) -----------------------------------------------


def _sid_hash(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def start_session(
    session: Session, user: User, *, kind: str, ttl: timedelta, ip: str = ""
) -> tuple[str, AuthSession]:
    """Open a session row; returns the random id to hand out (only its hash is stored)."""
    now = utcnow()
    sid = secrets.token_urlsafe(SID_BYTES)
    row = AuthSession(
        sid_hash=_sid_hash(sid),
        user_id=user.id,
        kind=kind,
        ip=ip[:IP_MAX],
        created_at=now,
        expires_at=now + ttl,
    )
    session.add(row)
    session.flush()
    return sid, row


def find_session(session: Session, sid: str, *, kind: str) -> AuthSession | None:
    """The live session with this id, or None (unknown, ended, expired or other kind)."""
    if not sid:
        return None
    row = repository.session_by_hash(session, _sid_hash(sid))
    if row is None or row.kind != kind or row.expires_at <= utcnow():
        return None
    return row


def end_session(session: Session, sid: str) -> None:
    repository.delete_session(session, _sid_hash(sid))


def end_all_sessions(
    session: Session, user_id: int, *, actor: Principal | None, reason: str
) -> int:
    """Sign an account out everywhere: every page session and API token, in every process."""
    ended = repository.delete_user_sessions(session, user_id)
    audit.record(
        session,
        actor=actor,
        action="sign_out_all",
        entity_type="user",
        entity_id=user_id,
        changes={"sessions": [ended, 0]},
        summary=f"结束全部会话（{reason}）",
    )
    return ended


def logout(session: Session, principal: Principal, sid: str, settings: Settings) -> int:
    """End this session, or (``logout_ends_all_sessions``) every session of the account."""
    if settings.logout_ends_all_sessions:
        return end_all_sessions(session, principal.user_id, actor=principal, reason="logout")
    end_session(session, sid)
    return 1


def purge_expired(session: Session, settings: Settings, *, now: datetime) -> None:
    """Drop expired session rows and login attempts past their retention (run at login)."""
    repository.delete_expired_sessions(session, now)
    repository.purge_attempts_before(
        session, now - timedelta(days=settings.login_attempt_retention_days)
    )


def issue_token(session: Session, user: User, settings: Settings, *, key: str, ip: str = "") -> str:
    """A bearer token bound to a new session row (claim ``sid``), so it can be revoked;
    signed with the app's ``key`` (``app.state.secret_key``)."""
    ttl = timedelta(minutes=settings.token_ttl_minutes)
    sid, row = start_session(session, user, kind=SESSION_TOKEN, ttl=ttl, ip=ip)
    payload = {
        "sub": str(user.id),
        "sid": sid,
        "role": user.role.value,
        "iat": int(row.created_at.timestamp()),
        "exp": int(row.expires_at.timestamp()),
    }
    return jwt.encode(payload, key, algorithm=TOKEN_ALGORITHM)


def _usable(user: User | None, settings: Settings) -> bool:
    return user is not None and user.is_active and (not user.is_demo or settings.demo_mode)


def token_claims(token: str, key: str) -> tuple[int, str]:
    """The user id and session id of a well-formed, signed, unexpired token; 401 otherwise.

    ``exp``, ``iat``, ``sub`` and ``sid`` are required: a token without them is refused.
    """
    try:
        payload = jwt.decode(
            token,
            key,
            algorithms=[TOKEN_ALGORITHM],
            options={"require": TOKEN_REQUIRED_CLAIMS},
        )
        return int(payload["sub"]), str(payload["sid"])
    except (jwt.PyJWTError, KeyError, ValueError, TypeError) as exc:
        raise Unauthenticated("auth.error.token_invalid") from exc


def user_from_token(session: Session, token: str, settings: Settings, key: str) -> tuple[User, str]:
    """The user and session id of a valid, unrevoked token; 401 otherwise.

    ``exp``, ``iat``, ``sub`` and ``sid`` are required: a token without them is refused.
    """
    try:
        payload = jwt.decode(
            token,
            key,
            algorithms=[TOKEN_ALGORITHM],
            options={"require": TOKEN_REQUIRED_CLAIMS},
        )
        user_id = int(payload["sub"])
        sid = str(payload["sid"])
    except (jwt.PyJWTError, KeyError, ValueError, TypeError) as exc:
        raise Unauthenticated("auth.error.token_invalid") from exc
    row = find_session(session, sid, kind=SESSION_TOKEN)
    if row is None or row.user_id != user_id:
        raise Unauthenticated("auth.error.session_ended")
    user = session.get(User, user_id)
    if user is None or not _usable(user, settings):
        raise Unauthenticated("auth.error.account_disabled")
    return user, sid


def user_from_cookie_session(session: Session, sid: str, settings: Settings) -> User | None:
    """The user of a live page session, or None."""
    row = find_session(session, sid, kind=SESSION_COOKIE)
    if row is None:
        return None
    user = session.get(User, row.user_id)
    return user if user is not None and _usable(user, settings) else None


# --- accounts -------------------------------------------------------------------------------


def check_password_policy(
    password: str, *, username: str, display_name: str, settings: Settings
) -> None:
    """The password policy for real accounts, as a 422 naming what is wrong."""
    try:
        check_strength(
            password,
            min_length=settings.password_min_length,
            names=(username, display_name),
        )
    except WeakPassword as exc:
        raise Invalid(exc.key, details={"field": "password"}, **dict(exc.params)) from exc


def change_password(
    session: Session,
    user: User,
    *,
    actor: Principal | None,
    new_password: str,
    settings: Settings,
) -> int:
    """Set a new password (policy checked) and end every session and token of the account."""
    check_password_policy(
        new_password, username=user.username, display_name=user.display_name, settings=settings
    )
    user.password_hash = hash_password(new_password)
    user.must_change_password = False
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="password",
        entity_type="user",
        entity_id=user.id,
        changes={"password": ["***", "***"]},
        summary=f"修改密码 {user.username}",
    )
    return end_all_sessions(session, user.id, actor=actor, reason="password")


def set_active(session: Session, user: User, *, actor: Principal | None, active: bool) -> None:
    """Enable or disable an account; disabling ends all its sessions and tokens."""
    if user.is_active == active:
        return
    user.is_active = active
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="update",
        entity_type="user",
        entity_id=user.id,
        changes={"is_active": [not active, active]},
        summary=f"{'启用' if active else '停用'}账号 {user.username}",
    )
    if not active:
        end_all_sessions(session, user.id, actor=actor, reason="disabled")


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
    settings: Settings | None = None,
) -> User:
    """Create an account with a hashed password.

    The password policy applies unless ``check_password`` is False, which only the demo
    loader and tests use for demo accounts (they log in only in demo mode).
    """
    username = username.strip()
    if not username:
        raise Invalid("accounts.error.username_required", details={"field": "username"})
    if repository.username_taken(session, username):
        raise Conflict(
            "accounts.error.username_taken", username=username, details={"field": "username"}
        )
    if check_password:
        check_password_policy(
            password,
            username=username,
            display_name=display_name,
            settings=settings or get_settings(),
        )
    if role in (Role.contractor, Role.provider) and enterprise_id is None:
        raise Invalid("accounts.error.enterprise_required", details={"field": "enterprise_id"})
    if org_unit_id is not None and session.get(OrgUnit, org_unit_id) is None:
        raise Invalid("accounts.error.unknown_unit", details={"field": "org_unit_id"})
    if enterprise_id is not None and session.get(Enterprise, enterprise_id) is None:
        raise Invalid("accounts.error.unknown_enterprise", details={"field": "enterprise_id"})
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
