"""Token endpoint (OAuth2 password flow), logout, password change and account routes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm

from dustgrid.auth import accounts
from dustgrid.auth.deps import AppSettings, CurrentPrincipal, DbSession, client_ip, require
from dustgrid.auth.models import User
from dustgrid.auth.schemas import (
    Me,
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
    create_user,
    end_all_sessions,
    issue_token,
    logout,
    set_active,
    verify_current_password,
)
from dustgrid.bounds import Id
from dustgrid.errors import API_ERROR_CODES, error_responses
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Perm

router = APIRouter(
    prefix="/api/v1", tags=["auth"], responses=error_responses(*API_ERROR_CODES, 429)
)


@router.post("/auth/token", response_model=Token, summary="OAuth2 password flow: get a token")
def token(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
) -> Token:
    ip = client_ip(request)
    user = authenticate(
        session, username=form.username, password=form.password, ip=ip, settings=settings
    )
    return Token(
        access_token=issue_token(session, user, settings, ip=ip),
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


@router.get("/users", response_model=list[UserOut], summary="All accounts (city admin)")
def list_users(
    session: DbSession, principal: Annotated[Principal, Depends(require(Perm.user_admin))]
) -> Any:
    return accounts.list_users(session)


@router.post("/users", response_model=UserOut, status_code=201, summary="Create an account")
def add_user(
    session: DbSession,
    settings: AppSettings,
    principal: Annotated[Principal, Depends(require(Perm.user_admin))],
    body: UserCreate,
) -> Any:
    return create_user(session, actor=principal, settings=settings, **body.model_dump())


@router.patch(
    "/users/{user_id}",
    response_model=UserOut,
    summary="Disable/enable an account or set its password (both end its sessions)",
)
def update_user(
    user_id: Id,
    session: DbSession,
    settings: AppSettings,
    principal: Annotated[Principal, Depends(require(Perm.user_admin))],
    body: UserUpdate,
) -> Any:
    user = accounts.get_user(session, user_id)
    if body.password is not None:
        change_password(
            session, user, actor=principal, new_password=body.password, settings=settings
        )
    if body.is_active is not None:
        set_active(session, user, actor=principal, active=body.is_active)
    return user


@router.delete(
    "/users/{user_id}/sessions",
    response_model=SessionsEnded,
    summary="Sign an account out everywhere (every page session and API token)",
)
def sign_out_everywhere(
    user_id: Id,
    session: DbSession,
    principal: Annotated[Principal, Depends(require(Perm.user_admin))],
) -> SessionsEnded:
    user = accounts.get_user(session, user_id)
    return SessionsEnded(ended=end_all_sessions(session, user.id, actor=principal, reason="admin"))
