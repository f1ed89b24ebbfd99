"""Helpers shared by the case, credit and notification pages: flash messages, savepoint
attempts, redirects, and rendering with the local time zone."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from dustgrid.errors import DomainError
from dustgrid.web.templating import render
from dustgrid.workcal.calendar import CHINA_TZ

T = TypeVar("T")
FLASH = "flash"


def flash(request: Request, *, ok: str | None = None, error: str | None = None) -> None:
    request.session[FLASH] = {"ok": ok, "error": (error or "")[:500] or None}


def pop_flash(request: Request) -> dict[str, str | None]:
    return request.session.pop(FLASH, None) or {"ok": None, "error": None}


def attempt(request: Request, session: Session, action: Callable[[], T]) -> T | None:
    """Run a change in a savepoint; on a refused change (422/409) flash why, return None."""
    try:
        with session.begin_nested():
            return action()
    except DomainError as exc:
        if exc.status_code in (403, 404):
            raise
        flash(request, error=exc.message)
    return None


def show(request: Request, name: str, status_code: int = 200, **ctx: Any) -> Response:
    """``render`` with the local time zone the case templates print times in."""
    return render(request, name, status_code=status_code, tz=CHINA_TZ, **ctx)


def back(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)
