"""Page parameters and query-string filters shared by list routes and pages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, TypeVar

from fastapi import Query
from pydantic import BaseModel, ValidationError

from dustgrid.bounds import PageNo
from dustgrid.errors import Invalid, validation_summary

F = TypeVar("F", bound=BaseModel)

MAX_PAGE_SIZE = 200


class PageParams(BaseModel):
    page: int
    size: int


async def page_params(
    page: Annotated[PageNo, Query(description="1-based page number")] = 1,
    size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="rows per page")] = 50,
) -> PageParams:
    return PageParams(page=page, size=size)


def query_filter(model: type[F], raw: Mapping[str, str | None]) -> F:
    """A list's filters from the query string: blank values (as HTML forms send them) mean
    "any"; a wrong value is a 400 that names it."""
    try:
        return model.model_validate({k: v for k, v in raw.items() if v not in (None, "")})
    except ValidationError as exc:
        bad = validation_summary(exc.errors())
        raise Invalid("devices.error.invalid_filter", bad=bad) from exc
