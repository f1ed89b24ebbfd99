"""Heavy-pollution emergency pages (重污染应急): the list with the declaration form (city
admin; area by district or drawn on a map), one episode with its orders' compliance site by
site and the "end early" button, and the site page's fragment of orders
(``GET /sites/{id}/emergencies``, loaded by HTMX).

Forms post back with the CSRF token; a refused declaration comes back as a one-time flash.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from dustgrid.auth.deps import AppSettings, CurrentPrincipal, DbSession, check_csrf
from dustgrid.bounds import Id
from dustgrid.config import Settings
from dustgrid.emergencies import service as svc
from dustgrid.emergencies.models import Emergency
from dustgrid.emergencies.policy import DEFAULT_EMERGENCY_POLICY, AreaKind, Level
from dustgrid.emergencies.schemas import EmergencyCreate
from dustgrid.i18n import translate
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Perm
from dustgrid.models import utcnow
from dustgrid.org import service as org
from dustgrid.routing import Router
from dustgrid.sites import service as sites
from dustgrid.web.forms import attempt, flash, pop_flash
from dustgrid.web.templating import render, request_locale
from dustgrid.workcal.calendar import people_time

router = Router(include_in_schema=False)
FLASH_KEY = "emergencies_flash"
DATETIME_LOCAL = "%Y-%m-%dT%H:%M"


def _helpers(settings: Settings) -> dict[str, Any]:
    tz = ZoneInfo(settings.timezone)

    def when(t: datetime | None) -> str:
        return people_time(t, tz)

    return {"when": when, "now": utcnow()}


def _local(value: str, tz: ZoneInfo) -> datetime | str:
    """A ``datetime-local`` field as an aware time in the city's zone (else as typed, so
    the schema names the field that is wrong)."""
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        return value
    return t if t.tzinfo else t.replace(tzinfo=tz)


def _districts_json(session: DbSession, principal: Principal) -> list[dict[str, Any]]:
    """District outlines for the drawing map (WGS-84, drawn without tiles)."""
    rows = org.list_districts(session, principal)
    return [{"id": d.id, "name": d.name, "boundary": d.boundary} for d in rows]


@router.get("/emergencies", response_class=HTMLResponse)
def emergency_list(
    request: Request, session: DbSession, principal: CurrentPrincipal, settings: AppSettings
) -> Response:
    tz = ZoneInfo(settings.timezone)
    start = utcnow().astimezone(tz).replace(second=0, microsecond=0)
    return render(
        request,
        "emergencies/index.html",
        items=svc.list_emergencies(session, principal),
        can_declare=principal.can(Perm.emergency_declare),
        levels=list(Level),
        area_kinds=list(AreaKind),
        districts=org.list_districts(session, principal),
        districts_json=_districts_json(session, principal),
        default_start=start.strftime(DATETIME_LOCAL),
        policy=DEFAULT_EMERGENCY_POLICY,
        status=svc.status,
        flash=pop_flash(request, key=FLASH_KEY),
        **_helpers(settings),
    )


@router.post("/emergencies")
async def emergency_declare(
    request: Request, session: DbSession, principal: CurrentPrincipal, settings: AppSettings
) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token") or ""))
    tz = ZoneInfo(settings.timezone)
    polygon_text = str(form.get("polygon") or "").strip()

    def act() -> Emergency:
        body = EmergencyCreate.model_validate(
            {
                "level": form.get("level"),
                "starts_at": _local(str(form.get("starts_at") or ""), tz),
                "ends_at": _local(str(form.get("ends_at") or ""), tz),
                "area_kind": form.get("area_kind"),
                "district_ids": [v for v in form.getlist("district_ids") if v],
                "polygon": json.loads(polygon_text) if polygon_text else None,
                "note": str(form.get("note") or ""),
            }
        )
        decl = svc.Declaration(
            level=body.level,
            starts_at=body.starts_at,
            ends_at=body.ends_at,
            area_kind=body.area_kind,
            district_ids=tuple(body.district_ids),
            polygon=body.polygon,
            note=body.note,
        )
        return svc.declare(session, principal, decl, now=utcnow(), settings=settings)

    try:
        em = attempt(request, session, act, key=FLASH_KEY)
    except json.JSONDecodeError:
        flash(
            request,
            error=translate("web.error.drawn_area_unreadable", request_locale(request)),
            key=FLASH_KEY,
        )
        em = None
    if em is None:
        return RedirectResponse("/emergencies", status_code=303)
    flash(request, ok="emergencies.declared", key=FLASH_KEY)
    return RedirectResponse(f"/emergencies/{em.id}", status_code=303)


@router.get("/emergencies/{emergency_id}", response_class=HTMLResponse)
def emergency_detail(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    emergency_id: Id,
) -> Response:
    em, rows = svc.compliance(session, principal, emergency_id, now=utcnow())
    names = {d.id: d.name for d in org.list_districts(session, principal)}
    return render(
        request,
        "emergencies/detail.html",
        em=em,
        rows=rows,
        state=svc.status(em, utcnow()),
        measures=DEFAULT_EMERGENCY_POLICY.measures_for(em.level),
        district_names=names,
        can_end=principal.can(Perm.emergency_declare),
        flash=pop_flash(request, key=FLASH_KEY),
        **_helpers(settings),
    )


@router.post("/emergencies/{emergency_id}/end")
async def emergency_end(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    emergency_id: Id,
) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token") or ""))
    done = attempt(
        request,
        session,
        lambda: svc.end(session, principal, emergency_id, now=utcnow(), settings=settings),
        key=FLASH_KEY,
    )
    if done is not None:
        flash(request, ok="emergencies.ended", key=FLASH_KEY)
    return RedirectResponse(f"/emergencies/{emergency_id}", status_code=303)


@router.get("/sites/{site_id}/emergencies", response_class=HTMLResponse)
def site_emergencies(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    site_id: Id,
) -> Response:
    site = sites.get_site(session, principal, site_id)
    return render(
        request,
        "emergencies/site_fragment.html",
        site=site,
        items=svc.site_orders(session, site.id, now=utcnow()),
        **_helpers(settings),
    )
