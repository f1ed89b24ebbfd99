"""Page parameters shared by list routes and pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from pydantic import BaseModel

from dustgrid.bounds import PageNo

MAX_PAGE_SIZE = 200


class PageParams(BaseModel):
    page: int
    size: int


async def page_params(
    page: Annotated[PageNo, Query(description="1-based page number")] = 1,
    size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="rows per page")] = 50,
) -> PageParams:
    return PageParams(page=page, size=size)
