"""Domain errors mapped to HTTP answers in one place (see ``app.py``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field


class DomainError(Exception):
    """An error a user can act on; ``message`` is shown as is (zh-CN first, then English)."""

    status_code = 400

    def __init__(self, message: str, *, details: Any = None, persist: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        # True when what the request wrote before failing must still be committed
        # (a failed login attempt is evidence the throttle needs).
        self.persist = persist

    def http_headers(self) -> dict[str, str]:
        """Headers the answer carries besides the body (none by default)."""
        return {}


class NotFound(DomainError):
    status_code = 404


class Forbidden(DomainError):
    status_code = 403


class Conflict(DomainError):
    status_code = 409


class Invalid(DomainError):
    status_code = 422


class Throttled(DomainError):
    """Too many tries; ``details["retry_after_s"]``, when given, is also sent as the standard
    ``Retry-After`` header so clients and proxies back off without parsing the body."""

    status_code = 429

    def http_headers(self) -> dict[str, str]:
        wait = self.details.get("retry_after_s") if isinstance(self.details, dict) else None
        return {"Retry-After": str(int(wait))} if isinstance(wait, int | float) else {}


class Unauthenticated(DomainError):
    status_code = 401


class FieldError(BaseModel):
    """One problem with one input value (where, what, and the validator's code)."""

    loc: list[str | int] = Field(description="where: ['body', 'lat'], ['query', 'page'], …")
    msg: str
    type: str


class ErrorOut(BaseModel):
    """The one error body of the JSON API, whatever the status.

    ``detail`` is always a readable sentence (zh-CN / English for domain errors); clients
    show it as is. ``errors`` carries the structure when there is one: the list of field
    errors of a 422 from request validation, or a domain error's context (for example
    ``{"field": "snapshot", "limit": 10485760}``).
    """

    detail: str
    errors: list[FieldError] | dict[str, Any] | None = None


ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "Bad request",
    401: "Not logged in, or the token or API key is invalid or expired",
    403: "The role may not do this, or the CSRF check failed",
    404: "No such object, or it is outside the caller's scope",
    405: "Method not allowed (the Allow header lists the methods of the path)",
    409: "Conflict with the current state",
    413: "Request body larger than the route's limit",
    422: "Invalid input: `detail` says what, `errors` lists the fields",
    429: "Too many attempts; try again later",
}

# What every authenticated JSON route may answer besides its success.
API_ERROR_CODES = (401, 403, 404, 409, 413, 422)


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for a router: each listed status answers ``ErrorOut``."""
    return {
        code: {"model": ErrorOut, "description": ERROR_DESCRIPTIONS[code]}
        for code in sorted(codes or API_ERROR_CODES)
    }


def validation_messages(
    errors: Sequence[Mapping[str, Any]], *, drop: int = 0, unnamed: str = ""
) -> list[str]:
    """One ``where: what`` line per pydantic error (``body.lat: Input should be …``).

    ``drop`` leaves out the first parts of each location (``body``); ``unnamed`` names an
    error whose location is then empty (the whole item)."""
    return [
        f"{'.'.join(str(p) for p in tuple(e.get('loc', ()))[drop:]) or unnamed}: {e.get('msg', '')}"
        for e in errors
    ]


def validation_summary(
    errors: Sequence[Mapping[str, Any]], *, drop: int = 0, unnamed: str = ""
) -> str:
    """One sentence naming every field that is wrong: ``body.lat: Input should be …``.

    The one formatter of pydantic errors for pages, JSON answers and dead letters."""
    return "; ".join(validation_messages(errors, drop=drop, unnamed=unnamed))
