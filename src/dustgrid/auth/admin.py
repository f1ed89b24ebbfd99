"""Account management in the admin's scope (issue 13): list, create, edit, disable/enable,
reset a password (a one-time password the user must change at the next login).

Scope: a city admin manages every account; a district admin (L2) the accounts of its own
unit and of the L3 stations directly below it. An account outside scope is answered like
one that does not exist (404); a unit outside scope like an unknown unit (422). Every
change writes an audit row.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from dustgrid.audit import service as audit
from dustgrid.auth import repository as repo
from dustgrid.auth.models import User
from dustgrid.auth.service import (
    check_password_policy,
    create_user,
    end_all_sessions,
    set_active,
)
from dustgrid.config import Settings
from dustgrid.errors import Forbidden, Invalid, NotFound
from dustgrid.identity.passwords import hash_password
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Role
from dustgrid.org.models import OrgUnit


@dataclass(frozen=True, slots=True)
class AccountPolicy:
    """Who may be given which role, and how long a one-time password is."""

    version: int = 1
    #: Roles a district admin may give (never a city admin, nor an enterprise or
    #: third-party account: those belong to no unit of its own).
    district_roles: frozenset[Role] = field(
        default_factory=lambda: frozenset(
            {Role.district_admin, Role.station_staff, Role.officer, Role.viewer}
        )
    )
    #: Random bytes of a one-time password (base64url: 4 characters per 3 bytes).
    one_time_password_bytes: int = 12


DEFAULT_ACCOUNT_POLICY = AccountPolicy()

#: Fields an admin may edit on an account (``edit``).
EDITABLE = ("display_name", "phone", "org_unit_id", "role")


def managed_units(session: Session, principal: Principal) -> set[int] | None:
    """Units whose accounts the principal manages; ``None`` means every account."""
    if principal.role == Role.city_admin:
        return None
    if principal.role != Role.district_admin or principal.org_unit_id is None:
        raise Forbidden("auth.error.forbidden")
    return {principal.org_unit_id} | repo.child_unit_ids(session, principal.org_unit_id)


def assignable_roles(
    principal: Principal, policy: AccountPolicy = DEFAULT_ACCOUNT_POLICY
) -> list[Role]:
    """Roles this admin may give, in the order of ``Role``."""
    if principal.role == Role.city_admin:
        return list(Role)
    return [r for r in Role if r in policy.district_roles]


def units_in_scope(session: Session, principal: Principal) -> list[OrgUnit]:
    """Units an account may be attached to by this admin."""
    return repo.units_by_ids(session, managed_units(session, principal))


def list_accounts(
    session: Session,
    principal: Principal,
    *,
    text: str = "",
    unit_id: int | None = None,
    role: Role | None = None,
) -> list[User]:
    """Accounts in scope matching the search (name or user name), unit and role."""
    return repo.search_users(
        session,
        managed_units(session, principal),
        text=text.strip()[:64],
        unit_id=unit_id,
        role=role.value if role else None,
    )


def get_account(session: Session, principal: Principal, user_id: int) -> User:
    """One account in scope, or 404 (outside scope is answered like unknown)."""
    user = repo.user_in_scope(session, managed_units(session, principal), user_id)
    if user is None:
        raise NotFound("accounts.error.not_found")
    return user


def _check_role(principal: Principal, role: Role) -> None:
    if role not in assignable_roles(principal):
        raise Forbidden("accounts.error.role_not_allowed", details={"field": "role"})


def _check_unit(session: Session, principal: Principal, role: Role, unit_id: int | None) -> None:
    units = managed_units(session, principal)
    if unit_id is None:
        if units is not None:
            raise Invalid("accounts.error.unit_required", details={"field": "org_unit_id"})
        return
    if session.get(OrgUnit, unit_id) is None or (units is not None and unit_id not in units):
        raise Invalid("accounts.error.unknown_unit", details={"field": "org_unit_id"})


def create_account(
    session: Session,
    principal: Principal,
    *,
    settings: Settings,
    username: str,
    password: str,
    display_name: str,
    role: Role,
    org_unit_id: int | None = None,
    enterprise_id: int | None = None,
    phone: str = "",
) -> User:
    """Create an account with a role and unit the admin may give (password policy checked)."""
    _check_role(principal, role)
    _check_unit(session, principal, role, org_unit_id)
    return create_user(
        session,
        actor=principal,
        settings=settings,
        username=username,
        password=password,
        display_name=display_name,
        role=role,
        org_unit_id=org_unit_id,
        enterprise_id=enterprise_id,
        phone=phone,
    )


def _snapshot(user: User) -> dict[str, object]:
    return {
        "display_name": user.display_name,
        "phone": user.phone,
        "org_unit_id": user.org_unit_id,
        "role": user.role.value,
    }


def edit_account(
    session: Session,
    principal: Principal,
    user: User,
    *,
    display_name: str | None = None,
    phone: str | None = None,
    org_unit_id: int | None = None,
    role: Role | None = None,
) -> User:
    """Change the display name, phone, unit or role (within the admin's limits); audited."""
    new_role = role if role is not None else user.role
    new_unit = org_unit_id if org_unit_id is not None else user.org_unit_id
    if role is not None and role != user.role:
        _check_role(principal, user.role)  # may not demote an account above its own reach
        _check_role(principal, role)
    if org_unit_id is not None and org_unit_id != user.org_unit_id:
        _check_unit(session, principal, new_role, new_unit)
    if user.id == principal.user_id and new_role != user.role:
        raise Forbidden("accounts.error.own_role", details={"field": "role"})
    before = _snapshot(user)
    if display_name is not None:
        if not display_name.strip():
            raise Invalid("accounts.error.display_name", details={"field": "display_name"})
        user.display_name = display_name.strip()
    if phone is not None:
        user.phone = phone.strip()
    user.org_unit_id = new_unit
    user.role = new_role
    session.flush()
    audit.record_change(
        session,
        actor=principal,
        action="update",
        entity_type="user",
        entity_id=user.id,
        before=before,
        after=_snapshot(user),
        summary=f"修改账号 {user.username}",
    )
    return user


def set_account_active(session: Session, principal: Principal, user: User, active: bool) -> User:
    """Enable or disable an account in scope; disabling ends every session at once.
    An admin cannot disable its own account (no one could undo it from there)."""
    if not active and user.id == principal.user_id:
        raise Forbidden("accounts.error.own_account")
    set_active(session, user, actor=principal, active=active)
    return user


def one_time_password(
    user: User, settings: Settings, policy: AccountPolicy = DEFAULT_ACCOUNT_POLICY
) -> str:
    """A random password that passes the password policy (letters and digits)."""
    while True:
        candidate = secrets.token_urlsafe(policy.one_time_password_bytes)
        has_alpha = any(ch.isalpha() for ch in candidate)
        has_digit = any(ch.isdigit() for ch in candidate)
        if has_alpha and has_digit:
            check_password_policy(
                candidate,
                username=user.username,
                display_name=user.display_name,
                settings=settings,
            )
            return candidate


def reset_password(
    session: Session, principal: Principal, user: User, *, settings: Settings
) -> str:
    """Set a one-time password (returned once, never stored in clear), end every session,
    and make the user choose a new password at the next login; audited."""
    if user.id == principal.user_id:
        raise Forbidden("accounts.error.own_reset")
    password = one_time_password(user, settings)
    user.password_hash = hash_password(password)
    user.must_change_password = True
    session.flush()
    audit.record(
        session,
        actor=principal,
        action="password_reset",
        entity_type="user",
        entity_id=user.id,
        changes={"password": ["***", "***"], "must_change_password": [False, True]},
        summary=f"重置密码 {user.username}",
    )
    end_all_sessions(session, user.id, actor=principal, reason="password_reset")
    return password
