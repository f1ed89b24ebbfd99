"""Alert pages: the list with filters, one alert with its chart, the rule profile editor
with a dry run (city admin), quality counts, reference stations' AQI, and the site page's
alert history fragment (``GET /sites/{id}/alerts``, loaded by HTMX).

Forms post back with the CSRF token; a refused change is shown as a one-time flash on the
page it came from; 403/404 show the error page like every other page.
"""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from dustgrid.alerts import presenters, reference, rulesets, service
from dustgrid.alerts.api import Filter
from dustgrid.alerts.engine.quality import FLAG_KINDS
from dustgrid.alerts.schemas import DryRunIn
from dustgrid.auth.deps import AppSettings, CurrentPrincipal, DbSession, check_csrf
from dustgrid.errors import Conflict, Invalid
from dustgrid.i18n import translate
from dustgrid.identity.roles import Perm
from dustgrid.models import utcnow
from dustgrid.org import service as org
from dustgrid.pagination import PageParams, page_params
from dustgrid.web import evidence, list_exports
from dustgrid.web.forms import error_text, flash, pop_flash
from dustgrid.web.templating import render, request_locale
from dustgrid.workcal.calendar import people_time

router = APIRouter(include_in_schema=False)
FLASH_KEY = "alerts_flash"
KINDS = ("exceedance", "offline", "stale_key", "quality")
STATES = ("open", "active", "acknowledged", "cleared")
SEVERITIES = ("low", "medium", "high")


def _when(t: datetime | None, tz: ZoneInfo) -> str:
    return people_time(t, tz)


def _helpers(settings: Any) -> dict[str, Any]:
    tz = ZoneInfo(settings.timezone)
    return {"when": lambda t: _when(t, tz)}


@router.get("/alerts", response_class=HTMLResponse)
def alert_list(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    f: Filter,
    paging: Annotated[PageParams, Depends(page_params)],
) -> Response:
    items, total = presenters.list_alerts(
        session, principal, f, tz=ZoneInfo(settings.timezone), page=paging.page, size=paging.size
    )
    query = {k: v for k, v in f.model_dump(mode="json").items() if v not in (None, "")}
    return render(
        request,
        "alerts/list.html",
        items=items,
        total=total,
        page=paging.page,
        pages=max(1, -(-total // paging.size)),
        size=paging.size,
        f=f,
        query=urlencode(query),
        kinds=KINDS,
        states=STATES,
        severities=SEVERITIES,
        districts=org.list_districts(session, principal),
        **_helpers(settings),
    )


@router.get("/alerts/export.xlsx")
def alert_export(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    f: Filter,
) -> Response:
    """The list's filters as a workbook: every alert in scope, not one page."""
    tz = ZoneInfo(settings.timezone)
    locale = request_locale(request)
    items = presenters.export_alerts(session, principal, f, tz=tz)
    districts = {
        d.id: (d.name_en or d.name) if locale == "en" else d.name
        for d in org.list_districts(session, principal)
    }
    return Response(
        list_exports.alerts_xlsx(items, districts, locale=locale, tz=tz),
        media_type=list_exports.XLSX,
        headers={"Content-Disposition": 'attachment; filename="alerts.xlsx"'},
    )


@router.get("/alerts/profiles", response_class=HTMLResponse)
def profile_editor(
    request: Request, session: DbSession, principal: CurrentPrincipal, settings: AppSettings
) -> Response:
    data = presenters.profiles(session)
    today = utcnow().astimezone(ZoneInfo(settings.timezone)).date()
    first = (today.replace(day=1) - timedelta(days=1)).replace(day=1)  # last month
    return render(
        request,
        "alerts/profiles.html",
        data=data,
        can_edit=principal.can(Perm.alert_profile),
        flash=pop_flash(request, key=FLASH_KEY),
        dry_start=first,
        dry_end=today.replace(day=1) - timedelta(days=1),
        tuning_examples={
            p["id"]: json.dumps(_example(p), ensure_ascii=False) for p in data.builtin
        },
        **_helpers(settings),
    )


def _example(p: dict[str, Any]) -> dict[str, Any]:
    if p.get("limit_basis", "fixed") == "fixed":
        return {
            "limit": p["limit"],
            "raise_after": p["raise_after"],
            "clear_after": p["clear_after"],
        }
    return {"limits": p["limits"], "raise_after": p["raise_after"]}


def _tuning(raw: str) -> dict[str, Any]:
    try:
        value = json.loads(raw or "{}")
    except json.JSONDecodeError as exc:
        raise Invalid("web.error.tuning_not_json", detail=exc.msg) from None
    if not isinstance(value, dict):
        raise Invalid("web.error.tuning_must_json_object")
    return value


@router.post("/alerts/profiles")
def profile_save(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    csrf_token: Annotated[str, Form()] = "",
    profile_id: Annotated[str, Form()] = "",
    tuning: Annotated[str, Form()] = "{}",
    enabled: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    try:
        with session.begin_nested():
            row = rulesets.save_setting(
                session,
                principal,
                profile_id=profile_id,
                tuning=_tuning(tuning),
                enabled=bool(enabled),
                note=note,
            )
        flash(request, ok=f"{row.profile_id} v{row.version}", key=FLASH_KEY)
    except (Invalid, Conflict) as exc:
        flash(request, error=exc.text(request_locale(request)), key=FLASH_KEY)
    return RedirectResponse("/alerts/profiles", status_code=303)


@router.post("/alerts/profiles/dry-run", response_class=HTMLResponse)
def profile_dry_run(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    csrf_token: Annotated[str, Form()] = "",
    profile_id: Annotated[str, Form()] = "",
    tuning: Annotated[str, Form()] = "{}",
    start: Annotated[str, Form()] = "",
    end: Annotated[str, Form()] = "",
) -> Response:
    """HTMX fragment: the dry run's totals and the busiest sites (nothing is written)."""
    check_csrf(request, csrf_token)
    try:
        body = DryRunIn.model_validate(
            {"profile_id": profile_id, "tuning": _tuning(tuning), "start": start, "end": end}
        )
        result: dict[str, Any] | None = presenters.dry_run(
            session, principal, body, tz=ZoneInfo(settings.timezone)
        )
        error = None
    except ValidationError as exc:
        result, error = None, error_text(exc, request_locale(request))
    except Invalid as exc:
        result, error = None, exc.text(request_locale(request))
    return render(request, "alerts/_dry_run.html", result=result, error=error)


@router.get("/alerts/quality", response_class=HTMLResponse)
def quality_page(
    request: Request, session: DbSession, principal: CurrentPrincipal, settings: AppSettings
) -> Response:
    tz = ZoneInfo(settings.timezone)
    today = utcnow().astimezone(tz).date()
    start = datetime.combine(today.replace(day=1), time(0), tzinfo=tz)
    end = datetime.combine(today + timedelta(days=1), time(0), tzinfo=tz)
    data = presenters.quality_counts(session, principal, start=start, end=end)
    kinds = sorted({k for row in data.per_site + data.per_provider for k in row.counts})
    return render(
        request, "alerts/quality.html", data=data, kinds=kinds, month=today.replace(day=1)
    )


@router.get("/alerts/reference", response_class=HTMLResponse)
def reference_page(
    request: Request, session: DbSession, principal: CurrentPrincipal, settings: AppSettings
) -> Response:
    stations = reference.station_aqi(
        session, principal, now=utcnow(), tz=ZoneInfo(settings.timezone), days=7
    )
    return render(
        request, "alerts/reference.html", stations=stations, zh=request_locale(request) == "zh-CN"
    )


@router.get("/alerts/{alert_id}", response_class=HTMLResponse)
def alert_page(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    alert_id: int,
) -> Response:
    alert = presenters.alert_detail(session, principal, alert_id)
    locale = request_locale(request)
    labels = {
        k: translate(f"alerts.chart.{k}", locale)
        for k in ("site", "reference", "window", "limit", "flag", "no_data", "failed", "held")
    }
    flag_names = {kind: translate(f"alerts.flag.{kind}", locale) for kind in FLAG_KINDS}
    config = {
        "chartUrl": f"/api/v1/alerts/{alert.id}/chart",
        "labels": labels,
        "flagNames": flag_names,
    }
    return render(
        request,
        "alerts/detail.html",
        alert=alert,
        chart_config=config,
        can_ack=principal.can(Perm.alert_ack) and alert.state == "active",
        flash=pop_flash(request, key=FLASH_KEY),
        evidence=evidence.present(alert.evidence, request_locale(request)),
        **_helpers(settings),
    )


@router.post("/alerts/{alert_id}/acknowledge")
def alert_ack(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    alert_id: int,
    csrf_token: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    try:
        with session.begin_nested():
            service.acknowledge(session, principal, alert_id, note=note, now=utcnow())
        flash(request, ok="ok", key=FLASH_KEY)
    except Conflict as exc:
        flash(request, error=exc.text(request_locale(request)), key=FLASH_KEY)
    return RedirectResponse(f"/alerts/{alert_id}", status_code=303)


@router.get("/sites/{site_id}/alerts", response_class=HTMLResponse)
def site_alerts(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    site_id: int,
) -> Response:
    site, items = presenters.site_alerts(session, principal, site_id)
    return render(
        request, "alerts/site_fragment.html", site=site, items=items, **_helpers(settings)
    )
