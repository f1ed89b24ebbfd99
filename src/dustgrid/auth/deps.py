"""FastAPI dependencies: the database session, the principal, permission and CSRF checks."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from dustgrid.auth.models import User
from dustgrid.auth.principal import Principal
from dustgrid.auth.roles import Perm
from dustgrid.auth.service import load_principal, user_from_token
from dustgrid.config import Settings, get_settings
from dustgrid.db import get_session
from dustgrid.errors import Forbidden, Unauthenticated

DbSession = Annotated[Session, Depends(get_session, scope="function")]
AppSettings = Annotated[Settings, Depends(get_settings)]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use."""
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return str(token)


def check_csrf(request: Request, supplied: str | None) -> None:
    expected = request.session.get("csrf")
    if not expected or not supplied or not secrets.compare_digest(str(expected), supplied):
        raise Forbidden("CSRF 校验失败，请刷新页面后重试 / CSRF check failed, reload the page")


def get_principal(request: Request, session: DbSession, settings: AppSettings) -> Principal:
    """Bearer token (API clients) or the session cookie (pages and their scripts)."""
    auth = request.headers.get("authorization", "")
    user: User | None
    if auth.lower().startswith("bearer "):
        user = user_from_token(session, auth[7:].strip(), settings)
    else:
        uid = request.session.get("uid")
        user = session.get(User, uid) if uid else None
        if user is None or not user.is_active or (user.is_demo and not settings.demo_mode):
            raise Unauthenticated("请先登录 / please log in")
        if request.method not in SAFE_METHODS and request.url.path.startswith("/api/"):
            check_csrf(request, request.headers.get(CSRF_HEADER))
    principal = load_principal(session, user, ip=client_ip(request))
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require(perm: Perm) -> Callable[[Principal], Principal]:
    """Dependency factory: the principal, or 403 when the role lacks ``perm``."""

    def _check(principal: CurrentPrincipal) -> Principal:
        if not principal.can(perm):
            raise Forbidden(f"无权执行此操作 / your role may not do this ({perm.value})")
        return principal

    return _check
