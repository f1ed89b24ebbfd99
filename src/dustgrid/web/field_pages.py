"""Phone pages for field work (officers and inspectors): "Today" (今日) and the service
worker that lets the field pages open without a network (``GET /sw.js``).

Today lists my planned sites of the day in route order (from my group's patrol plan, the
visited ones ticked) on a map and as a list, the rechecks due in my grids and the open
cases at those sites; each site links to "start inspection" and to the site page. The
outbox of visits waiting to be sent lives on the phone (``static/js/field_queue.js``).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from dustgrid.auth.deps import AppSettings, CurrentPrincipal, DbSession
from dustgrid.cases import service as cases
from dustgrid.cases.categories import category_label
from dustgrid.cases.models import Case
from dustgrid.errors import Forbidden
from dustgrid.geo.coords import wgs84_to_gcj02
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Perm
from dustgrid.models import utcnow
from dustgrid.patrols import service as patrols
from dustgrid.patrols.periods import monday_of, week_label
from dustgrid.routing import Router
from dustgrid.sites import service as sites
from dustgrid.web.templating import render, request_locale

router = Router(include_in_schema=False)

SERVICE_WORKER = Path(__file__).parent / "static" / "js" / "sw.js"


def _my_stops(plans: patrols.WeekPlans, principal: Principal, day: Any) -> list[Any]:
    """My stops of ``day`` in route order, each site once."""
    seen: set[int] = set()
    out = []
    for plan in plans.plans:
        for d in plan.days:
            if d.day != day or d.member != principal.username:
                continue
            for stop in d.stops:
                if stop.site_id not in seen:
                    seen.add(stop.site_id)
                    out.append(stop)
    return out


def _point(stop: patrols.StopView, crs: str, n: int) -> list[Any]:
    lat, lon = wgs84_to_gcj02(stop.lat, stop.lon) if crs == "gcj02" else (stop.lat, stop.lon)
    return [round(lat, 6), round(lon, 6), stop.name, stop.status, stop.site_id, n]


def _case_rows(items: list[Case], names: dict[int, str], locale: str) -> list[dict[str, Any]]:
    return [
        {
            "id": c.id,
            "state": c.state,
            "site_id": c.site_id,
            "site_name": names.get(c.site_id or 0, ""),
            "category": category_label(c.category, locale),
            "due_at": c.due_at,
            "rectify_due_at": c.rectify_due_at,
        }
        for c in items
    ]


@router.get("/today", response_class=HTMLResponse)
def today_page(
    request: Request, session: DbSession, principal: CurrentPrincipal, settings: AppSettings
) -> Response:
    if not principal.can(Perm.grid_work):
        raise Forbidden("web.error.companies_have_no_patrol_tasks")
    tz = ZoneInfo(settings.timezone)
    today = patrols.today_for(settings)
    plans = patrols.week_plans(
        session, week_label(monday_of(today)), principal=principal, settings=settings, today=today
    )
    stops = _my_stops(plans, principal, today)
    now = utcnow()
    until = datetime.combine(today + timedelta(days=1), time(0), tz)
    rechecks = cases.rechecks_due(session, principal, now=now, until=until)
    at_sites = cases.open_cases_at(session, principal, [s.site_id for s in stops])
    names = {s.site_id: s.name for s in stops}
    if any(c.site_id not in names for c in rechecks):
        names.update({row[0]: row[2] for row in sites.site_choices(session, principal)})
    locale = request_locale(request)
    crs = settings.tile_crs if settings.tile_url else "wgs84"
    return render(
        request,
        "field/today.html",
        today=today,
        stops=stops,
        visited=sum(1 for s in stops if s.status == patrols.VISITED),
        rechecks=_case_rows(rechecks, names, locale),
        open_cases=_case_rows(at_sites, names, locale),
        when=lambda t: t.astimezone(tz).strftime("%m-%d %H:%M") if t else "",
        map_config={
            "stops": [_point(s, crs, n) for n, s in enumerate(stops, start=1)],
            "tileUrl": settings.tile_url,
            "tileAttribution": settings.tile_attribution,
        },
    )


@router.get("/sw.js", include_in_schema=False)
def service_worker() -> Response:
    """The service worker, served from the root so that its scope covers the field pages.
    Public like ``/static``: it is a static file and holds nothing of anyone's."""
    return Response(
        SERVICE_WORKER.read_bytes(),
        media_type="text/javascript",
        headers={"cache-control": "no-cache", "service-worker-allowed": "/"},
    )
