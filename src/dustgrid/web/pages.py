"""Pages of the ledger: login, list, site page, forms, Excel import and the map."""

from __future__ import annotations

from datetime import timedelta, tzinfo
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from dustgrid.audit.service import entries_for
from dustgrid.auth.deps import (
    SESSION_KEY,
    AppSettings,
    CurrentPrincipal,
    DbSession,
    check_csrf,
    client_ip,
)
from dustgrid.auth.service import (
    SESSION_COOKIE,
    authenticate,
    load_principal,
    logout,
    start_session,
)
from dustgrid.config import Settings
from dustgrid.devices.compliance import site_gate
from dustgrid.devices.mandatory import DEFAULT_MANDATORY_DEVICE_POLICY, Gate
from dustgrid.errors import DomainError, Forbidden, Invalid
from dustgrid.grids import service as grids
from dustgrid.i18n import LOCALES, Msg, localize, translate
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Perm
from dustgrid.org import service as org
from dustgrid.pagination import PageParams, page_params
from dustgrid.routing import Router
from dustgrid.sites import excel
from dustgrid.sites import service as svc
from dustgrid.sites.api import Filter, list_item
from dustgrid.sites.models import Grade, PermitStatus, Site, SiteKind, Stage
from dustgrid.sites.policy import DEFAULT_DISTRICT_BOUNDARY_POLICY
from dustgrid.web.forms import form_errors
from dustgrid.web.history import readable_history
from dustgrid.web.mapdata import label_point, to_datum, vector_basemap
from dustgrid.web.nav import is_field, is_leader
from dustgrid.web.pickers import coordinate_map
from dustgrid.web.site_form import (
    FORM_FIELDS,
    FORM_LABELS,
    SiteFormCreate,
    SiteFormUpdate,
    form_to_payload,
    site_to_form,
)
from dustgrid.web.site_grades import grade_panel
from dustgrid.web.templating import render, request_locale

router = Router(include_in_schema=False)


def _safe_next(target: str | None) -> str:
    """Only same-site relative redirects after login (no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


@router.get("/", response_class=HTMLResponse)
def index(principal: CurrentPrincipal) -> Response:
    """Leaders land on the overview, officers and inspectors on their day's work (/today),
    everyone else on the ledger of their sites."""
    if is_leader(principal):
        return RedirectResponse("/overview", status_code=303)
    return RedirectResponse("/today" if is_field(principal) else "/sites", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/") -> Response:
    return render(request, "login.html", next=_safe_next(next), error=None, username="")


@router.post("/login", response_class=HTMLResponse)
async def login_submit(request: Request, session: DbSession, settings: AppSettings) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token") or ""))
    username = str(form.get("username") or "")
    target = _safe_next(str(form.get("next") or ""))
    try:
        user = authenticate(
            session,
            username=username,
            password=str(form.get("password") or ""),
            ip=client_ip(request),
            settings=settings,
        )
    except DomainError as exc:
        # The failed attempt must be stored even though the page answers with an error.
        session.commit()
        page = render(
            request,
            "login.html",
            status_code=exc.status_code,
            error=exc.text(request_locale(request)),
            next=target,
            username=username,
        )
        page.headers.update(exc.http_headers())
        return page
    sid, _row = start_session(
        session,
        user,
        kind=SESSION_COOKIE,
        ttl=timedelta(minutes=settings.session_ttl_minutes),
        ip=client_ip(request),
    )
    request.session.clear()  # a new cookie (and CSRF token) at login: no session fixation
    request.session[SESSION_KEY] = sid
    request.state.principal = load_principal(session, user)
    response = RedirectResponse(target, status_code=303)
    if user.locale in LOCALES and "lang" not in request.cookies:
        response.set_cookie("lang", user.locale, samesite="lax", secure=settings.cookie_secure)
    return response


@router.post("/logout")
async def logout_submit(
    request: Request, session: DbSession, settings: AppSettings, principal: CurrentPrincipal
) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token") or ""))
    logout(session, principal, str(request.session.get(SESSION_KEY) or ""), settings)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/lang/{locale}")
def set_language(request: Request, locale: str, settings: AppSettings) -> Response:
    """Switch zh-CN / English and go back to the page the user was on."""
    ref = urlsplit(request.headers.get("referer", ""))
    back = "/sites"
    if ref.netloc == request.url.netloc and ref.path:
        back = _safe_next(ref.path + (f"?{ref.query}" if ref.query else ""))
    response = RedirectResponse(back, status_code=303)
    if locale in LOCALES:
        response.set_cookie(
            "lang",
            locale,
            max_age=365 * 86400,
            samesite="lax",
            secure=settings.cookie_secure,
            httponly=True,
        )
    return response


def _choices(session: DbSession, principal: CurrentPrincipal) -> dict[str, Any]:
    return {
        "districts": org.district_choices(session, principal),
        "grids": grids.grid_choices(session, principal),
        "grades": list(Grade),
        "stages": list(Stage),
        "kinds": list(SiteKind),
        "permit_statuses": list(PermitStatus),
    }


@router.get("/sites", response_class=HTMLResponse)
def ledger(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    f: Filter,
    paging: Annotated[PageParams, Depends(page_params)],
) -> Response:
    rows, total = svc.list_page(session, principal, f, page=paging.page, size=paging.size)
    query = {k: v for k, v in f.model_dump(mode="json").items() if v not in (None, False, "")}
    pages = max(1, -(-total // paging.size))
    return render(
        request,
        "sites/list.html",
        items=[list_item(r) for r in rows],
        total=total,
        page=paging.page,
        pages=pages,
        size=paging.size,
        f=f,
        query=urlencode(query),
        can_write=principal.can(Perm.site_write),
        can_import=principal.can(Perm.site_import),
        **_choices(session, principal),
    )


def _site_context(
    session: DbSession, card: grids.SiteCard, *, locale: str, tz: tzinfo
) -> dict[str, Any]:
    """What the site page names, from the rows ``site_card`` read with the site."""
    return {
        "district": card.district,
        "l2_unit": card.l2_unit,
        "egrid": card.enforcement_grid,
        "igrid": card.inspector_grid,
        "ents": card.enterprises,
        "history": readable_history(
            session,
            entries_for(session, entity_type="site", entity_id=card.site.id),
            locale=locale,
            tz=tz,
        ),
    }


def gate_view(gate: Gate, locale: str) -> dict[str, Any]:
    """The connect-before-waste badge (003): open or closed, and why, in ``locale``."""
    t = DEFAULT_MANDATORY_DEVICE_POLICY.threshold
    params = {"investment": f"{t.investment_yuan:,.0f}", "area": f"{t.area_m2:,.0f}"}
    return {
        "open": gate.open,
        "required": gate.required,
        "label": translate(
            "devices.mandatory.gate.open" if gate.open else "devices.mandatory.gate.closed", locale
        ),
        "reason": localize(Msg(f"devices.mandatory.gate.{gate.reason.value}", params), locale),
    }


@router.get("/sites/new", response_class=HTMLResponse)
def site_new(
    request: Request, session: DbSession, principal: CurrentPrincipal, settings: AppSettings
) -> Response:
    if not principal.can(Perm.site_write):
        raise Forbidden("sites.error.role_may_not_add_sites")
    return _site_form(request, session, principal, settings, None, {})


def _site_form(
    request: Request,
    session: Session,
    principal: Principal,
    settings: Settings,
    site: Site | None,
    values: dict[str, Any],
    exc: Exception | None = None,
) -> Response:
    """The site form (new or edit), blank or refused: with ``exc`` it answers 422 and says
    what is wrong next to each field and at the top."""
    by_field, errors = _errors(exc, request) if exc else ({}, [])
    return render(
        request,
        "sites/form.html",
        status_code=422 if exc else 200,
        site=site,
        values=values,
        errors=errors,
        field_errors=by_field,
        fields=FORM_FIELDS,
        coord_map=coordinate_map(session, principal, settings),
        **_choices(session, principal),
    )


@router.post("/sites/new", response_class=HTMLResponse)
async def site_create(
    request: Request, session: DbSession, principal: CurrentPrincipal, settings: AppSettings
) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token") or ""))
    values = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    try:
        payload = SiteFormCreate.model_validate(form_to_payload(values, create=True))
        site = svc.create_site(session, principal, payload)
    except (ValidationError, DomainError) as exc:
        session.rollback()
        return _site_form(request, session, principal, settings, None, values, exc)
    return RedirectResponse(f"/sites/{site.id}", status_code=303)


def _errors(exc: Exception, request: Request) -> tuple[dict[str, list[str]], list[str]]:
    """The site form's errors: by field (said next to it) and the summary for the top."""
    if isinstance(exc, svc.OutsideDistrict):  # in the reader's language, not both
        en = request_locale(request) == "en"
        return {}, [translate("site.error.outside_district", request_locale(request)).format(
            district=exc.district_en if en else exc.district,
            distance=DEFAULT_DISTRICT_BOUNDARY_POLICY.distance_text(exc.distance_m, en=en),
        )]  # fmt: skip
    return form_errors(exc, request_locale(request), FORM_LABELS)


@router.get("/sites/import", response_class=HTMLResponse)
def import_page(request: Request, principal: CurrentPrincipal) -> Response:
    if not principal.can(Perm.site_import):
        raise Forbidden("web.error.role_may_not_import")
    return render(request, "sites/import.html", report=None, error=None)


@router.post("/sites/import", response_class=HTMLResponse)
async def import_submit(
    request: Request, session: DbSession, principal: CurrentPrincipal, settings: AppSettings
) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token") or ""))
    upload = form.get("file")
    content = await upload.read() if upload is not None and not isinstance(upload, str) else b""
    try:
        report = excel.import_sites(session, principal, content, settings=settings)
    except DomainError as exc:
        return render(
            request,
            "sites/import.html",
            status_code=exc.status_code,
            report=None,
            error=exc.text(request_locale(request)),
        )
    return render(request, "sites/import.html", report=report, error=None)


@router.get("/sites/{site_id}", response_class=HTMLResponse)
def site_page(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    principal: CurrentPrincipal,
    site_id: int,
) -> Response:
    card = grids.site_card(session, principal, site_id)  # the site and what it names: one read
    tz = ZoneInfo(settings.timezone)
    locale = request_locale(request)
    return render(
        request,
        "sites/detail.html",
        site=card.site,
        can_write=principal.can(Perm.site_write),
        grading=grade_panel(session, card.site, locale=locale, tz=tz),
        gate=gate_view(site_gate(session, card.site), locale),
        **_site_context(session, card, locale=locale, tz=tz),
    )


@router.get("/sites/{site_id}/edit", response_class=HTMLResponse)
def site_edit(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    site_id: int,
) -> Response:
    site = svc.get_site(session, principal, site_id)
    if not principal.can(Perm.site_write):
        raise Forbidden("sites.error.role_may_not_change_ledger")
    return _site_form(request, session, principal, settings, site, site_to_form(session, site))


@router.post("/sites/{site_id}/edit", response_class=HTMLResponse)
async def site_update(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    site_id: int,
) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token") or ""))
    values = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    try:
        payload = SiteFormUpdate.model_validate(form_to_payload(values, create=False))
        svc.update_site(session, principal, site_id, payload)
    except (ValidationError, DomainError) as exc:
        if isinstance(exc, DomainError) and exc.status_code in (403, 404):
            raise
        session.rollback()
        site = svc.get_site(session, principal, site_id)
        return _site_form(request, session, principal, settings, site, values, exc)
    return RedirectResponse(f"/sites/{site_id}", status_code=303)


@router.post("/sites/{site_id}/retire", response_class=HTMLResponse)
async def site_retire(
    request: Request, session: DbSession, principal: CurrentPrincipal, site_id: int
) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token") or ""))
    reason = str(form.get("reason") or "").strip()
    if len(reason) < 2:
        raise Invalid("web.error.reason_required")
    if form.get("confirm") != "yes":  # the confirm step (the page's dialog answers it)
        site = svc.get_site(session, principal, site_id)
        if not principal.can(Perm.site_write):
            raise Forbidden("sites.error.role_may_not_change_ledger")
        return render(request, "sites/retire_confirm.html", site=site, reason=reason)
    svc.retire_site(session, principal, site_id, reason)
    return RedirectResponse(f"/sites/{site_id}", status_code=303)


@router.get("/map", response_class=HTMLResponse)
def map_page(
    request: Request, session: DbSession, principal: CurrentPrincipal, settings: AppSettings
) -> Response:
    crs = settings.map_crs()
    districts = [
        {
            "id": d.id,
            "name": d.name,
            "boundary": to_datum(d.boundary, crs),
            "label": label_point(d.boundary, crs),
        }
        for d in org.list_districts(session, principal)
    ]
    grid_options = [
        {"id": g[0], "code": g[1], "name": g[2], "district_id": g[4]}
        for g in grids.grid_choices(session, principal)
    ]
    return render(
        request,
        "map.html",
        districts=districts,
        grid_options=grid_options,
        grades=list(Grade),
        stages=list(Stage),
        fit_district=None if principal.is_city_wide else principal.district_id,
        basemap=vector_basemap(settings),
        tile_url=settings.tile_url,
        tile_crs=crs,
        tile_attribution=settings.tile_attribution,
    )
