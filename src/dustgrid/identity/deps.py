"""Request dependencies every domain's routes use: the session, the settings, the principal.

Domains sit below ``auth`` (docs/architecture.md, *Layers*), so their ``api.py`` modules take
the principal from here, not from ``auth``. How a request becomes a principal (bearer token
or session cookie, CSRF, the ``auth_session`` row) is ``auth``'s business: ``create_app``
registers ``auth.deps.get_principal`` with :func:`set_principal_resolver`. Until then every
route that needs a principal fails loudly (never an anonymous principal).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from dustgrid.config import Settings, get_settings
from dustgrid.db import get_session
from dustgrid.errors import Forbidden
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Perm


async def app_settings() -> Settings:
    """The settings as a dependency. ``async`` on purpose: FastAPI runs a plain ``def``
    dependency in a worker thread, a hop that cost about 0.2 ms of CPU per request for a
    cached lookup (docs/performance.md, "CPU per request"). Tests override this one."""
    return get_settings()


DbSession = Annotated[Session, Depends(get_session, scope="function")]
AppSettings = Annotated[Settings, Depends(app_settings)]

PrincipalResolver = Callable[[Request, Session, Settings], Principal]
_resolver: list[PrincipalResolver] = []


def set_principal_resolver(resolver: PrincipalResolver) -> None:
    """Register how a request is turned into a principal (``auth`` does, at app creation)."""
    _resolver[:] = [resolver]


def current_principal(request: Request, session: DbSession, settings: AppSettings) -> Principal:
    """The signed-in principal of this request, through the registered resolver."""
    if not _resolver:
        raise RuntimeError("no principal resolver registered: create the app with create_app()")
    return _resolver[0](request, session, settings)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require(perm: Perm) -> Callable[[Principal], Awaitable[Principal]]:
    """Dependency factory: the principal, or 403 when the role lacks ``perm``."""

    async def _check(principal: CurrentPrincipal) -> Principal:  # async: no thread hop
        if not principal.can(perm):
            raise Forbidden("auth.error.forbidden", details={"permission": perm.value})
        return principal

    return _check
