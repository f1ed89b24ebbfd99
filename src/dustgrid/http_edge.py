"""The HTTP edge: request body limits per route class, cache policy and the Allow header.

``BodyLimit`` is a pure ASGI middleware. It runs before routing, so before any route reads
the body, parses a form, spools a file to the temporary folder or authenticates the caller:

* a declared ``Content-Length`` above the route class's limit is answered 413 at once,
  without reading a byte of the body;
* otherwise the bytes are counted as the route reads them, and the moment the count passes
  the limit the route gets no more (``http.disconnect``), whatever it answers is dropped
  and the client gets 413. Chunked bodies (no ``Content-Length``) are bounded the same way.

The limits are settings (``Settings.body_max_*``), chosen per route class: login and token
forms (tiny), the telemetry batch (larger), file uploads (derived from the attachment and
import caps) and everything else (JSON API bodies and page forms: moderate).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, MutableMapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from fastapi import params
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dustgrid.config import Settings


class BodyClass(StrEnum):
    login = "login"  # login and token forms: a user name, a password, a CSRF token
    telemetry = "telemetry"  # POST /api/v1/telemetry: up to telemetry_http_max_items readings
    upload = "upload"  # routes taking files: case attachments, Excel import, video snapshots
    default = "default"  # JSON API bodies, Open311 and page forms


# Routes whose class is not visible from their signature (they read the body themselves
# or are plain forms that must stay small).
PATH_CLASSES: dict[str, BodyClass] = {
    "/login": BodyClass.login,
    "/logout": BodyClass.login,
    "/api/v1/auth/token": BodyClass.login,
    "/sites/import": BodyClass.upload,  # the page reads its Excel file from the raw form
    "/api/v1/telemetry": BodyClass.telemetry,
    "/api/v1/webhooks/video-ai": BodyClass.upload,  # JSON or multipart with a snapshot
    "/citybrain/places/import": BodyClass.upload,  # the pages read their Excel from the form
    "/citybrain/trucks/import": BodyClass.upload,
}
# Routes under these prefixes (a path parameter follows), by class.
PREFIX_CLASSES: dict[str, BodyClass] = {
    "/api/v1/citybrain/fixes/batches/": BodyClass.telemetry,  # a batch of GPS fixes
}


def limits(settings: Settings) -> dict[BodyClass, int]:
    """Bytes allowed per route class (from the settings)."""
    upload = settings.body_max_upload_bytes
    if upload is None:
        upload = (
            max(
                settings.attachment_max_bytes * settings.attachment_max_files,
                settings.upload_max_bytes,
            )
            + settings.body_form_overhead_bytes
        )
    return {
        BodyClass.login: settings.body_max_login_bytes,
        BodyClass.telemetry: settings.body_max_telemetry_bytes,
        BodyClass.upload: upload,
        BodyClass.default: settings.body_max_default_bytes,
    }


def _takes_files(dependant: Dependant) -> bool:
    if any(isinstance(f.field_info, params.File) for f in dependant.body_params):
        return True
    return any(_takes_files(d) for d in dependant.dependencies)


def takes_files(route: APIRoute) -> bool:
    """True when the route (or one of its dependencies) declares a ``File()`` parameter."""
    return _takes_files(route.dependant)


@dataclass(frozen=True, slots=True)
class BodyPolicy:
    """Which limit applies to a path: fixed paths first, then routes that take files."""

    limits: dict[BodyClass, int]
    upload_routes: tuple[tuple[re.Pattern[str], frozenset[str]], ...]

    @classmethod
    def build(cls, settings: Settings, routes: Iterable[BaseRoute]) -> BodyPolicy:
        uploads = []
        for route in flat_routes(routes):
            api = _api_route(route)
            if api is not None and takes_files(api):
                uploads.append((route.path_regex, frozenset(route.methods or ())))
        return cls(limits(settings), tuple(uploads))

    def body_class(self, method: str, path: str) -> BodyClass:
        if path in PATH_CLASSES:
            return PATH_CLASSES[path]
        for prefix, cls in PREFIX_CLASSES.items():
            if path.startswith(prefix):
                return cls
        if any(method in methods and rx.match(path) for rx, methods in self.upload_routes):
            return BodyClass.upload
        return BodyClass.default

    def limit_for(self, method: str, path: str) -> int:
        return self.limits[self.body_class(method, path)]


def flat_routes(routes: Iterable[BaseRoute]) -> list[Any]:
    """Every route of the app with its full path (newer FastAPI keeps included routers
    nested and exposes the flattened view through ``iter_route_contexts``)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # FastAPI that still copies routes into the app's router
        return list(routes)
    return list(iter_route_contexts(list(routes)))


def _api_route(route: Any) -> APIRoute | None:
    original = getattr(route, "original_route", route)
    return original if isinstance(original, APIRoute) else None


class _TooLarge(Exception):
    """Raised into the route when its body passes the limit (the middleware answers)."""


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None


class BodyLimit:
    """Refuses request bodies over the route class's limit with 413, while streaming."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        policy: Callable[[], BodyPolicy],
        answer: Callable[[Request, int], Response],
    ) -> None:
        self.app = app
        self.policy = policy  # built lazily: the routes exist only once the app is assembled
        self.answer = answer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.policy().limit_for(scope["method"], scope["path"])
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            await self.answer(Request(scope), limit)(scope, receive, send)
            return
        await self._streamed(scope, receive, send, limit)

    async def _streamed(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """Runs the app while counting the body as it arrives: a chunked or lying request is
        cut off at the limit and answered with 413, unless the app already began answering."""
        seen = 0
        refused = False
        started = False

        async def limited_receive() -> Message:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    refused = True
                    raise _TooLarge
            return message

        async def guarded_send(message: MutableMapping[str, Any]) -> None:
            nonlocal started
            if refused:
                return  # whatever the route made of the cut-off body is not sent
            started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not refused or started:
                raise
        if refused and not started:
            await self.answer(Request(scope), limit)(scope, receive, send)


def allowed_methods(routes: Iterable[BaseRoute], scope: Scope) -> list[str]:
    """Every method some route serves at this path (Starlette names only the first route's)."""
    methods: set[str] = set()
    for route in flat_routes(routes):
        route_methods = getattr(route, "methods", None)
        regex = getattr(route, "path_regex", None)
        if route_methods and regex is not None and regex.match(scope["path"]):
            methods |= set(route_methods)
    return sorted(methods)
