"""Domain errors mapped to HTTP answers in one place (see ``app.py``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field

from dustgrid.i18n import DEFAULT_LOCALE, Msg, is_key, localize, translate


class DomainError(Exception):
    """An error a user can act on, shown in the reader's language.

    Give it a message key and the key's parameters
    (``NotFound("cases.error.not_found", case_id=5)``) or a :class:`~dustgrid.i18n.Msg`;
    the app's exception handler renders it in the caller's language (see
    ``docs/architecture.md``, *Messages*). A plain text still works: an old
    ``"中文 / English"`` text is cut to the reader's half when shown (``localize``).
    ``message`` is the zh-CN rendering (logs, old callers); ``text(locale)`` any language.
    """

    status_code = 400

    def __init__(
        self, message: str | Msg, *, details: Any = None, persist: bool = False, **params: Any
    ) -> None:
        msg: str | Msg = message
        if isinstance(message, str) and (params or is_key(message)):
            msg = Msg(message, params)
        self.msg = msg
        self.message = msg.render(DEFAULT_LOCALE) if isinstance(msg, Msg) else msg
        super().__init__(self.message)
        self.details = details
        # True when what the request wrote before failing must still be committed
        # (a failed login attempt is evidence the throttle needs).
        self.persist = persist

    def text(self, locale: str | None) -> str:
        """The message in ``locale``; None keeps an unconverted text as it was written."""
        if locale is None:
            return self.msg.render(DEFAULT_LOCALE) if isinstance(self.msg, Msg) else self.message
        return localize(self.msg, locale)

    def http_headers(self) -> dict[str, str]:
        """Headers the answer carries besides the body (none by default)."""
        return {}


class NotFound(DomainError):
    status_code = 404


class Forbidden(DomainError):
    status_code = 403


class PasswordChangeRequired(Forbidden):
    """The account signed in with a one-time password: only changing it is allowed
    (a page request is sent to the password page instead)."""


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


class Busy(Throttled):
    """The server is saturated (no request thread or database connection free in time):
    503 with ``Retry-After``, so the client, a proxy or a load balancer backs off or tries
    another node, instead of a long wait that ends in 500."""

    status_code = 503


class Unauthenticated(DomainError):
    status_code = 401


class FieldError(BaseModel):
    """One problem with one input value (where, what, and the validator's code)."""

    loc: list[str | int] = Field(description="where: ['body', 'lat'], ['query', 'page'], …")
    msg: str
    type: str


class ErrorOut(BaseModel):
    """The one error body of the JSON API, whatever the status.

    ``detail`` is always a readable sentence in the caller's language (``Accept-Language``,
    else the user's locale, else zh-CN); clients show it as is.
    ``errors`` carries the structure when there is one: the list of field
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


def _where(error: Mapping[str, Any], drop: int, unnamed: str, locale: str | None) -> str:
    parts = [str(p) for p in tuple(error.get("loc", ()))[drop:]]
    if locale is None or not parts:
        return ".".join(parts) or unnamed
    names = [p for p in parts if not p.isdigit() and p not in ("body", "query", "path", "form")]
    name = names[-1] if names else parts[-1]
    label = translate(f"field.{name}", locale)
    return label if label != f"field.{name}" else translate("field.other", locale)


def validation_text(error: Mapping[str, Any], locale: str | None) -> str:
    """What is wrong with one pydantic error's field, without naming the field."""
    return _what(error, locale)


def _what(error: Mapping[str, Any], locale: str | None) -> str:
    msg = str(error.get("msg", ""))
    kind = str(error.get("type", ""))
    raised = dict(error.get("ctx") or {}).get("error")
    if kind == "value_error" and isinstance(raised, Exception) and raised.args:
        said = raised.args[0]  # a validator's ``ValueError(Msg(key, params))``
        if isinstance(said, Msg):
            return said.render(locale or DEFAULT_LOCALE)
    if locale is None:
        return msg
    if kind == "value_error":  # our validators' own sentence, after pydantic's prefix
        return localize(msg.removeprefix("Value error, "), locale)
    ctx = {k: localize(v, locale) for k, v in dict(error.get("ctx") or {}).items()}
    return Msg(VALIDATION_KEYS.get(kind, "validation.invalid"), ctx).render(locale)


#: pydantic error types and the message that says them (``validation.invalid`` otherwise).
VALIDATION_KEYS: dict[str, str] = {
    kind: f"validation.{kind}"
    for kind in (
        "missing", "string_too_short", "string_too_long", "too_short", "too_long",
        "greater_than", "greater_than_equal", "less_than", "less_than_equal",
        "int_parsing", "float_parsing", "int_from_float", "date_parsing",
        "date_from_datetime_parsing",
        "datetime_parsing", "datetime_from_date_parsing", "enum", "literal_error",
        "string_pattern_mismatch", "bool_parsing", "string_type", "json_invalid",
    )
}  # fmt: skip


def validation_messages(
    errors: Sequence[Mapping[str, Any]],
    *,
    drop: int = 0,
    unnamed: str = "",
    locale: str | None = None,
) -> list[str]:
    """One ``where: what`` line per pydantic error (``body.lat: Input should be …``).

    ``drop`` leaves out the first parts of each location (``body``); ``unnamed`` names an
    error whose location is then empty (the whole item). With a ``locale`` (pages), the
    field's label and the message are said in that language (``纬度：应为数字``)."""
    sep = "：" if locale == DEFAULT_LOCALE else ": "
    return [f"{_where(e, drop, unnamed, locale)}{sep}{_what(e, locale)}" for e in errors]


def validation_summary(
    errors: Sequence[Mapping[str, Any]],
    *,
    drop: int = 0,
    unnamed: str = "",
    locale: str | None = None,
) -> str:
    """One sentence naming every field that is wrong: ``body.lat: Input should be …``.

    The one formatter of pydantic errors for pages, JSON answers and dead letters."""
    sep = "；" if locale == DEFAULT_LOCALE else "; "
    return sep.join(validation_messages(errors, drop=drop, unnamed=unnamed, locale=locale))
