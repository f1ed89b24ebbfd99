"""Helpers shared by the case, credit and notification pages: redirects and rendering with
the local time zone (flash messages and savepoint attempts are in ``web.forms``)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from dustgrid.config import Settings
from dustgrid.web.templating import render


def show(
    request: Request, settings: Settings, name: str, status_code: int = 200, **ctx: Any
) -> Response:
    """``render`` with the city's time zone (``tz``, the ``timezone`` setting), which the
    case, credit, notification and hotline templates print times in."""
    return render(request, name, status_code=status_code, tz=ZoneInfo(settings.timezone), **ctx)


def back(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)
