"""Token endpoint (OAuth2 password flow), logout, password change and account routes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Request, Response
from fastapi.security import OAuth2PasswordRequestForm

from dustgrid.auth import admin
from dustgrid.auth.deps import (
    AppSettings,
    CurrentPrincipal,
    DbSession,
    SigningKey,
    client_ip,
    require,
)
from dustgrid.auth.models import User
from dustgrid.auth.schemas import (
    Me,
    OneTimePassword,
    PasswordChange,
    SessionsEnded,
    Token,
    UserCreate,
    UserOut,
    UserUpdate,
)
from dustgrid.auth.service import (
    authenticate,
    change_password,
    end_all_sessions,
    issue_token,
    logout,
    verify_current_password,
)
from dustgrid.bounds import Id
from dustgrid.errors import API_ERROR_CODES, error_responses
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Perm, Role
from dustgrid.routing import Router

router = Router(prefix="/api/v1", tags=["auth"], responses=error_responses(*API_ERROR_CODES, 429))


@router.post("/auth/token", response_model=Token, summary="OAuth2 password flow: get a token")
def token(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    key: SigningKey,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
) -> Token:
    ip = client_ip(request)
    user = authenticate(
        session, username=form.username, password=form.password, ip=ip, settings=settings
    )
    return Token(
        access_token=issue_token(session, user, settings, key=key, ip=ip),
        expires_in=settings.token_ttl_minutes * 60,
    )


@router.post(
    "/auth/logout",
    status_code=204,
    summary="End this session (by default every session and token of the account)",
)
def api_logout(
    request: Request, session: DbSession, settings: AppSettings, principal: CurrentPrincipal
) -> Response:
    logout(session, principal, str(getattr(request.state, "session_id", "")), settings)
    if "session" in request.scope:
        request.session.clear()
    return Response(status_code=204)


@router.post(
    "/auth/password",
    response_model=SessionsEnded,
    summary="Change my password; ends every session and token of the account",
)
def api_change_password(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    principal: CurrentPrincipal,
    body: PasswordChange,
) -> SessionsEnded:
    user = session.get(User, principal.user_id)
    assert user is not None  # the principal was just loaded from it
    verify_current_password(
        session, user, password=body.current_password, ip=client_ip(request), settings=settings
    )
    ended = change_password(
        session, user, actor=principal, new_password=body.new_password, settings=settings
    )
    return SessionsEnded(ended=ended)


@router.get("/auth/me", response_model=Me, summary="Who am I, and what do I cover")
def me(principal: CurrentPrincipal) -> Me:
    return Me(
        id=principal.user_id,
        username=principal.username,
        display_name=principal.display_name,
        role=principal.role,
        org_unit_id=principal.org_unit_id,
        enterprise_id=principal.enterprise_id,
        grid_ids=sorted(principal.grid_ids),
    )


UserAdmin = Annotated[Principal, Depends(require(Perm.user_admin))]


@router.get("/users", response_model=list[UserOut], summary="Accounts in my scope")
def list_users(
    session: DbSession,
    principal: UserAdmin,
    q: Annotated[str, Query(max_length=64, description="Part of a name or user name")] = "",
    unit_id: Id | None = None,
    role: Role | None = None,
) -> Any:
    return admin.list_accounts(session, principal, text=q, unit_id=unit_id, role=role)


@router.post("/users", response_model=UserOut, status_code=201, summary="Create an account")
def add_user(
    session: DbSession, settings: AppSettings, principal: UserAdmin, body: UserCreate
) -> Any:
    return admin.create_account(session, principal, settings=settings, **body.model_dump())


@router.patch(
    "/users/{user_id}",
    response_model=UserOut,
    summary="Edit an account in scope; disabling or setting a password ends its sessions",
)
def update_user(
    user_id: Id,
    session: DbSession,
    settings: AppSettings,
    principal: UserAdmin,
    body: UserUpdate,
) -> Any:
    user = admin.get_account(session, principal, user_id)
    fields = body.model_dump(include=set(admin.EDITABLE), exclude_none=True)
    if fields:
        admin.edit_account(session, principal, user, **fields)
    if body.password is not None:
        change_password(
            session, user, actor=principal, new_password=body.password, settings=settings
        )
    if body.is_active is not None:
        admin.set_account_active(session, principal, user, body.is_active)
    return user


@router.post("/users/{user_id}/disable", response_model=UserOut, summary="Disable an account")
def disable_user(user_id: Id, session: DbSession, principal: UserAdmin) -> Any:
    user = admin.get_account(session, principal, user_id)
    return admin.set_account_active(session, principal, user, False)


@router.post("/users/{user_id}/enable", response_model=UserOut, summary="Enable an account")
def enable_user(user_id: Id, session: DbSession, principal: UserAdmin) -> Any:
    user = admin.get_account(session, principal, user_id)
    return admin.set_account_active(session, principal, user, True)


@router.post(
    "/users/{user_id}/reset-password",
    response_model=OneTimePassword,
    summary="Reset a password: a one-time password, to be changed at the next login",
)
def reset_user_password(
    user_id: Id, session: DbSession, settings: AppSettings, principal: UserAdmin
) -> OneTimePassword:
    user = admin.get_account(session, principal, user_id)
    password = admin.reset_password(session, principal, user, settings=settings)
    return OneTimePassword(user_id=user.id, password=password)


@router.delete(
    "/users/{user_id}/sessions",
    response_model=SessionsEnded,
    summary="Sign an account out everywhere (every page session and API token)",
)
def sign_out_everywhere(user_id: Id, session: DbSession, principal: UserAdmin) -> SessionsEnded:
    user = admin.get_account(session, principal, user_id)
    return SessionsEnded(ended=end_all_sessions(session, user.id, actor=principal, reason="admin"))
