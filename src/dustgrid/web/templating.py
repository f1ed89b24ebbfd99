"""The Jinja2 environment: translation, CSRF token and the current user in every page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from dustgrid.auth.deps import CSRF_FIELD, csrf_token
from dustgrid.config import get_settings
from dustgrid.i18n import DEFAULT_LOCALE, LOCALES, localize, translate
from dustgrid.web.evidence import metric_name, rule_name, unit_text
from dustgrid.web.nav import nav_items

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def request_locale(request: Request) -> str:
    """Locale from the ``lang`` cookie, else the settings' default (zh-CN)."""
    lang = request.cookies.get("lang") or get_settings().default_locale or DEFAULT_LOCALE
    return lang if lang in LOCALES else DEFAULT_LOCALE


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    locale = request_locale(request)
    principal = getattr(request.state, "principal", None)

    def t(key: str, **fmt: Any) -> str:
        text = translate(key, locale)
        return text.format(**fmt) if fmt else text

    def label(group: str, value: Any) -> str:
        raw = getattr(value, "value", value)
        return translate(f"{group}.{raw}", locale) if raw is not None else ""

    ctx = {
        "request": request,
        "t": t,
        "metric_name": lambda key: metric_name(key, locale),
        "unit_text": unit_text,
        "rule_name": lambda key, evidence=None: rule_name(key, locale, evidence),
        "localize": lambda value: localize(value, locale),
        "label": label,
        "locale": locale,
        "principal": principal,
        "nav_items": nav_items(principal, request.url.path),
        "csrf_field": CSRF_FIELD,
        "csrf_token": csrf_token(request),
        **context,
    }
    return templates.TemplateResponse(request, name, ctx, status_code=status_code)


def render_error(request: Request, status_code: int, message: str) -> HTMLResponse:
    return render(
        request, "error.html", status_code=status_code, status=status_code, message=message
    )
