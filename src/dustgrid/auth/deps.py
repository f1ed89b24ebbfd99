"""FastAPI dependencies: the database session, the principal, permission and CSRF checks."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from dustgrid.auth.service import (
    SESSION_COOKIE,
    SESSION_TOKEN,
    identity_for_session,
    token_claims,
    user_from_token,
)
from dustgrid.config import Settings
from dustgrid.errors import Forbidden, PasswordChangeRequired, Unauthenticated
from dustgrid.identity.deps import (
    AppSettings,
    CurrentPrincipal,
    DbSession,
    require,
    set_principal_resolver,
)
from dustgrid.identity.principal import Principal

# Re-exported for web pages and ingest routes (above auth); domains import identity.deps.
__all__ = [
    "AppSettings",
    "CurrentPrincipal",
    "DbSession",
    "check_csrf",
    "client_ip",
    "csrf_token",
    "get_principal",
    "register",
    "require",
    "signing_key",
]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
# Key of the server-side session id inside the signed cookie (the cookie keeps no user id).
SESSION_KEY = "sid"
# What an account with a one-time password (an admin's reset) may still reach.
PASSWORD_CHANGE_PATHS = frozenset(
    {
        "/account/password",
        "/logout",
        "/api/v1/auth/password",
        "/api/v1/auth/logout",
        "/api/v1/auth/me",
    }
)


def app_signing_key(request: Request) -> str:
    """The key that signs this app's session cookies and tokens, resolved once by
    ``create_app`` (``Settings.resolved_secret_key``): no file read per request."""
    return str(request.app.state.secret_key)


async def signing_key(request: Request) -> str:
    """The signing key as a dependency (``async``: no worker-thread hop for a lookup)."""
    return app_signing_key(request)


SigningKey = Annotated[str, Depends(signing_key)]


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
        raise Forbidden("auth.error.csrf")


def get_principal(request: Request, session: Session, settings: Settings) -> Principal:
    """Bearer token (API clients) or the session cookie (pages and their scripts).

    Both carry only a session id that is looked up in ``auth_session`` on every request
    (no cache), so a logout or "sign out everywhere" in any process takes effect at once.
    One statement reads the session, the account, its unit and its grids
    (``identity_for_session``).
    """
    auth = request.headers.get("authorization", "")
    ip = client_ip(request)
    if auth.lower().startswith("bearer "):
        token = auth[7:].strip()
        key = app_signing_key(request)
        user_id, sid = token_claims(token, key)
        found = identity_for_session(
            session, sid, kind=SESSION_TOKEN, settings=settings, user_id=user_id, ip=ip
        )
        if found is None:
            user_from_token(session, token, settings, key)  # raises the error that says why
            raise Unauthenticated("auth.error.session_ended")
    else:
        sid = str(request.session.get(SESSION_KEY) or "")
        found = identity_for_session(session, sid, kind=SESSION_COOKIE, settings=settings, ip=ip)
        if found is None:
            if sid:
                request.session.clear()  # an ended session: drop the stale cookie content
            raise Unauthenticated("auth.error.login_required")
        if request.method not in SAFE_METHODS and request.url.path.startswith("/api/"):
            check_csrf(request, request.headers.get(CSRF_HEADER))
    if found.must_change_password and request.url.path not in PASSWORD_CHANGE_PATHS:
        raise PasswordChangeRequired("auth.error.must_change_password")
    request.state.principal = found.principal
    request.state.session_id = sid
    return found.principal


def register() -> None:
    """Make :func:`get_principal` the resolver behind ``identity.deps.CurrentPrincipal``."""
    set_principal_resolver(get_principal)
