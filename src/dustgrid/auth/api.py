"""Token endpoint (OAuth2 password flow) and account routes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy import select

from dustgrid.auth.deps import AppSettings, CurrentPrincipal, DbSession, client_ip, require
from dustgrid.auth.models import User
from dustgrid.auth.principal import Principal
from dustgrid.auth.roles import Perm
from dustgrid.auth.schemas import Me, Token, UserCreate, UserOut
from dustgrid.auth.service import authenticate, create_user, issue_token
from dustgrid.errors import API_ERROR_CODES, error_responses

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
    user = authenticate(
        session,
        username=form.username,
        password=form.password,
        ip=client_ip(request),
        settings=settings,
    )
    return Token(
        access_token=issue_token(user, settings), expires_in=settings.token_ttl_minutes * 60
    )


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
    return list(session.scalars(select(User).order_by(User.username)))


@router.post("/users", response_model=UserOut, status_code=201, summary="Create an account")
def add_user(
    session: DbSession,
    principal: Annotated[Principal, Depends(require(Perm.user_admin))],
    body: UserCreate,
) -> Any:
    return create_user(session, actor=principal, **body.model_dump())
