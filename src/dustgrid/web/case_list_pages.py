"""Case pages that list many cases at once: the map of open cases, the overdue board per
unit, and the case section of a site page (``GET /sites/{id}/cases``, loaded by HTMX).

Included ahead of ``case_pages`` so ``/cases/map`` and ``/cases/board`` are matched before
``/cases/{case_id}``.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from dustgrid.auth.deps import AppSettings, CurrentPrincipal, DbSession
from dustgrid.cases import deadlines, penalties, service, views
from dustgrid.cases.categories import category_label
from dustgrid.cases.states import REPORTERS
from dustgrid.geo.coords import wgs84_to_gcj02
from dustgrid.identity.roles import Perm
from dustgrid.models import utcnow
from dustgrid.routing import Router
from dustgrid.sites import service as sites
from dustgrid.web.case_common import show
from dustgrid.web.templating import request_locale

router = Router(include_in_schema=False)


@router.get("/cases/map", response_class=HTMLResponse)
def map_page(
    request: Request, session: DbSession, principal: CurrentPrincipal, settings: AppSettings
) -> Response:
    crs = settings.tile_crs if settings.tile_url else "wgs84"
    points = []
    for i, la, lo, state, light, cat, _sid in service.map_rows(session, principal, utcnow()):
        if crs == "gcj02":
            la, lo = wgs84_to_gcj02(la, lo)
        points.append([i, round(la, 6), round(lo, 6), state.value, light, cat])
    return show(
        request,
        settings,
        "cases/map.html",
        points=points,
        tile_url=settings.tile_url,
        tile_attribution=settings.tile_attribution,
        cat=lambda k: category_label(k, request_locale(request)),
    )


@router.get("/cases/board", response_class=HTMLResponse)
def board_page(
    request: Request, session: DbSession, principal: CurrentPrincipal, settings: AppSettings
) -> Response:
    rows = service.overdue_board(session, principal, utcnow())
    return show(request, settings, "cases/board.html", rows=rows)


# --------------------------------------------------------------------------- site section


@router.get("/sites/{site_id}/cases", response_class=HTMLResponse)
def site_cases(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    site_id: int,
) -> Response:
    site = sites.get_site(session, principal, site_id)
    now = utcnow()
    rows = service.site_cases(session, principal, site.id)
    return show(
        request,
        settings,
        "cases/site_fragment.html",
        site=site,
        items=views.case_rows(session, rows, now, request_locale(request)),
        ladder=penalties.site_ladder(
            session, site.id, now=now, policy=deadlines.case_policy(settings)
        ),
        can_decide=principal.can(Perm.case_penalty),
        can_report=any(principal.role in who for who in REPORTERS.values()),
    )
