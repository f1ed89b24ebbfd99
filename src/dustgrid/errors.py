"""Domain errors mapped to HTTP answers in one place (see ``app.py``)."""

from __future__ import annotations

from typing import Any


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


class NotFound(DomainError):
    status_code = 404


class Forbidden(DomainError):
    status_code = 403


class Conflict(DomainError):
    status_code = 409


class Invalid(DomainError):
    status_code = 422


class Throttled(DomainError):
    status_code = 429


class Unauthenticated(DomainError):
    status_code = 401
