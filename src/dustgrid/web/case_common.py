"""Helpers shared by the case, credit and notification pages: redirects and rendering with
the local time zone (flash messages and savepoint attempts are in ``web.forms``)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from dustgrid.web.templating import render
from dustgrid.workcal.calendar import CHINA_TZ


def show(request: Request, name: str, status_code: int = 200, **ctx: Any) -> Response:
    """``render`` with the local time zone the case templates print times in."""
    return render(request, name, status_code=status_code, tz=CHINA_TZ, **ctx)


def back(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)
