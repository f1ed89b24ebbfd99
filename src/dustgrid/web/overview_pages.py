"""The leaders' overview (``/overview``) and the command centre's big screen
(``/overview/screen``): the same figures (``overview.service``), two presentations."""

from __future__ import annotations

from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, Response

from dustgrid.bounds import Id
from dustgrid.config import Settings
from dustgrid.errors import Forbidden
from dustgrid.identity.deps import AppSettings, CurrentPrincipal, DbSession
from dustgrid.identity.principal import Principal
from dustgrid.models import utcnow
from dustgrid.overview import service
from dustgrid.overview.policy import DEFAULT_OVERVIEW_POLICY
from dustgrid.overview.schemas import Overview
from dustgrid.routing import Router
from dustgrid.sites.models import Grade
from dustgrid.web.nav import is_leader
from dustgrid.web.templating import render, request_locale
from dustgrid.workcal.calendar import people_time

router = Router()

#: Bounds of a screen's own refresh interval (seconds).
SCREEN_REFRESH_MIN, SCREEN_REFRESH_MAX = 2, 3600
#: Grades in the order a leader reads them: the problem first.
GRADE_ORDER = (Grade.non_compliant, Grade.basic, Grade.full, Grade.ungraded)


def _figures(
    session: DbSession, principal: Principal, settings: Settings, district_id: int | None
) -> Overview:
    if not is_leader(principal):
        raise Forbidden("web.error.overview_grid_managers")
    if district_id is None and not principal.is_city_wide:
        district_id = principal.district_id
    tz = ZoneInfo(settings.timezone)
    return service.overview(session, principal, now=utcnow(), tz=tz, district_id=district_id)


def _context(request: Request, data: Overview, settings: Settings) -> dict[str, Any]:
    """What both presentations show. Times are the city's clock (the ``timezone`` setting):
    written here by ``people_time``, and by ``overview.js`` from the page's ``data-tz``
    when the big screen refreshes."""
    locale = request_locale(request)
    tz = ZoneInfo(settings.timezone)
    district = next((d for d in data.districts if d.district_id == data.district_id), None)
    return {
        "o": data,
        "district": district,
        "district_name": (district.name_en or district.name)
        if district and locale == "en"
        else (district.name if district else None),
        "grades": [g.value for g in GRADE_ORDER],
        "payload": data.model_dump(mode="json"),
        "pm10_limit": DEFAULT_OVERVIEW_POLICY.pm10_daily_limit,
        "district_query": f"&district_id={data.district_id}" if data.district_id else "",
        "today": data.generated_at.astimezone(tz).date().isoformat(),
        "as_of": people_time(data.generated_at, tz),
        "timezone": settings.timezone,
    }


@router.get("/overview", response_class=HTMLResponse)
def overview_page(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    district_id: Annotated[Id | None, Query()] = None,
) -> Response:
    data = _figures(session, principal, settings, district_id)
    return render(request, "overview/index.html", **_context(request, data, settings))


@router.get("/overview/screen", response_class=HTMLResponse)
def overview_screen(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    district_id: Annotated[Id | None, Query()] = None,
    refresh: Annotated[int | None, Query(ge=SCREEN_REFRESH_MIN, le=SCREEN_REFRESH_MAX)] = None,
) -> Response:
    """Dark, large type, refreshed in place; ``refresh`` (seconds) overrides the policy's
    interval for one screen (a wall that cycles faster or slower)."""
    data = _figures(session, principal, settings, district_id)
    if refresh is not None:
        data.refresh_seconds = refresh
    return render(request, "overview/screen.html", **_context(request, data, settings))
