"""Bounds of the integers and dates the HTTP API accepts (policy ``http-bounds/1``).

Every id, page number and date that comes in through a path, a query, a form or a JSON
body is typed with one of these aliases, so an out-of-range value is a 422 naming the
field instead of a database overflow (a 500) further down: ids are ``INTEGER`` columns
(PostgreSQL ``int4``), and dates far from today overflow ``datetime`` arithmetic
(``date(1, 1, 1) - timedelta(days=1)``). The bounds are published in the OpenAPI schema
(``minimum``/``maximum`` for integers; the description for dates).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from annotated_types import Interval
from pydantic import AfterValidator, Field, field_validator

from dustgrid.i18n import Msg

POLICY_VERSION = "http-bounds/1"
ID_MAX = 2**31 - 1  # primary keys are INTEGER (PostgreSQL int4)
PAGE_MAX = 100_000  # 1-based page numbers; far beyond any list (size ≤ 200)
DATE_MIN = date(2000, 1, 1)  # no site, reading or case predates the platform by decades
DATE_MAX = date(2099, 12, 31)
_RANGE = f"{DATE_MIN.isoformat()} … {DATE_MAX.isoformat()}"


def _day_in_range(value: date) -> date:
    if not DATE_MIN <= value <= DATE_MAX:
        raise ValueError(Msg("core.error.date_range", {"first": DATE_MIN, "last": DATE_MAX}))
    return value


def _moment_in_range(value: datetime) -> datetime:
    _day_in_range(value.date())
    return value


def _month_in_range(value: str) -> str:
    try:
        first = date.fromisoformat(f"{value}-01")
    except ValueError:
        raise ValueError(Msg("core.error.month_format")) from None
    _day_in_range(first)
    return value


Id = Annotated[int, Interval(ge=1, le=ID_MAX)]
"""A row id (path, query, form or body)."""

PageNo = Annotated[int, Interval(ge=1, le=PAGE_MAX)]
"""A 1-based page number."""

Day = Annotated[date, AfterValidator(_day_in_range), Field(description=f"date in {_RANGE}")]
"""A calendar date within ``DATE_MIN`` … ``DATE_MAX``."""

Moment = Annotated[
    datetime, AfterValidator(_moment_in_range), Field(description=f"date-time in {_RANGE}")
]
"""An ISO 8601 instant whose date is within ``DATE_MIN`` … ``DATE_MAX``."""

Month = Annotated[
    str,
    Field(pattern=r"^\d{4}-\d{2}$", description=f"YYYY-MM in {_RANGE}"),
    AfterValidator(_month_in_range),
]
"""A month ``YYYY-MM`` within the date range."""


def _not_null(value: Any) -> Any:
    if value is None:
        raise ValueError(Msg("core.error.not_null"))
    return value


def reject_null(*fields: str) -> Any:
    """A validator for update bodies: these fields may be omitted, never sent as ``null``.

    Optional-with-default-None fields of a PATCH body mean "unchanged" when absent; an
    explicit ``null`` for a column that cannot be empty is a 422 naming the field, not a
    database ``NOT NULL`` failure. (Defaults are not validated, so omission still works.)
    """
    return field_validator(*fields, mode="after")(_not_null)
