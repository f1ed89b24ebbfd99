"""The account admin pages (issue 13): accounts in the admin's scope, with search and
filters; create, edit, disable/enable, reset a password (a one-time password shown once),
sign out everywhere; and the page where anyone changes their own password (the only page
an account with a one-time password may open).

Scope and rules are ``auth.admin``'s: a city admin manages every account, a district admin
those of its own unit and stations (``Perm.user_admin``; others get 403). Forms post back
with the CSRF token; a refused form is shown again with the message next to its field.
"""

from __future__ import annotations

from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from dustgrid.audit.service import entries_for
from dustgrid.auth import accounts, admin
from dustgrid.auth.deps import (
    SESSION_KEY,
    AppSettings,
    CurrentPrincipal,
    DbSession,
    check_csrf,
    client_ip,
    require,
)
from dustgrid.auth.models import User
from dustgrid.auth.schemas import UserCreate, UserUpdate
from dustgrid.auth.service import change_password, end_all_sessions, verify_current_password
from dustgrid.config import Settings
from dustgrid.errors import DomainError, validation_messages
from dustgrid.grids import service as grids
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Perm, Role
from dustgrid.models import utcnow
from dustgrid.reports import archives
from dustgrid.routing import Router
from dustgrid.web.forms import error_text, flash, pop_flash
from dustgrid.web.history import readable_history
from dustgrid.web.templating import render, request_locale

router = Router(include_in_schema=False)
UserAdmin = Annotated[Principal, Depends(require(Perm.user_admin))]
FormErrors = dict[str, list[str]]
NO_STORE = {"Cache-Control": "no-store"}


def _form_errors(exc: Exception, locale: str) -> FormErrors:
    """Messages per form field (``form`` for a message of the whole form)."""
    out: FormErrors = {}
    if isinstance(exc, ValidationError):
        for err in exc.errors():
            field = str(err["loc"][-1]) if err["loc"] else "form"
            out.setdefault(field, []).extend(validation_messages([err], locale=locale))
        return out
    details = exc.details if isinstance(exc, DomainError) else None
    named = details.get("field") if isinstance(details, dict) else None
    out[str(named or "form")] = [error_text(exc, locale)]
    return out


def _int_or_none(value: object) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() else None


def _choices(session: Session, principal: Principal) -> dict[str, Any]:
    return {
        "roles": admin.assignable_roles(principal),
        "units": admin.units_in_scope(session, principal),
    }


async def _form(request: Request) -> FormData:
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token") or ""))
    return form


# --------------------------------------------------------------------------- the list


@router.get("/users", response_class=HTMLResponse)
def users_page(
    request: Request,
    session: DbSession,
    principal: UserAdmin,
    q: str = "",
    unit_id: str = "",
    role: str = "",
) -> Response:
    chosen_role = Role(role) if role in Role.__members__ else None
    users = admin.list_accounts(
        session, principal, text=q, unit_id=_int_or_none(unit_id), role=chosen_role
    )
    return render(
        request,
        "users/index.html",
        users=users,
        live=accounts.live_sessions(session, utcnow()),
        flash=pop_flash(request),
        q=q[:64],
        unit_id=_int_or_none(unit_id),
        role=chosen_role,
        unit_names={u.id: u.name for u in admin.units_in_scope(session, principal)},
        all_roles=list(Role),
        archive_ids=archives.readable_members(session, principal, (u.id for u in users)),
        **_choices(session, principal),
    )


# --------------------------------------------------------------------------- create


def _new_page(
    request: Request,
    session: Session,
    principal: Principal,
    settings: AppSettings,
    values: dict[str, Any],
    errors: FormErrors,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "users/new.html",
        status_code=status_code,
        values=values,
        errors=errors,
        min_length=settings.password_min_length,
        **_choices(session, principal),
    )


@router.get("/users/new", response_class=HTMLResponse)
def users_new(
    request: Request, session: DbSession, settings: AppSettings, principal: UserAdmin
) -> Response:
    return _new_page(request, session, principal, settings, {}, {})


@router.post("/users/new", response_class=HTMLResponse)
async def users_create(
    request: Request, session: DbSession, settings: AppSettings, principal: UserAdmin
) -> Response:
    form = await _form(request)
    values = {k: str(form.get(k) or "") for k in UserCreate.model_fields if k != "password"}
    try:
        data = UserCreate.model_validate(
            {
                **values,
                "password": str(form.get("password") or ""),
                "org_unit_id": _int_or_none(values["org_unit_id"]),
                "enterprise_id": None,
            }
        )
        with session.begin_nested():
            user = admin.create_account(session, principal, settings=settings, **data.model_dump())
    except (DomainError, ValidationError) as exc:
        errors = _form_errors(exc, request_locale(request))
        return _new_page(request, session, principal, settings, values, errors, 422)
    flash(request, ok="users.flash.created")
    return RedirectResponse(f"/users/{user.id}", status_code=303)


# --------------------------------------------------------------------------- one account


def _detail_page(
    request: Request,
    session: Session,
    principal: Principal,
    settings: Settings,
    user: User,
    errors: FormErrors,
    status_code: int = 200,
) -> Response:
    locale = request_locale(request)
    history = readable_history(
        session,
        entries_for(session, entity_type="user", entity_id=user.id),
        locale=locale,
        tz=ZoneInfo(settings.timezone),
    )
    return render(
        request,
        "users/detail.html",
        status_code=status_code,
        u=user,
        errors=errors,
        history=history,
        live=accounts.live_sessions(session, utcnow()).get(user.id, 0),
        flash=pop_flash(request),
        is_self=user.id == principal.user_id,
        groups=grids.groups_of_member(session, principal, user),
        joinable=grids.joinable_groups(session, principal, user),
        archive_ids=archives.readable_members(session, principal, [user.id]),
        **_choices(session, principal),
    )


@router.get("/users/{user_id}", response_class=HTMLResponse)
def users_detail(
    user_id: int, request: Request, session: DbSession, principal: UserAdmin, settings: AppSettings
) -> Response:
    user = admin.get_account(session, principal, user_id)
    return _detail_page(request, session, principal, settings, user, {})


@router.post("/users/{user_id}", response_class=HTMLResponse)
async def users_edit(
    user_id: int, request: Request, session: DbSession, principal: UserAdmin, settings: AppSettings
) -> Response:
    form = await _form(request)
    user = admin.get_account(session, principal, user_id)
    try:
        data = UserUpdate.model_validate(
            {
                "display_name": str(form.get("display_name") or ""),
                "phone": str(form.get("phone") or ""),
                "org_unit_id": _int_or_none(form.get("org_unit_id")),
                "role": str(form.get("role") or user.role.value),
            }
        )
        fields = data.model_dump(include=set(admin.EDITABLE), exclude_none=True)
        with session.begin_nested():
            admin.edit_account(session, principal, user, **fields)
    except (DomainError, ValidationError) as exc:
        session.refresh(user)
        errors = _form_errors(exc, request_locale(request))
        return _detail_page(request, session, principal, settings, user, errors, 422)
    flash(request, ok="users.flash.saved")
    return RedirectResponse(f"/users/{user.id}", status_code=303)


@router.post("/users/{user_id}/sign-out")
async def users_sign_out(
    user_id: int, request: Request, session: DbSession, principal: UserAdmin
) -> Response:
    await _form(request)
    user = admin.get_account(session, principal, user_id)
    end_all_sessions(session, user.id, actor=principal, reason="admin")
    flash(request, ok="users.flash.signed_out")
    return RedirectResponse("/users", status_code=303)


@router.post("/users/{user_id}/active")
async def users_set_active(
    user_id: int, request: Request, session: DbSession, principal: UserAdmin
) -> Response:
    form = await _form(request)
    active = str(form.get("active") or "") == "1"
    user = admin.get_account(session, principal, user_id)
    try:
        with session.begin_nested():
            admin.set_account_active(session, principal, user, active)
    except DomainError as exc:
        flash(request, error=exc.text(request_locale(request)))
        return RedirectResponse(f"/users/{user.id}", status_code=303)
    flash(request, ok="users.flash.enabled" if active else "users.flash.disabled")
    return RedirectResponse("/users", status_code=303)


@router.post("/users/{user_id}/grid-group")
async def users_join_group(
    user_id: int, request: Request, session: DbSession, principal: UserAdmin
) -> Response:
    form = await _form(request)
    user = admin.get_account(session, principal, user_id)
    grid_id, _, group_id = str(form.get("group") or "").partition(":")
    try:
        with session.begin_nested():
            grids.add_member(
                session, principal, _int_or_none(grid_id) or 0, _int_or_none(group_id) or 0, user.id
            )
    except DomainError as exc:
        flash(request, error=exc.text(request_locale(request)))
    else:
        flash(request, ok="users.flash.grid_saved")
    return RedirectResponse(f"/users/{user.id}", status_code=303)


@router.post("/users/{user_id}/reset-password", response_class=HTMLResponse)
async def users_reset_password(
    user_id: int,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    principal: UserAdmin,
) -> Response:
    await _form(request)
    user = admin.get_account(session, principal, user_id)
    try:
        with session.begin_nested():
            password = admin.reset_password(session, principal, user, settings=settings)
    except DomainError as exc:
        flash(request, error=exc.text(request_locale(request)))
        return RedirectResponse(f"/users/{user.id}", status_code=303)
    page = render(request, "users/reset.html", u=user, password=password)
    page.headers.update(NO_STORE)  # shown once: never kept by the browser or a proxy
    return page


# --------------------------------------------------------------------------- own password


def _password_page(
    request: Request, session: Session, principal: Principal, errors: FormErrors, status: int
) -> Response:
    user = session.get(User, principal.user_id)
    forced = bool(user and user.must_change_password)
    return render(request, "users/password.html", status_code=status, errors=errors, forced=forced)


@router.get("/account/password", response_class=HTMLResponse)
def password_page(request: Request, session: DbSession, principal: CurrentPrincipal) -> Response:
    return _password_page(request, session, principal, {}, 200)


@router.post("/account/password", response_class=HTMLResponse)
async def password_submit(
    request: Request, session: DbSession, settings: AppSettings, principal: CurrentPrincipal
) -> Response:
    form = await _form(request)
    user = session.get(User, principal.user_id)
    assert user is not None  # the principal was just loaded from it
    new = str(form.get("new_password") or "")
    locale = request_locale(request)
    if new != str(form.get("new_password2") or ""):
        errors = {"new_password2": [error_text(_Mismatch(), locale)]}
        return _password_page(request, session, principal, errors, 422)
    current = str(form.get("current_password") or "")
    try:
        verify_current_password(
            session, user, password=current, ip=client_ip(request), settings=settings
        )
    except DomainError as exc:
        session.commit()  # the failed try counts towards the back-off
        errors = {"current_password": [exc.text(locale)]}
        return _password_page(request, session, principal, errors, exc.status_code)
    try:
        with session.begin_nested():
            change_password(session, user, actor=principal, new_password=new, settings=settings)
    except DomainError as exc:
        errors = {"new_password": [exc.text(locale)]}
        return _password_page(request, session, principal, errors, 422)
    request.session.pop(SESSION_KEY, None)  # every session ended: sign in with the new one
    return RedirectResponse("/login", status_code=303)


class _Mismatch(DomainError):
    """The two new passwords differ (shown next to the second one)."""

    status_code = 422

    def __init__(self) -> None:
        super().__init__("account.password.mismatch")
