"""Pages of devices and onboarding: device list and page, quarantine, applications, and
the device fragment of the site page.

Forms post back here with the CSRF token; a refused change (422/409) is rolled back to a
savepoint and shown as a one-time flash on the page it came from, while 403/404 show the
error page like any other page (the same pattern as the organisation pages).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from dustgrid.audit.service import entries_for
from dustgrid.auth.deps import AppSettings, CurrentPrincipal, DbSession, check_csrf
from dustgrid.config import Settings
from dustgrid.devices import changes, forms, keys, onboarding, quarantine
from dustgrid.devices import service as svc
from dustgrid.devices.api import Filter, list_item
from dustgrid.devices.models import ApplicationStatus, DeviceKind, Lifecycle, RequestKind
from dustgrid.devices.schemas import (
    AdoptIn,
    ApplicationCreate,
    ChangeRequestIn,
    DecisionIn,
    DeviceTestIn,
    ReviewIn,
)
from dustgrid.downloads import file_response
from dustgrid.errors import Invalid, NotFound
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Perm
from dustgrid.org import service as org
from dustgrid.pagination import PageParams, page_params
from dustgrid.routing import Router
from dustgrid.sites import service as sites
from dustgrid.web import list_exports
from dustgrid.web.forms import attempt, flash, pop_flash
from dustgrid.web.history import readable_history
from dustgrid.web.templating import render, request_locale

router = Router(include_in_schema=False)


def _helpers(settings: Settings) -> dict[str, Any]:
    """The templates' formatters: ``when`` writes a moment in the city's time zone."""
    tz = ZoneInfo(settings.timezone)
    return {"when": partial(forms.local_time, tz=tz), "span": forms.split_seconds}


async def _form(request: Request) -> FormData:
    form = await request.form()
    check_csrf(request, forms.text(form, "csrf_token"))
    return form


def _back(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


# --------------------------------------------------------------------------- device list


@router.get("/devices", response_class=HTMLResponse)
def device_list(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    f: Filter,
    paging: Annotated[PageParams, Depends(page_params)],
) -> Response:
    rows, total = svc.list_page(session, principal, f, page=paging.page, size=paging.size)
    query = {k: v for k, v in f.model_dump(mode="json").items() if v not in (None, "")}
    return render(
        request,
        "devices/list.html",
        items=[list_item(r) for r in rows],
        total=total,
        page=paging.page,
        pages=max(1, -(-total // paging.size)),
        size=paging.size,
        f=f,
        query=urlencode(query),
        kinds=list(DeviceKind),
        lifecycles=list(Lifecycle),
        providers=svc.providers(session),
        sites=svc.site_choices(session, principal),
        can_apply=principal.can(Perm.device_apply),
        can_write=principal.can(Perm.device_write),
        **_helpers(settings),
    )


@router.get("/devices/export.xlsx")
def device_export(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    f: Filter,
) -> Response:
    """The list's filters as a workbook: every device in scope, not one page."""
    items = [list_item(r) for r in svc.export_rows(session, principal, f)]
    content = list_exports.devices_xlsx(
        items, locale=request_locale(request), tz=ZoneInfo(settings.timezone)
    )
    return file_response("devices.xlsx", "xlsx", content)


# --------------------------------------------------------------------------- quarantine


@router.get("/devices/quarantine", response_class=HTMLResponse)
def quarantine_page(
    request: Request, session: DbSession, principal: CurrentPrincipal, settings: AppSettings
) -> Response:
    rows = quarantine.list_quarantine(session, principal)
    held = quarantine.list_quarantine(session, principal, registered=True)
    registered = svc.registered_mns(session, principal, [q.mn for q in held])
    return render(
        request,
        "devices/quarantine.html",
        rows=rows,
        held=[q for q in held if q.mn in registered],  # devices the caller can see
        registered=registered,
        districts=org.list_districts(session, principal),
        providers=svc.providers(session),
        kinds=list(DeviceKind),
        flash=pop_flash(request),
        **_helpers(settings),
    )


@router.post("/devices/quarantine/{quarantine_id}/adopt")
async def quarantine_adopt(
    request: Request, session: DbSession, principal: CurrentPrincipal, quarantine_id: int
) -> Response:
    form = await _form(request)

    def _do() -> Any:
        body = AdoptIn.model_validate(_picked(session, principal, form, forms.adopt_payload(form)))
        return quarantine.adopt(session, principal, quarantine_id, body)

    device = attempt(request, session, _do)
    if device is None:
        return _back("/devices/quarantine")
    flash(request, ok="devices.flash.adopted")
    return _back(f"/devices/{device.id}")


def _picked(
    session: Session,
    principal: Principal,
    form: Any,
    payload: dict[str, Any],
    *,
    name: str = "site_id",
) -> dict[str, Any]:
    """``payload`` with the site a site picker names (its text ``<name>_q``, or the id its
    script chose while the text still reads as that site); a post without the picker's text
    box keeps its id."""
    typed = form.get(f"{name}_q")
    if isinstance(typed, str):
        payload[name] = sites.pick_site(session, principal, typed, payload.get(name))
    return payload


# --------------------------------------------------------------------------- device page


def _device_context(
    session: Session, principal: Principal, device_id: int, *, locale: str, settings: Settings
) -> dict[str, Any]:
    data = svc.detail(session, principal, device_id)
    writable = svc.is_writable(session, principal, device_id)
    can_write = principal.can(Perm.device_write) and writable
    closed = data.lifecycle in (Lifecycle.removed, Lifecycle.rejected)
    return {
        "d": data,
        "periods": svc.offline_periods(session, device_id),
        "checks": (
            svc.stream_checks(session, device_id) if data.kind == DeviceKind.video_camera else []
        ),
        "requests": svc.change_requests(session, device_id),
        "keys": svc.api_keys(session, device_id) if can_write else [],
        "history": readable_history(
            session,
            entries_for(session, entity_type="device", entity_id=device_id),
            locale=locale,
            tz=ZoneInfo(settings.timezone),
        ),
        "can_write": can_write,
        "can_review": principal.can(Perm.device_review) and writable,
        "can_request": principal.can(Perm.device_request) and not closed,
        "closed": closed,
        "request_kinds": list(RequestKind),
        "issued": None,
        **_helpers(settings),
    }


@router.get("/devices/{device_id}", response_class=HTMLResponse)
def device_page(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    device_id: int,
) -> Response:
    locale = request_locale(request)
    ctx = _device_context(session, principal, device_id, locale=locale, settings=settings)
    return render(request, "devices/detail.html", flash=pop_flash(request), **ctx)


@router.post("/devices/{device_id}/requests")
async def device_request(
    request: Request, session: DbSession, principal: CurrentPrincipal, device_id: int
) -> Response:
    form = await _form(request)

    def _do() -> Any:
        payload = forms.request_payload(form)
        body = ChangeRequestIn.model_validate(
            _picked(session, principal, form, payload, name="new_site_id")
        )
        return changes.create_request(session, principal, device_id, body)

    if attempt(request, session, _do) is not None:
        flash(request, ok="devices.flash.requested")
    return _back(f"/devices/{device_id}")


@router.post("/devices/{device_id}/requests/{request_id}/decide")
async def device_request_decide(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    device_id: int,
    request_id: int,
) -> Response:
    form = await _form(request)
    body = DecisionIn(approve=forms.decision(form), note=forms.text(form, "note")[:1000])
    if attempt(
        request, session, lambda: changes.decide(session, principal, device_id, request_id, body)
    ):
        flash(request, ok="devices.flash.decided")
    return _back(f"/devices/{device_id}")


@router.post("/devices/{device_id}/keys", response_class=HTMLResponse)
async def device_key_issue(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    device_id: int,
) -> Response:
    """Answers with the page itself (not a redirect): the key is shown in this response
    only, and never travels through the session cookie."""
    await _form(request)
    row, plaintext = keys.issue_key(session, principal, device_id)
    locale = request_locale(request)
    ctx = _device_context(session, principal, device_id, locale=locale, settings=settings)
    ctx["issued"] = {"prefix": row.prefix, "key": plaintext}
    return render(request, "devices/detail.html", flash=None, **ctx)


@router.post("/devices/{device_id}/keys/{key_id}/revoke")
async def device_key_revoke(
    request: Request, session: DbSession, principal: CurrentPrincipal, device_id: int, key_id: int
) -> Response:
    await _form(request)
    keys.revoke_key(session, principal, device_id, key_id)
    flash(request, ok="devices.flash.revoked")
    return _back(f"/devices/{device_id}")


@router.post("/devices/{device_id}/offline-notice")
async def device_offline_notice(
    request: Request, session: DbSession, principal: CurrentPrincipal, device_id: int
) -> Response:
    await _form(request)
    if attempt(request, session, lambda: svc.notify_offline(session, principal, device_id)):
        flash(request, ok="devices.flash.notified")
    return _back(f"/devices/{device_id}")


# --------------------------------------------------------------------------- onboarding


@router.get("/onboarding", response_class=HTMLResponse)
def application_list(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    paging: Annotated[PageParams, Depends(page_params)],
    status: str = "",
) -> Response:
    chosen = ApplicationStatus(status) if status in ApplicationStatus.__members__ else None
    data = onboarding.list_applications(
        session, principal, status=chosen, page=paging.page, size=paging.size
    )
    return render(
        request,
        "devices/applications.html",
        data=data,
        status=chosen,
        statuses=list(ApplicationStatus),
        pages=max(1, -(-data.total // data.size)),
        can_apply=principal.can(Perm.device_apply),
        **_helpers(settings),
    )


def _new_form(
    request: Request,
    session: Session,
    principal: Principal,
    *,
    values: dict[str, Any],
    errors: list[str],
    status_code: int = 200,
) -> Response:
    svc.require(principal, Perm.device_apply)
    return render(
        request,
        "devices/application_form.html",
        status_code=status_code,
        providers=svc.providers(session),
        kinds=forms.SITE_DEVICE_KINDS,
        rows=range(forms.APPLICATION_ROWS),
        values=values,
        errors=errors,
    )


@router.get("/onboarding/new", response_class=HTMLResponse)
def application_new(
    request: Request, session: DbSession, principal: CurrentPrincipal, site_id: str = ""
) -> Response:
    values = {"site_id": "", "site_id_q": ""}
    if site_id.strip().isdigit():  # "apply for monitors" from a site's page: the picker shows it
        try:
            site = sites.get_site(session, principal, int(site_id))
        except NotFound:
            site = None
        if site is not None and site.retired_at is None:
            values = {
                "site_id": site_id,
                "site_id_q": sites.site_label(site.project_code, site.name),
            }
    return _new_form(request, session, principal, values=values, errors=[])


@router.post("/onboarding/new", response_class=HTMLResponse)
async def application_create(
    request: Request, session: DbSession, principal: CurrentPrincipal
) -> Response:
    form = await _form(request)
    values = {k: v for k, v in form.items() if isinstance(v, str)}

    def _do() -> Any:
        payload = _picked(session, principal, form, forms.application_payload(form))
        body = ApplicationCreate.model_validate(payload)
        return onboarding.create_application(session, principal, body)

    app = attempt(request, session, _do)
    if app is None:
        error = pop_flash(request)["error"] or ""
        return _new_form(
            request, session, principal, values=values, errors=[error], status_code=422
        )
    flash(request, ok="devices.flash.applied")
    return _back(f"/onboarding/{app.id}")


@router.get("/onboarding/{application_id}", response_class=HTMLResponse)
def application_page(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    application_id: int,
) -> Response:
    app = onboarding.get_application(session, principal, application_id)
    return render(
        request,
        "devices/application.html",
        a=onboarding.to_out(session, app),
        can_review=onboarding.may_review(session, principal, app),
        history=readable_history(
            session,
            entries_for(session, entity_type="onboarding_application", entity_id=app.id),
            locale=request_locale(request),
            tz=ZoneInfo(settings.timezone),
        ),
        flash=pop_flash(request),
        **_helpers(settings),
    )


@router.post("/onboarding/{application_id}/{step}")
async def application_step(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    application_id: int,
    step: str,
) -> Response:
    """The review, test and install buttons of the application page."""
    form = await _form(request)
    note = forms.text(form, "note")[:1000]
    yes = forms.decision(form)
    actions: dict[str, Callable[[], Any]] = {
        "review": lambda: onboarding.review(
            session, principal, application_id, ReviewIn(approve=yes, note=note)
        ),
        "test": lambda: onboarding.record_test(
            session, principal, application_id, DeviceTestIn(passed=yes, note=note)
        ),
        "install": lambda: onboarding.install(session, principal, application_id),
    }
    action = actions.get(step)
    if action is None:
        raise Invalid("web.error.unknown_step", step=step)
    if attempt(request, session, action) is not None:
        flash(request, ok=f"devices.flash.{step}")
    return _back(f"/onboarding/{application_id}")


# --------------------------------------------------------------------------- site fragment


@router.get("/sites/{site_id}/devices", response_class=HTMLResponse)
def site_devices(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    site_id: int,
) -> Response:
    """The devices section of the site page (loaded by htmx); 404 outside scope."""
    site = sites.get_site(session, principal, site_id)
    return render(
        request,
        "devices/_site_devices.html",
        site=site,
        items=svc.site_devices(session, principal, site.id),
        can_apply=principal.can(Perm.device_apply),
        **_helpers(settings),
    )
