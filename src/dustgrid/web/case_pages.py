"""Pages of the case loop: inbox per role, report form, case page with timeline and moves
(the map, the overdue board and the site section are in ``case_list_pages``).

Form posts carry the CSRF token; a refused change (422/409) rolls back to a savepoint and
returns to the page with the message flashed, while 403/404 show the error page.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from dustgrid.auth.deps import AppSettings, CurrentPrincipal, DbSession, check_csrf
from dustgrid.cases import export, service, views
from dustgrid.cases.api import read_uploads
from dustgrid.cases.categories import (
    CONTROL_MEASURES,
    DEFECTS,
    OTHER,
    VIOLATIONS,
    Severity,
    category_label,
)
from dustgrid.cases.credit import service as credit
from dustgrid.cases.fieldfix import HandleNow
from dustgrid.cases.filters import LIGHTS
from dustgrid.cases.states import REPORTERS, CaseSource, Move
from dustgrid.cases.tabs import TABS_BY_ROLE, Tab
from dustgrid.cases.workflow import MoveInput
from dustgrid.config import Settings
from dustgrid.downloads import file_response
from dustgrid.errors import DomainError, Forbidden, NotFound
from dustgrid.i18n import translate
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Perm, Role
from dustgrid.models import utcnow
from dustgrid.org import service as org
from dustgrid.pagination import PageParams, page_params
from dustgrid.routing import Router
from dustgrid.sites import service as sites
from dustgrid.web import case_filters, case_timeline
from dustgrid.web.case_common import back, show
from dustgrid.web.case_list_pages import router as list_router
from dustgrid.web.forms import attempt, flash, form_errors, pop_flash
from dustgrid.web.templating import request_locale
from dustgrid.workcal.calendar import people_time

router = Router(include_in_schema=False)
router.include_router(list_router)  # /cases/map and /cases/board before /cases/{case_id}
Uploads = Annotated[list[UploadFile], File()]

# The inputs each move's form shows (the service decides what is required).
MOVE_FORM: dict[Move, tuple[str, ...]] = {
    Move.dispatch: ("unit_id", "deadline"),
    Move.return_: ("reason",),
    Move.transfer: ("unit_id", "reason"),
    Move.accept: ("responsible_id",),
    Move.reassign: ("responsible_id", "reason"),
    Move.start_handling: (),
    Move.fix_on_site: ("result", "photos"),
    Move.order_rectification: ("deadline", "reason"),
    Move.submit_rectification: ("result", "photos"),
    Move.recheck_pass: ("result", "photos"),
    Move.recheck_fail: ("reason", "photos"),
    Move.open_penalty: ("case_number", "reason"),
    Move.serve_penalty: ("result", "documents"),
    Move.verify_pass: ("result",),
    Move.verify_fail: ("reason",),
    Move.suspend: ("reason", "review_date"),
    Move.resume: ("reason",),
    Move.reopen: ("reason",),
    Move.look_back_pass: ("result",),
    Move.look_back_fail: ("result", "photos"),
    Move.dismiss: ("reason",),
    Move.grid_fix_on_site: ("result", "photos"),
    Move.grid_order_rectification: ("deadline", "reason"),
}


def _cat(locale: str) -> Callable[[str], str]:
    return lambda key: category_label(key, locale)


def _categories(locale: str) -> list[tuple[str, list[tuple[str, str]]]]:
    en = locale == "en"
    return [
        (group, [(k, v[1] if en else v[0]) for k, v in table.items()])
        for group, table in (
            ("cases.category.measures", CONTROL_MEASURES),
            ("cases.category.defects", DEFECTS),
            ("cases.category.violations", VIOLATIONS),
            ("cases.category.other", OTHER),
        )
    ]


# --------------------------------------------------------------------------- inbox


@router.get("/cases", response_class=HTMLResponse)
def inbox(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    paging: Annotated[PageParams, Depends(page_params)],
    tab: str = "",
) -> Response:
    tabs = TABS_BY_ROLE.get(principal.role, (Tab.all,))
    current = Tab(tab) if tab in Tab.__members__ else tabs[0]
    filters, kept, bad = case_filters.read(request.query_params)
    now = utcnow()
    rows, total = service.list_cases(
        session,
        principal,
        tab=current,
        now=now,
        page=paging.page,
        size=paging.size,
        filters=filters,
        tz=ZoneInfo(settings.timezone),
    )
    locale = request_locale(request)
    return show(
        request,
        settings,
        "cases/inbox.html",
        tabs=tabs,
        tab=current,
        counts=service.tab_counts(session, principal, now),
        items=views.case_rows(session, rows, now, locale),
        total=total,
        page=paging.page,
        pages=max(1, -(-total // paging.size)),
        query=case_filters.query(kept, tab=current.value),
        filter_query=case_filters.query(kept),
        kept=kept,
        refused=bad,
        districts=org.list_districts(session, principal),
        categories=case_filters.categories(locale),
        lights=LIGHTS,
        can_report=_sources(principal) != [],
        flash=pop_flash(request),
    )


@router.get("/cases/export.xlsx")
def inbox_export(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    tab: str = "",
) -> Response:
    """The inbox's tab and filters as a workbook: every row, not one page."""
    tabs = TABS_BY_ROLE.get(principal.role, (Tab.all,))
    current = Tab(tab) if tab in Tab.__members__ else tabs[0]
    filters, _kept, _bad = case_filters.read(request.query_params)
    now = utcnow()
    tz = ZoneInfo(settings.timezone)
    rows = service.export_rows(session, principal, tab=current, now=now, filters=filters, tz=tz)
    locale = request_locale(request)
    districts = {
        d.id: (d.name_en or d.name) if locale == "en" else d.name
        for d in org.list_districts(session, principal)
    }
    content = export.cases_xlsx(
        views.case_rows(session, rows, now, locale), districts, locale=locale, tz=tz
    )
    return file_response("cases.xlsx", "xlsx", content)


# --------------------------------------------------------------------------- report


def _sources(p: Principal) -> list[CaseSource]:
    # Open311 cases come only from the desk linking a client's request (intake.hotline)
    return [s for s, who in REPORTERS.items() if p.role in who and s != CaseSource.open311]


#: The report form's fields and their labels, in form order (errors are said next to them).
REPORT_LABELS: dict[str, str] = {
    "source": "cases.field.source",
    "site_id": "cases.field.site",
    "lat": "cases.field.lat",
    "lon": "cases.field.lon",
    "category": "cases.field.category",
    "severity": "cases.field.severity",
    "description": "cases.field.description",
    "handle_now": "cases.handle_now.title",
    "handle_result": "cases.handle_now.result",
    "handle_deadline": "cases.handle_now.deadline",
}


def _location_errors(values: dict[str, str], locale: str) -> dict[str, list[str]]:
    """A coordinate that is not a number, or one given without the other."""
    wrong: dict[str, list[str]] = {}
    given = {name: values[name].strip() for name in ("lat", "lon")}
    for name, raw in given.items():
        if not raw and any(given.values()):
            wrong[name] = [translate("validation.missing", locale)]
            continue
        try:
            float(raw or 0)
        except ValueError:
            wrong[name] = [translate("validation.float_parsing", locale)]
    return wrong


def _report_form(
    request: Request,
    session: Session,
    principal: Principal,
    settings: Settings,
    *,
    values: dict[str, Any],
    errors: tuple[dict[str, list[str]], list[str]] = ({}, []),
    status: int = 200,
) -> Response:
    return show(
        request,
        settings,
        "cases/new.html",
        status_code=status,
        sources=_sources(principal),
        categories=_categories(request_locale(request)),
        severities=list(Severity),
        values=values,
        field_errors=errors[0],
        errors=errors[1],
        can_handle_now=principal.role == Role.officer,
    )


@router.get("/cases/new", response_class=HTMLResponse)
def report_page(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    site_id: int | None = None,
) -> Response:
    if not _sources(principal):
        raise Forbidden("web.error.role_may_not_report_problems")
    values: dict[str, Any] = {"site_id": None, "site_id_q": ""}
    if site_id is not None:  # "report a problem" from a site's page: the picker shows it
        try:
            site = sites.get_site(session, principal, site_id)
        except NotFound:
            site = None
        if site is not None and site.retired_at is None:
            values = {
                "site_id": site.id,
                "site_id_q": sites.site_label(site.project_code, site.name),
            }
    return _report_form(request, session, principal, settings, values=values)


@router.post("/cases/new", response_class=HTMLResponse)
def report_submit(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    csrf_token: Annotated[str, Form()] = "",
    source: Annotated[str, Form()] = "",
    site_id: Annotated[str, Form()] = "",
    site_id_q: Annotated[str | None, Form()] = None,
    lat: Annotated[str, Form()] = "",
    lon: Annotated[str, Form()] = "",
    category: Annotated[str, Form()] = "",
    severity: Annotated[str, Form()] = "medium",
    description: Annotated[str, Form()] = "",
    handle_now: Annotated[str, Form()] = "",
    handle_result: Annotated[str, Form()] = "",
    handle_deadline: Annotated[str, Form()] = "",
    photos: Uploads = [],  # noqa: B006
    result_photos: Uploads = [],  # noqa: B006
) -> Response:
    check_csrf(request, csrf_token)
    values = {
        "source": source,
        "site_id": site_id,
        "site_id_q": site_id_q or "",
        "lat": lat,
        "lon": lon,
        "category": category,
        "severity": severity,
        "description": description,
        "handle_now": handle_now,
        "handle_result": handle_result,
        "handle_deadline": handle_deadline,
    }
    locale = request_locale(request)
    wrong = _location_errors(values, locale)
    if wrong:
        labels = [translate(REPORT_LABELS[name], locale) for name in wrong]
        return _report_form(
            request,
            session,
            principal,
            settings,
            values=values,
            errors=(wrong, labels),
            status=422,
        )
    try:
        with session.begin_nested():
            location = (float(lat), float(lon)) if lat.strip() and lon.strip() else None
            if site_id_q is None:  # a post without the picker's text box: the id alone
                picked = int(site_id) if site_id.strip() else None
            else:  # the picker: its text, and the id its script chose while the text holds
                chosen = int(site_id) if site_id.strip().isdigit() else None
                picked = sites.pick_site(session, principal, site_id_q, chosen)
                values["site_id"] = str(picked or "")
            report: dict[str, Any] = {
                "actor": principal,
                "source": CaseSource(source),
                "site_id": picked,
                "location": location,
                "category": category,
                "description": description,
                "severity": severity,
                "attachments": read_uploads(photos, [], settings),
                "settings": settings,
            }
            if handle_now.strip():
                handle = HandleNow(
                    handle_now.strip(),
                    result=handle_result,
                    deadline=handle_deadline.strip() or None,
                    attachments=read_uploads(result_photos, [], settings),
                )
                case, _ = service.report_and_handle(session, handle=handle, **report)
            else:
                case, _ = service.open_case(session, **report)
    except (DomainError, ValueError) as exc:
        status = getattr(exc, "status_code", 422)
        if status == 404:
            raise
        errors = form_errors(exc, locale, REPORT_LABELS)
        return _report_form(
            request, session, principal, settings, values=values, errors=errors, status=status
        )
    flash(request, ok="cases.flash.grid_handled" if case.grid_handled else "cases.flash.reported")
    return back(f"/cases/{case.id}")


# --------------------------------------------------------------------------- case page


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    case_id: int,
) -> Response:
    case = service.get_case(session, principal, case_id)
    now = utcnow()
    locale = request_locale(request)
    d = views.detail(session, principal, case, now, locale)
    moves = [Move(m) for m in d.allowed_moves]
    defaults = service.move_defaults(case, moves, now=now, settings=settings)
    sends = bool({Move.dispatch, Move.transfer} & set(moves))  # the unit picker is shown
    units = service.dispatch_units(session) if sends else []
    problem = credit.problem_of_case(session, case.id)
    return show(
        request,
        settings,
        "cases/detail.html",
        c=d,
        timeline=case_timeline.timeline(session, d.events, locale, ZoneInfo(settings.timezone)),
        description=case_timeline.description(d, locale),
        moves=moves,
        move_form=MOVE_FORM,
        defaults=defaults,
        units=units,
        site_unit=sites.l2_unit_of(session, case.site_id) if sends and case.site_id else None,
        candidates=views.responsible_candidates(session, case)
        if {Move.accept, Move.reassign} & set(moves)
        else [],
        problem=problem,
        can_decide=principal.can(Perm.case_penalty),
        cat=_cat(locale),
        flash=pop_flash(request),
    )


@router.get("/cases/{case_id}/print", response_class=HTMLResponse)
def case_print(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    case_id: int,
) -> Response:
    """The case file on one printable page: facts and the timeline, no forms."""
    case = service.get_case(session, principal, case_id)
    now = utcnow()
    locale = request_locale(request)
    d = views.detail(session, principal, case, now, locale)
    printed = people_time(now, ZoneInfo(settings.timezone))
    return show(
        request,
        settings,
        "cases/print.html",
        c=d,
        timeline=case_timeline.timeline(session, d.events, locale, ZoneInfo(settings.timezone)),
        description=case_timeline.description(d, locale),
        printed=printed,
    )


@router.post("/cases/{case_id}/moves/{move}")
def move_submit(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    case_id: int,
    move: Move,
    csrf_token: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    unit_id: Annotated[str, Form()] = "",
    responsible_id: Annotated[str, Form()] = "",
    deadline: Annotated[str, Form()] = "",
    result: Annotated[str, Form()] = "",
    case_number: Annotated[str, Form()] = "",
    review_date: Annotated[str, Form()] = "",
    photos: Uploads = [],  # noqa: B006
    documents: Uploads = [],  # noqa: B006
) -> Response:
    check_csrf(request, csrf_token)

    def _do() -> object:
        try:
            review = date.fromisoformat(review_date) if review_date.strip() else None
        except ValueError as exc:
            raise DomainError("web.error.invalid_date", date=review_date) from exc
        data = MoveInput(
            reason=reason,
            unit_id=int(unit_id) if unit_id.strip().isdigit() else None,
            responsible_id=int(responsible_id) if responsible_id.strip().isdigit() else None,
            deadline=deadline.strip() or None,
            result=result,
            case_number=case_number,
            review_date=review,
            attachments=read_uploads(photos, documents, settings),
        )
        return service.move(session, principal, case_id, move.value, data, settings=settings)

    if attempt(request, session, _do) is not None:
        flash(request, ok="cases.flash.moved")
    return back(f"/cases/{case_id}")


@router.post("/cases/{case_id}/notes")
def note_submit(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    case_id: int,
    csrf_token: Annotated[str, Form()] = "",
    text: Annotated[str, Form()] = "",
    photos: Uploads = [],  # noqa: B006
) -> Response:
    check_csrf(request, csrf_token)
    done = attempt(
        request,
        session,
        lambda: service.add_note(
            session,
            principal,
            case_id,
            text=text,
            attachments=read_uploads(photos, [], settings),
            settings=settings,
        ),
    )
    if done is not None:
        flash(request, ok="cases.flash.noted")
    return back(f"/cases/{case_id}")
