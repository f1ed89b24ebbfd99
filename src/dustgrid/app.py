"""The web application: routers, middleware and error handlers in one place."""

from __future__ import annotations

import html
import json
from collections.abc import AsyncIterator, MutableMapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from dustgrid import __version__, wiring
from dustgrid.admission import Admission, AdmissionPolicy
from dustgrid.alerts.api import router as alerts_router
from dustgrid.assessments.api import router as assessments_router
from dustgrid.auth import deps as auth_deps
from dustgrid.auth.api import router as auth_router
from dustgrid.cases.api import router as cases_router
from dustgrid.cases.credit.api import router as credit_router
from dustgrid.config import Settings, get_settings
from dustgrid.devices.api import router as devices_api_router
from dustgrid.emergencies.api import router as emergencies_router
from dustgrid.errors import (
    Busy,
    DomainError,
    PasswordChangeRequired,
    Unauthenticated,
    validation_summary,
)
from dustgrid.grids.api import router as grids_router
from dustgrid.http_edge import BodyLimit, BodyPolicy, allowed_methods
from dustgrid.i18n import DEFAULT_LOCALE, Msg, accepted_locale, translate
from dustgrid.ingest.deadletter.api import router as dead_letter_router
from dustgrid.ingest.http.api import router as telemetry_ingest_router
from dustgrid.inspections.api import router as inspections_router
from dustgrid.intake.api import router as intake_router
from dustgrid.intake.open311 import spec as open311_spec
from dustgrid.intake.open311.api import PREFIX as OPEN311_PREFIX
from dustgrid.intake.open311.api import render as open311_render
from dustgrid.intake.open311.api import router as open311_router
from dustgrid.intake.open311.api import spec_http_error
from dustgrid.intake.video.api import router as video_ai_router
from dustgrid.notifications.api import router as notifications_router
from dustgrid.org.api import router as org_router
from dustgrid.overview.api import router as overview_router
from dustgrid.patrols.api import router as patrols_router
from dustgrid.reports.api import router as reports_router
from dustgrid.sites.api import router as sites_router
from dustgrid.telemetry.api import router as telemetry_router
from dustgrid.trajectories.api import router as trajectories_router
from dustgrid.web.alert_pages import router as alert_pages_router
from dustgrid.web.assessment_pages import router as assessment_pages_router
from dustgrid.web.case_pages import router as case_pages_router
from dustgrid.web.citybrain_pages import router as citybrain_pages_router
from dustgrid.web.credit_pages import router as credit_pages_router
from dustgrid.web.csp import content_security_policy, without_inline_scripts
from dustgrid.web.device_pages import router as device_pages_router
from dustgrid.web.emergency_pages import router as emergency_pages_router
from dustgrid.web.field_pages import router as field_pages_router
from dustgrid.web.ingest_pages import router as ingest_pages_router
from dustgrid.web.inspection_pages import router as inspection_pages_router
from dustgrid.web.intake_pages import router as intake_pages_router
from dustgrid.web.notification_pages import router as notification_pages_router
from dustgrid.web.org_pages import router as org_pages_router
from dustgrid.web.overview_pages import router as overview_pages_router
from dustgrid.web.pages import router as pages_router
from dustgrid.web.patrol_pages import router as patrol_pages_router
from dustgrid.web.report_pages import router as report_pages_router
from dustgrid.web.telemetry_pages import router as telemetry_pages_router
from dustgrid.web.templating import render_error, request_locale
from dustgrid.web.user_pages import router as user_pages_router

STATIC_DIR = Path(__file__).parent / "web" / "static"

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]


STATIC_PREFIX = "/static/"
NO_STORE = (b"cache-control", b"no-store")


class SecurityHeaders:
    """Adds browser hardening headers to every response, and ``Cache-Control: no-store`` to
    every dynamic one (pages and JSON may hold what only this user may see; a shared or
    back-button cache must not keep them). Static files keep their own caching."""

    def __init__(self, app: ASGIApp, csp: str = "") -> None:
        self.app = app
        self.headers = [*SECURITY_HEADERS, (b"content-security-policy", csp.encode())]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def _send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = message.setdefault("headers", [])
                headers.extend(self.headers)
                dynamic = not scope["path"].startswith(STATIC_PREFIX)
                if dynamic and not any(k.lower() == b"cache-control" for k, _ in headers):
                    headers.append(NO_STORE)
            await send(message)

        await self.app(scope, receive, _send)


def _is_api(request: Request) -> bool:
    return request.url.path.startswith(("/api/", "/open311/"))


#: Where a page request of an account with a one-time password is sent.
PASSWORD_PAGE = "/account/password"

#: What a page says for a routing error (the API keeps FastAPI's JSON answer).
PAGE_ERROR_KEYS = {404: "error.page_not_found", 405: "error.method_not_allowed"}


def _domain_error_answer(request: Request, exc: DomainError) -> Response:
    """A domain error as JSON in the caller's language, or as a page (a login redirect)."""
    if _is_api(request):
        headers = exc.http_headers()
        if isinstance(exc, Unauthenticated):
            headers["WWW-Authenticate"] = "Bearer"
        detail = exc.text(api_locale(request, exc))
        return _error_json(exc.status_code, detail, exc.details, headers or None)
    if isinstance(exc, PasswordChangeRequired):
        return RedirectResponse(PASSWORD_PAGE, status_code=303)
    if isinstance(exc, Unauthenticated):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
    page = render_error(request, exc.status_code, exc.text(request_locale(request)))
    page.headers.update(exc.http_headers())
    return page


def _routing_error_page(request: Request, exc: StarletteHTTPException) -> Response:
    """A 404 or 405 a browser gets: the error page in the reader's language."""
    text = translate(PAGE_ERROR_KEYS[exc.status_code], request_locale(request))
    page = render_error(request, exc.status_code, text)
    page.headers.update(exc.headers or {})
    return page


def api_locale(request: Request, exc: DomainError) -> str | None:
    """The language of an API error: ``Accept-Language``, else (for a keyed message) the
    user's locale, else zh-CN; None leaves an unconverted bilingual text as written."""
    asked = accepted_locale(request.headers.get("accept-language"))
    if asked is not None or not isinstance(exc.msg, Msg):
        return asked
    principal = getattr(request.state, "principal", None)
    return str(getattr(principal, "locale", None) or DEFAULT_LOCALE)


def _error_json(status: int, detail: str, errors: Any = None, headers: Any = None) -> JSONResponse:
    """An ``ErrorOut`` body (built as a dict: answering an error must not fail validation)."""
    body: dict[str, Any] = {"detail": detail}
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, headers=headers)


def body_too_large(request: Request, limit: int) -> Response:
    """The 413 of ``BodyLimit`` in the format of the part of the app that was asked."""
    path = request.url.path
    if path.startswith("/open311/"):
        fmt = "xml" if path.endswith(".xml") else "json"
        text = f"request body too large (limit {limit} bytes)"
        return open311_render(fmt, "errors", open311_spec.errors(413, text), 413)
    if _is_api(request):
        locale = accepted_locale(request.headers.get("accept-language")) or DEFAULT_LOCALE
        detail = translate("http.body_too_large", locale).format(limit=limit)
        return _error_json(413, detail, {"limit": limit})
    message = translate("http.body_too_large", request_locale(request)).format(limit=limit)
    return render_error(request, 413, message)


def admission_policy(settings: Settings) -> AdmissionPolicy:
    return AdmissionPolicy(
        slots=settings.web_threads,
        queue_max=settings.web_queue_max,
        queue_wait_s=settings.web_queue_wait_s,
        retry_after_s=settings.web_busy_retry_after_s,
    )


def busy_answer(scope: Scope, retry_after_s: int) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """The admission gate's refusal, built without routing or a database: JSON for the API,
    a short page for a browser, in the language the client asks for."""
    headers = dict(scope.get("headers") or [])
    locale = accepted_locale(headers.get(b"accept-language", b"").decode("latin-1"))
    text = translate("error.busy", locale or DEFAULT_LOCALE).format(retry_after_s=retry_after_s)
    common = [(b"retry-after", str(retry_after_s).encode())]
    if str(scope.get("path", "")).startswith(("/api/", "/open311/")):
        body = json.dumps({"detail": text}, ensure_ascii=False).encode()
        return 503, [*common, (b"content-type", b"application/json")], body
    lang = (locale or DEFAULT_LOCALE).encode()
    page = b'<!doctype html><html lang="%s"><meta charset="utf-8"><title>503</title><p>%s</p>'
    return (
        503,
        [*common, (b"content-type", b"text/html; charset=utf-8")],
        page
        % (
            lang,
            html.escape(text).encode(),
        ),
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    auth_deps.register()  # the resolver behind identity.deps.CurrentPrincipal
    wiring.load()  # domains register their outbox handlers and periodic work

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Request threads = admission slots: the gate, the threads and the database pool
        # are sized by one setting, so an admitted request never queues for a thread.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.web_threads
        yield

    app = FastAPI(
        lifespan=lifespan,
        title="DustGrid 工地扬尘在线管控平台",
        version=__version__,
        description="City Brain construction-site dust online control platform. "
        "Authenticate with `POST /api/v1/auth/token` (OAuth2 password flow).",
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json" if settings.api_docs() else None,
    )
    # Resolved once, here: the session cookies and the bearer tokens of this app are signed
    # with it (auth.deps.signing_key); every process reads the same key file.
    app.state.secret_key = settings.resolved_secret_key()
    # Innermost of the middlewares (added first): the session and the security headers
    # wrap its 413 too, and it still runs before routing, parsing and authentication.
    app.add_middleware(BodyLimit, policy=lambda: _policy(app, settings), answer=body_too_large)
    # Back-pressure before anything costly (sessions, routing, the database): a saturated
    # process answers 503 at once (admission.py).
    app.add_middleware(Admission, policy=admission_policy(settings), refusal=busy_answer)
    app.add_middleware(
        SessionMiddleware,
        secret_key=app.state.secret_key,
        session_cookie="dustgrid_session",
        max_age=settings.session_ttl_minutes * 60,
        same_site="lax",
        https_only=settings.cookie_secure,
    )
    app.add_middleware(SecurityHeaders, csp=content_security_policy(settings))

    _add_error_handlers(app)
    _include_routers(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    if settings.api_docs():
        _add_docs(app)

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(status_code=204)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    return app


def _add_error_handlers(app: FastAPI) -> None:
    """The app's answers to domain, validation and routing errors (JSON for the API,
    pages for the browser, the spec's list for Open311), kept apart from ``create_app``."""

    @app.exception_handler(DomainError)
    async def _domain_error(request: Request, exc: DomainError) -> Response:
        return _domain_error_answer(request, exc)

    @app.exception_handler(PoolTimeout)
    async def _pool_timeout(request: Request, exc: PoolTimeout) -> Response:
        """No database connection within ``db_pool_timeout_s``: busy, not broken."""
        wait = get_settings().web_busy_retry_after_s
        busy = Busy("error.busy", details={"retry_after_s": wait}, retry_after_s=wait)
        return _domain_error_answer(request, busy)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        text = validation_summary(errors)
        if _is_api(request):
            return _error_json(422, text, errors)
        return render_error(request, 422, text)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        """Routing errors (404, 405): FastAPI's answer, with the right ``Allow`` on 405;
        Open311 clients get the spec's error list, even for a path that does not exist."""
        if request.url.path.startswith(OPEN311_PREFIX):
            return spec_http_error(request, exc)
        if exc.status_code == 405:
            allow = ", ".join(allowed_methods(app.router.routes, request.scope))
            exc = StarletteHTTPException(405, exc.detail, headers={"Allow": allow})
        if not _is_api(request) and exc.status_code in PAGE_ERROR_KEYS:
            return _routing_error_page(request, exc)
        return await http_exception_handler(request, exc)


def _include_routers(app: FastAPI) -> None:
    """Every domain's routers, in the order that matters where paths overlap."""
    app.include_router(auth_router)
    app.include_router(sites_router)
    app.include_router(org_router)
    app.include_router(grids_router)
    app.include_router(patrols_router)
    app.include_router(assessments_router)
    app.include_router(reports_router)
    app.include_router(pages_router)
    app.include_router(overview_router)
    app.include_router(overview_pages_router)
    app.include_router(patrol_pages_router)
    app.include_router(assessment_pages_router)
    app.include_router(report_pages_router)
    app.include_router(org_pages_router)
    app.include_router(user_pages_router)
    app.include_router(intake_router)  # before cases: /api/v1/cases/intake is literal
    app.include_router(open311_router)
    app.include_router(video_ai_router)
    app.include_router(intake_pages_router)
    app.include_router(cases_router)
    app.include_router(trajectories_router)
    app.include_router(citybrain_pages_router)
    app.include_router(credit_router)
    app.include_router(notifications_router)
    app.include_router(case_pages_router)
    app.include_router(credit_pages_router)
    app.include_router(notification_pages_router)
    app.include_router(devices_api_router)
    app.include_router(device_pages_router)
    app.include_router(telemetry_router)
    app.include_router(telemetry_ingest_router)
    app.include_router(dead_letter_router)
    app.include_router(ingest_pages_router)
    app.include_router(telemetry_pages_router)
    app.include_router(alerts_router)
    app.include_router(alert_pages_router)
    app.include_router(emergencies_router)
    app.include_router(emergency_pages_router)
    app.include_router(inspections_router)
    app.include_router(inspection_pages_router)
    app.include_router(field_pages_router)


def _add_docs(app: FastAPI) -> None:
    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        """Swagger UI from the vendored bundle: nothing is fetched at run time."""
        page = get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} · API",
            swagger_js_url="/static/vendor/swagger-ui-dist/swagger-ui-bundle.js",
            swagger_css_url="/static/vendor/swagger-ui-dist/swagger-ui.css",
            swagger_favicon_url="/static/vendor/swagger-ui-dist/favicon-32x32.png",
        )
        html = bytes(page.body).decode()
        return HTMLResponse(without_inline_scripts(html, app.openapi_url or "/openapi.json"))


def _policy(app: FastAPI, settings: Settings) -> BodyPolicy:
    """The body policy of the assembled app, built on its first request."""
    policy: BodyPolicy | None = getattr(app.state, "body_policy", None)
    if policy is None:
        policy = app.state.body_policy = BodyPolicy.build(settings, app.router.routes)
    return policy
