"""What every page form shares: the one-time flash message, the savepoint attempt that turns
a refused change into that message, and the readable text of a refused input.

A refused change (422/409 and the like) rolls back to a savepoint and comes back on the next
page as a flash; 401/403/404 are not caught and show the error page like any other page.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session

from dustgrid.errors import (
    DomainError,
    validation_messages,
    validation_summary,
    validation_text,
)
from dustgrid.i18n import DEFAULT_LOCALE, translate
from dustgrid.web.templating import render, request_locale

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


_NOT_NAMES = ("body", "query", "path", "form")


def _form_name(loc: Sequence[Any], labels: Mapping[str, str]) -> str | None:
    """The form field a pydantic location points at (``contractor.uscc`` → ``contractor_uscc``)."""
    parts = [str(p) for p in loc if not str(p).isdigit() and str(p) not in _NOT_NAMES]
    for name in ("_".join(parts), parts[-1] if parts else ""):
        if name in labels:
            return name
    return None


def form_errors(
    exc: Exception, locale: str | None, labels: Mapping[str, str]
) -> tuple[dict[str, list[str]], list[str]]:
    """A refused form, said next to its fields: ``({field: [what is wrong]}, summary)``.

    ``labels`` maps the form's field names to their label keys, in form order. The summary
    (for the top of the form) names the wrong fields by their labels, then says in full
    what belongs to no field."""
    by_field: dict[str, list[str]] = {}
    general: list[str] = []
    if isinstance(exc, ValidationError):
        for error in exc.errors():
            name = _form_name(tuple(error.get("loc", ())), labels)
            if name is None:
                general.extend(validation_messages([error], locale=locale))
            else:
                by_field.setdefault(name, []).append(validation_text(error, locale))
    elif isinstance(exc, DomainError) and _detail_field(exc) in labels:
        by_field[_detail_field(exc)] = [exc.text(locale)]
    elif isinstance(exc, DomainError):
        general.append(exc.text(locale))
    else:  # a bare ValueError and the like: its text is the program's, not the reader's
        general.append(_invalid_input(locale or DEFAULT_LOCALE))
    loc = locale or DEFAULT_LOCALE
    summary = [translate(key, loc) for name, key in labels.items() if name in by_field]
    return by_field, summary + general


def form_page(
    request: Request,
    template: str,
    labels: Mapping[str, str],
    values: Mapping[str, str],
    exc: Exception | None = None,
    **context: Any,
) -> HTMLResponse:
    """A form page, blank or refused: with ``exc`` it answers 422 and says what is wrong
    next to each field (``field_errors``) and at the top (``errors``)."""
    by_field, summary = form_errors(exc, request_locale(request), labels) if exc else ({}, [])
    return render(
        request,
        template,
        status_code=422 if exc else 200,
        values=values,
        errors=summary,
        field_errors=by_field,
        **context,
    )


def _invalid_input(locale: str) -> str:
    sep = "：" if locale == DEFAULT_LOCALE else ": "
    return f"{translate('field.other', locale)}{sep}{translate('validation.invalid', locale)}"


def _detail_field(exc: DomainError) -> str:
    return str(exc.details.get("field", "")) if isinstance(exc.details, dict) else ""


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
