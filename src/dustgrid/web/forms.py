"""What every page form shares: the one-time flash message, the savepoint attempt that turns
a refused change into that message, and the readable text of a refused input.

A refused change (422/409 and the like) rolls back to a savepoint and comes back on the next
page as a flash; 401/403/404 are not caught and show the error page like any other page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from fastapi import Request
from pydantic import ValidationError
from sqlalchemy.orm import Session

from dustgrid.errors import DomainError, validation_messages, validation_summary
from dustgrid.web.templating import request_locale

T = TypeVar("T")
FLASH = "flash"  # the session key the shared ``org/_flash.html`` partial reads
FLASH_ERROR_CHARS = 500  # a flashed error is cut to this many characters (session cookie size)
# Statuses a page does not turn into a flash: they show the error page instead.
NOT_FLASHED = frozenset({401, 403, 404})


def flash(
    request: Request, *, ok: str | None = None, error: str | None = None, key: str = FLASH
) -> None:
    """One message for the next page: ``ok`` is an i18n key, ``error`` a text
    in the reader's language."""
    request.session[key] = {"ok": ok, "error": (error or "")[:FLASH_ERROR_CHARS] or None}


def pop_flash(request: Request, *, key: str = FLASH) -> dict[str, str | None]:
    """The message left by the previous request (once), or an empty one."""
    return request.session.pop(key, None) or {"ok": None, "error": None}


def error_text(exc: Exception, locale: str | None = None) -> str:
    """What a refused input or change says to the user, on one line, in ``locale``."""
    if isinstance(exc, ValidationError):
        return validation_summary(exc.errors(), locale=locale)
    if isinstance(exc, DomainError):
        return exc.text(locale)
    return str(exc)


def field_errors(exc: Exception, locale: str | None = None) -> list[str]:
    """The same as ``error_text``, one line per wrong field (for a form's error list)."""
    if isinstance(exc, ValidationError):
        return validation_messages(exc.errors(), locale=locale)
    return [error_text(exc, locale)]


def attempt(
    request: Request, session: Session, action: Callable[[], T], *, key: str = FLASH
) -> T | None:
    """Run a change in a savepoint; on a refused change flash why and return None."""
    try:
        with session.begin_nested():
            return action()
    except DomainError as exc:
        if exc.status_code in NOT_FLASHED:
            raise
        flash(request, error=exc.text(request_locale(request)), key=key)
    except ValidationError as exc:
        flash(request, error=error_text(exc, request_locale(request)), key=key)
    return None
