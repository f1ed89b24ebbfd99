"""``GET /api/v1/overview``: the figures behind the overview page and the big screen."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Query

from dustgrid.bounds import Id
from dustgrid.errors import error_responses
from dustgrid.identity.deps import AppSettings, CurrentPrincipal, DbSession
from dustgrid.models import utcnow
from dustgrid.overview import service
from dustgrid.overview.schemas import Overview
from dustgrid.routing import Router

router = Router(prefix="/api/v1/overview", tags=["overview"], responses=error_responses())


@router.get("", response_model=Overview, summary="The city or one district at a glance")
def get_overview(
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    district_id: Annotated[Id | None, Query()] = None,
) -> Overview:
    tz = ZoneInfo(settings.timezone)  # the city's days: today, this month, the trend
    return service.overview(session, principal, now=utcnow(), tz=tz, district_id=district_id)
