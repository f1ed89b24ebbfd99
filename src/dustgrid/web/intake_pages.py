"""Pages of the 12319 desk: the complaint list with the month's rates, the intake form with
live suggestions (HTMX), and a complaint's page to link, dismiss and record the answer.

Forms post back with the CSRF token. A refused change (422/409) rolls back to a savepoint
and comes back as a flash message; 403/404 show the error page like any other page.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from dustgrid.auth.deps import AppSettings, DbSession, check_csrf, require
from dustgrid.cases.categories import CONTROL_MEASURES, DEFECTS, OTHER, VIOLATIONS, Severity
from dustgrid.errors import DomainError, Forbidden
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Perm
from dustgrid.intake import (
    hotline,
    hotline_reasons,
    hotline_settings,
    hotline_stats,
    hotline_suggest,
    views,
)
from dustgrid.intake.models import Channel, ComplaintStatus
from dustgrid.intake.schemas import ComplaintIn, FeedbackIn, LinkIn
from dustgrid.models import utcnow
from dustgrid.pagination import PageParams, page_params
from dustgrid.routing import Router
from dustgrid.sites import service as sites
from dustgrid.web.case_common import show
from dustgrid.web.forms import attempt, error_text, flash, pop_flash
from dustgrid.web.templating import render, request_locale

router = Router(include_in_schema=False)
Desk = Annotated[Principal, Depends(require(Perm.hotline))]
Text = Annotated[str, Form()]
# what the suggestions panel needs to say why (messages in the reader's language)
WHY: dict[str, Any] = {"site_why": hotline_reasons.site_reasons,
                       "dup_why": hotline_reasons.duplicate_reasons}  # fmt: skip


def _float(value: str) -> float | None:
    try:
        return float(value) if value.strip() else None
    except ValueError:
        return None


def _int(value: str) -> int | None:
    return int(value) if value.strip().isdigit() else None


def _dt(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value.strip()) if value.strip() else None
    except ValueError:
        return None


def _categories(locale: str) -> list[tuple[str, list[tuple[str, str]]]]:
    en = locale == "en"
    return [
        (group, [(k, v[1] if en else v[0]) for k, v in table.items()])
        for group, table in (("intake.category.other", OTHER),
                             ("intake.category.measures", CONTROL_MEASURES),
                             ("intake.category.defects", DEFECTS),
                             ("intake.category.violations", VIOLATIONS))
    ]  # fmt: skip


@router.get("/hotline", response_class=HTMLResponse)
def hotline_list(
    request: Request,
    session: DbSession,
    principal: Desk,
    settings: AppSettings,
    paging: Annotated[PageParams, Depends(page_params)],
    status: str = "",
    q: str = "",
    month: str = "",
) -> Response:
    st = ComplaintStatus(status) if status in ComplaintStatus.__members__ else None
    rows, total = hotline.list_complaints(session, principal, status=st, q=q or None,
                                          page=paging.page, size=paging.size)  # fmt: skip
    try:
        stats = hotline_stats.monthly(session, principal, month or None, settings=settings)
    except DomainError:
        stats = hotline_stats.monthly(session, principal, None, settings=settings)
    items = views.complaint_rows(session, rows, masked=True)
    dups = hotline_suggest.earlier_duplicates(session, principal, rows, settings=settings)
    return show(
        request, settings, "intake/hotline_list.html", items=items, dups=dups, **WHY,
        total=total, page=paging.page, pages=max(1, -(-total // paging.size)), size=paging.size,
        status=status, q=q, statuses=list(ComplaintStatus), stats=stats,
        query=urlencode({"status": status, "q": q}), flash=pop_flash(request),
    )  # fmt: skip


def _form_page(request: Request, values: dict[str, Any], error: str | None = None,
               status_code: int = 200) -> Response:  # fmt: skip
    locale = request_locale(request)
    return render(request, "intake/hotline_new.html", status_code=status_code, values=values,
                  error=error, channels=list(Channel), categories=_categories(locale))  # fmt: skip


@router.get("/hotline/new", response_class=HTMLResponse)
def hotline_new(request: Request, principal: Desk, settings: AppSettings) -> Response:
    now = utcnow().astimezone(ZoneInfo(settings.timezone)).strftime("%Y-%m-%dT%H:%M")
    return _form_page(request, {"received_at": now, "channel": "phone_12319",
                                "category": "dust_complaint"})  # fmt: skip


@router.get("/hotline/suggest", response_class=HTMLResponse)
def hotline_suggest_partial(
    request: Request, session: DbSession, principal: Desk, settings: AppSettings,
    lat: str = "", lon: str = "", place_text: str = "", received_at: str = "",
    caller_phone: str = "", content: str = "",
) -> Response:  # fmt: skip
    """The suggestions panel of the form, refreshed by HTMX as the place is typed."""
    la, lo = _float(lat), _float(lon)
    if la is None or lo is None or not (-90 <= la <= 90 and -180 <= lo <= 180):
        la = lo = None
    at = _dt(received_at)
    at = hotline.aware(at, settings) if at else utcnow()
    place = place_text.strip()
    sug = hotline_suggest.suggest(session, principal, lat=la, lon=lo, place_text=place, at=at,
                                  caller_phone=caller_phone[:32], content=content[:4000],
                                  settings=settings)  # fmt: skip
    return render(request, "intake/_suggestions.html", sug=sug, choose=True,
                  may_open=hotline.may_open(session, principal), **WHY)  # fmt: skip


@router.post("/hotline/new", response_class=HTMLResponse)
def hotline_create(
    request: Request, session: DbSession, principal: Desk, settings: AppSettings,
    csrf_token: Text = "", channel: Text = "phone_12319", caller_name: Text = "",
    caller_phone: Text = "", received_at: Text = "", place_text: Text = "", lat: Text = "",
    lon: Text = "", category: Text = "dust_complaint", content: Text = "",
    link_site_id: Text = "", link_case_id: Text = "",
) -> Response:  # fmt: skip
    check_csrf(request, csrf_token)
    values = {"channel": channel, "caller_name": caller_name, "caller_phone": caller_phone,
              "received_at": received_at, "place_text": place_text, "lat": lat, "lon": lon,
              "category": category, "content": content}  # fmt: skip
    try:
        data = ComplaintIn.model_validate(
            {**values, "received_at": _dt(received_at), "lat": _float(lat), "lon": _float(lon)}
        )
        with session.begin_nested():
            c = hotline.create(session, principal, data, settings=settings)
    except (DomainError, ValidationError) as exc:
        if isinstance(exc, DomainError) and exc.status_code in (403, 404):
            raise
        return _form_page(
            request, values, error_text(exc, request_locale(request)), status_code=422
        )
    site_id, case_id = _int(link_site_id), _int(link_case_id)
    if site_id is not None or case_id is not None:
        link = LinkIn(site_id=None if case_id else site_id, case_id=case_id)
        if attempt(request, session, lambda: hotline.link(session, principal, c.id, link,
                                                           settings=settings)):  # fmt: skip
            flash(request, ok="intake.flash.linked")
    else:
        flash(request, ok="intake.flash.created")
    return RedirectResponse(f"/hotline/{c.id}", status_code=303)


@router.get("/hotline/settings", response_class=HTMLResponse)
def hotline_settings_page(
    request: Request, session: DbSession, principal: Desk, settings: AppSettings
) -> Response:
    """The city's desk settings: the city admin changes them, district admins read them."""
    return show(request, settings, "intake/hotline_settings.html",
                 district_opens_cases=hotline_settings.district_opens_cases(session),
                 may_change=hotline_settings.may_change(principal),
                 flash=pop_flash(request))  # fmt: skip


@router.post("/hotline/settings")
def hotline_settings_save(
    request: Request, session: DbSession, principal: Desk, csrf_token: Text = "",
    district_opens_cases: Text = "",
) -> Response:  # fmt: skip
    check_csrf(request, csrf_token)
    if not hotline_settings.may_change(principal):
        raise Forbidden("hotline.error.settings_city_only")
    allowed = district_opens_cases == "1"
    if attempt(request, session, lambda: hotline_settings.set_district_opens_cases(
            session, principal, allowed)):  # fmt: skip
        flash(request, ok="hotline.settings.saved")
    return RedirectResponse("/hotline/settings", status_code=303)


@router.get("/hotline/{complaint_id}", response_class=HTMLResponse)
def hotline_detail(
    request: Request, session: DbSession, principal: Desk, settings: AppSettings,
    complaint_id: int,
) -> Response:  # fmt: skip
    c = hotline.get(session, principal, complaint_id)
    sug = hotline_suggest.for_complaint(session, principal, c, settings=settings)
    return show(request, settings, "intake/hotline_detail.html", c=views.complaint_out(session, c),
                  sug=sug, choose=c.status == ComplaintStatus.received,
                  may_open=hotline.may_open(session, principal, hotline.case_source(c)[0]),
                  severities=list(Severity),
                  flash=pop_flash(request), **WHY)  # fmt: skip


@router.post("/hotline/{complaint_id}/link")
def hotline_link(
    request: Request, session: DbSession, principal: Desk, settings: AppSettings,
    complaint_id: int, csrf_token: Text = "", link_site_id: Text = "", link_case_id: Text = "",
    severity: Text = "medium", other_site_id: Text = "", other_site_id_q: Text = "",
) -> Response:  # fmt: skip
    check_csrf(request, csrf_token)
    case_id = _int(link_case_id)

    def _link() -> Any:
        site_id = _int(link_site_id)
        if site_id is None and case_id is None:  # a site none of the suggestions names
            site_id = sites.pick_site(session, principal, other_site_id_q, _int(other_site_id))
        body = LinkIn(site_id=None if case_id else site_id, case_id=case_id, severity=severity)
        return hotline.link(session, principal, complaint_id, body, settings=settings)

    if attempt(request, session, _link):
        flash(request, ok="intake.flash.linked")
    return RedirectResponse(f"/hotline/{complaint_id}", status_code=303)


@router.post("/hotline/{complaint_id}/dismiss")
def hotline_dismiss(
    request: Request, session: DbSession, principal: Desk, complaint_id: int,
    csrf_token: Text = "", reason: Text = "",
) -> Response:  # fmt: skip
    check_csrf(request, csrf_token)

    def _do() -> object:
        if len(reason.strip()) < 2:
            from dustgrid.errors import Invalid

            raise Invalid("web.error.give_reason", details={"field": "reason"})
        return hotline.dismiss(session, principal, complaint_id, reason)

    if attempt(request, session, _do):
        flash(request, ok="intake.flash.dismissed")
    return RedirectResponse(f"/hotline/{complaint_id}", status_code=303)


@router.post("/hotline/{complaint_id}/feedback")
def hotline_feedback(
    request: Request, session: DbSession, principal: Desk, settings: AppSettings,
    complaint_id: int, csrf_token: Text = "", responded: Text = "", resolved: Text = "",
    satisfaction: Text = "", satisfied: Text = "", note: Text = "",
) -> Response:  # fmt: skip
    check_csrf(request, csrf_token)

    def _do() -> object:
        body = FeedbackIn.model_validate({
            "responded": bool(responded), "resolved": bool(resolved),
            "satisfaction": _int(satisfaction),
            "satisfied": {"yes": True, "no": False}.get(satisfied), "note": note})  # fmt: skip
        return hotline.feedback(session, principal, complaint_id, body, settings=settings)

    if attempt(request, session, _do):
        flash(request, ok="intake.flash.feedback")
    return RedirectResponse(f"/hotline/{complaint_id}", status_code=303)
