"""FastAPI dependencies: the database session, the principal, permission and CSRF checks."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from dustgrid.auth.models import User
from dustgrid.auth.service import load_principal, user_from_cookie_session, user_from_token
from dustgrid.config import Settings, get_settings
from dustgrid.db import get_session
from dustgrid.errors import Forbidden, Unauthenticated
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Perm

DbSession = Annotated[Session, Depends(get_session, scope="function")]
AppSettings = Annotated[Settings, Depends(get_settings)]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
# Key of the server-side session id inside the signed cookie (the cookie keeps no user id).
SESSION_KEY = "sid"


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
    """Bearer token (API clients) or the session cookie (pages and their scripts).

    Both carry only a session id that is looked up in ``auth_session`` on every request
    (no cache), so a logout or "sign out everywhere" in any process takes effect at once.
    """
    auth = request.headers.get("authorization", "")
    user: User | None
    if auth.lower().startswith("bearer "):
        user, sid = user_from_token(session, auth[7:].strip(), settings)
    else:
        sid = str(request.session.get(SESSION_KEY) or "")
        user = user_from_cookie_session(session, sid, settings) if sid else None
        if user is None:
            if sid:
                request.session.clear()  # an ended session: drop the stale cookie content
            raise Unauthenticated("请先登录 / please log in")
        if request.method not in SAFE_METHODS and request.url.path.startswith("/api/"):
            check_csrf(request, request.headers.get(CSRF_HEADER))
    principal = load_principal(session, user, ip=client_ip(request))
    request.state.principal = principal
    request.state.session_id = sid
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require(perm: Perm) -> Callable[[Principal], Principal]:
    """Dependency factory: the principal, or 403 when the role lacks ``perm``."""

    def _check(principal: CurrentPrincipal) -> Principal:
        if not principal.can(perm):
            raise Forbidden(f"无权执行此操作 / your role may not do this ({perm.value})")
        return principal

    return _check
