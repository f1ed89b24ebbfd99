"""Inspection pages, phone first: the site picker (nearest first), check-in and checklist
(one page; the visit is sent by ``static/js/inspection.js``), a visit, the list of visits,
and the site page's fragment (``GET /sites/{id}/inspections``: recent visits and the
"start inspection" link for members of the site's grid).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from dustgrid.auth.deps import AppSettings, CurrentPrincipal, DbSession
from dustgrid.bounds import Id
from dustgrid.cases.categories import category_label
from dustgrid.config import Settings
from dustgrid.identity.roles import Perm
from dustgrid.inspections import service
from dustgrid.inspections.policy import DEFAULT_CHECK_IN_POLICY
from dustgrid.models import utcnow
from dustgrid.routing import Router
from dustgrid.sites import service as sites
from dustgrid.web.templating import render, request_locale
from dustgrid.workcal.calendar import people_time

router = Router(include_in_schema=False)
RECENT_ON_SITE_PAGE = 10


def _helpers(request: Request, settings: Settings) -> dict[str, Any]:
    tz = ZoneInfo(settings.timezone)
    locale = request_locale(request)

    def when(t: datetime | None) -> str:
        return people_time(t, tz)

    return {
        "when": when,
        "item_label": lambda code: service.item_label(code, locale),
        "flag_label": lambda flag: service.flag_label(flag, locale),
        "cat": lambda key: category_label(key, locale),
    }


@router.get("/inspections", response_class=HTMLResponse)
def visit_list(
    request: Request, session: DbSession, principal: CurrentPrincipal, settings: AppSettings
) -> Response:
    rows, total = service.list_visits(session, principal, size=100)
    return render(
        request,
        "inspections/list.html",
        rows=rows,
        total=total,
        can_inspect=principal.can(Perm.inspect),
        **_helpers(request, settings),
    )


@router.get("/inspections/new", response_class=HTMLResponse)
def pick_site(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    q: str = "",
) -> Response:
    found = service.nearest_sites(session, principal, lat=None, lon=None, q=q)
    return render(
        request, "inspections/pick.html", found=found, q=q[:64], **_helpers(request, settings)
    )


@router.get("/inspections/new/{site_id}", response_class=HTMLResponse)
def start(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    site_id: Id,
) -> Response:
    site = sites.get_site(session, principal, site_id)
    template = service.template_for(utcnow(), settings)
    return render(
        request,
        "inspections/start.html",
        site=site,
        template=template,
        may_inspect=service.may_inspect(principal, site),
        may_video=principal.role in DEFAULT_CHECK_IN_POLICY.video_roles,
        radius_m=DEFAULT_CHECK_IN_POLICY.radius_m,
        **_helpers(request, settings),
    )


@router.get("/inspections/{inspection_id}", response_class=HTMLResponse)
def visit_page(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    inspection_id: Id,
) -> Response:
    v = service.visit(session, principal, inspection_id)
    photos_by_item: dict[str, list[Any]] = {}
    for ph in v.photos:
        photos_by_item.setdefault(ph.item_code, []).append(ph)
    return render(
        request,
        "inspections/visit.html",
        v=v,
        row=v.inspection,
        photos_by_item=photos_by_item,
        **_helpers(request, settings),
    )


@router.get("/sites/{site_id}/inspections", response_class=HTMLResponse)
def site_fragment(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    site_id: Id,
) -> Response:
    site = sites.get_site(session, principal, site_id)
    rows, total = service.list_visits(session, principal, site_id=site.id, size=RECENT_ON_SITE_PAGE)
    return render(
        request,
        "inspections/site_fragment.html",
        site=site,
        rows=rows,
        total=total,
        may_inspect=service.may_inspect(principal, site),
        **_helpers(request, settings),
    )
