"""The project's ``APIRouter``: one that can say "not mine" without trying every route.

FastAPI matches a request against the included routers in turn; each router tries each of
its routes (a regular expression and two scope keys saved and restored per route), about
10 µs per route passed. A page router included late in the app (the case pages are the
24th of 43 routers) paid 2–3 ms of CPU per request before its own routes were reached
(docs/performance.md, "Site and case pages").

:class:`Router` keeps the literal start of each of its route paths (up to the first path
parameter) and answers ``Match.NONE`` at once when the request path begins with none of
them: a path no route of the router could match. Otherwise it matches exactly as FastAPI
does, so the order of routers and routes, 405 answers (a partial match) and redirects keep
their meaning. Routers are included into the app without a prefix (``app._include_routers``),
so a route's own path is the path it answers.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette._utils import get_route_path
from starlette.routing import Host, Match, Mount
from starlette.types import Scope


def literal_start(path: str) -> tuple[str, bool]:
    """The part of a route path before its first parameter, and whether it is the whole
    path (a route without parameters matches only that exact path)."""
    cut = path.find("{")
    return (path, True) if cut < 0 else (path[:cut], False)


class Router(APIRouter):
    """An ``APIRouter`` that rejects a path none of its routes could match in one step."""

    _index_version: Any = None
    _exact: frozenset[str] = frozenset()
    _starts: tuple[str, ...] = ()
    _indexable: bool = False

    def _index(self) -> None:
        """(Re)build the index when the routes changed (routes are added at import time)."""
        version = self._get_routes_version()
        if version == self._index_version:
            return
        exact: set[str] = set()
        starts: set[str] = set()
        indexable = True
        for route in self.routes:
            inner = getattr(route, "original_router", None)  # an included router
            context = getattr(route, "include_context", None)
            if (
                isinstance(inner, Router)
                and not getattr(context, "prefix", "")
                and inner.indexable()
            ):
                exact |= inner._exact
                starts.update(inner._starts)
                continue
            path = getattr(route, "path", None)
            if not isinstance(path, str) or isinstance(route, Mount | Host):
                indexable = False  # a mount or a plain router: match it the usual way
                break
            start, whole = literal_start(path)
            (exact if whole else starts).add(start)
        self._exact, self._starts = frozenset(exact), tuple(sorted(starts))
        self._indexable = indexable
        self._index_version = version

    def indexable(self) -> bool:
        """Whether every route has a path of its own (or sits in an indexable router)."""
        self._index()
        return self._indexable

    def could_match(self, path: str) -> bool:
        """False only when no route of this router could match ``path``."""
        self._index()
        if not self._indexable:
            return True
        return path in self._exact or path.startswith(self._starts)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope.get("type") in ("http", "websocket") and not self.could_match(
            get_route_path(scope)
        ):
            return Match.NONE, {}
        return super().matches(scope)
