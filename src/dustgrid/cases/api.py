"""JSON routes of cases under ``/api/v1/cases``.

Opening a case and making a move take ``multipart/form-data`` (fields plus ``photos`` and
``documents`` files), the way a mobile app uploads evidence in one request.
"""

from __future__ import annotations

from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import Depends, File, Form, Query, UploadFile
from fastapi.responses import FileResponse, Response

from dustgrid.bounds import Day, Id
from dustgrid.cases import attachments as files
from dustgrid.cases import escalation, service, views
from dustgrid.cases.attachments import AttachmentIn
from dustgrid.cases.fieldfix import HandleNow
from dustgrid.cases.filters import CaseFilters
from dustgrid.cases.schemas import (
    BoardRow,
    CaseDetail,
    CasePage,
    LookBackRequest,
    LookBackResult,
    MapCase,
)
from dustgrid.cases.states import CaseSource, CaseState, Move
from dustgrid.cases.tabs import Tab
from dustgrid.cases.workflow import MoveInput
from dustgrid.config import Settings
from dustgrid.errors import Forbidden, NotFound, error_responses
from dustgrid.geo.coords import to_map_datum
from dustgrid.identity.deps import AppSettings, CurrentPrincipal, DbSession
from dustgrid.identity.roles import Perm
from dustgrid.models import utcnow
from dustgrid.pagination import PageParams, page_params
from dustgrid.routing import Router

router = Router(prefix="/api/v1/cases", tags=["cases"], responses=error_responses())
Files = Annotated[list[UploadFile], File(description="photos (JPEG, PNG, GIF, WebP, HEIC)")]
Docs = Annotated[list[UploadFile], File(description="documents (images or PDF)")]
ResultPhotos = Annotated[
    list[UploadFile], File(description="handle_now: photos after handling (fix_on_site needs one)")
]
HandleAction = Literal["fix_on_site", "order_rectification"]


def read_uploads(
    photos: list[UploadFile], documents: list[UploadFile], settings: Settings
) -> list[AttachmentIn]:
    """Read at most one byte over the cap, so a huge upload is refused without loading it."""
    cap = settings.attachment_max_bytes + 1
    out = [AttachmentIn(p.filename or "photo", p.file.read(cap)) for p in photos]
    out += [
        AttachmentIn(d.filename or "document", d.file.read(cap), files.DOCUMENT) for d in documents
    ]
    return out


async def case_filters(
    state: CaseState | None = None,
    site_id: Id | None = None,
    source: CaseSource | None = None,
    light: Annotated[str | None, Query(pattern="^(green|yellow|red)$")] = None,
    district_id: Id | None = None,
    category: Annotated[str | None, Query(max_length=48)] = None,
    opened_from: Annotated[Day | None, Query(description="first local day opened")] = None,
    opened_to: Annotated[Day | None, Query(description="last local day opened")] = None,
) -> CaseFilters:
    return CaseFilters(
        state=state,
        site_id=site_id,
        source=source,
        light=light,
        district_id=district_id,
        category=category or None,
        opened_from=opened_from,
        opened_to=opened_to,
    )


@router.get("", response_model=CasePage, summary="Cases in scope, by inbox tab and filters")
def list_cases(
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    paging: Annotated[PageParams, Depends(page_params)],
    filters: Annotated[CaseFilters, Depends(case_filters)],
    tab: Tab = Tab.all,
) -> CasePage:
    now = utcnow()
    rows, total = service.list_cases(
        session,
        principal,
        tab=tab,
        now=now,
        page=paging.page,
        size=paging.size,
        filters=filters,
        tz=ZoneInfo(settings.timezone),
    )
    items = views.case_rows(session, rows, now, principal.locale)
    return CasePage(items=items, total=total, page=paging.page, size=paging.size)


@router.post("", response_model=CaseDetail, status_code=201, summary="Report a problem")
def create_case(
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    source: Annotated[CaseSource, Form()],
    category: Annotated[str, Form()],
    description: Annotated[str, Form()],
    severity: Annotated[str, Form()] = "medium",
    site_id: Annotated[Id | None, Form()] = None,
    lat: Annotated[float | None, Form()] = None,
    lon: Annotated[float | None, Form()] = None,
    external_ref: Annotated[str | None, Form()] = None,
    handle_now: Annotated[
        HandleAction | None,
        Form(description="an officer at a site of their own enforcement grid handles it at once"),
    ] = None,
    handle_result: Annotated[str, Form(description="handle_now: what was done")] = "",
    handle_deadline: Annotated[
        str | None, Form(description="handle_now=order_rectification: ISO date or datetime")
    ] = None,
    photos: Files = [],  # noqa: B006 (FastAPI copies defaults)
    documents: Docs = [],  # noqa: B006
    result_photos: ResultPhotos = [],  # noqa: B006
) -> CaseDetail:
    """Open a case in ``reported`` (L1 dispatches it). With ``handle_now``, an enforcement
    officer reporting at a site of their own enforcement grid handles it in the same step
    (网格现场处置): ``fix_on_site`` closes it (``handle_result`` and ``result_photos``
    required), ``order_rectification`` starts the rectification deadline and the recheck
    clock; no dispatch or acceptance is needed. Anyone else is refused with 403."""
    location = (lat, lon) if lat is not None and lon is not None else None
    attachments = read_uploads(photos, documents, settings)
    if handle_now is None:
        case, _created = service.open_case(
            session, actor=principal, source=source, site_id=site_id, location=location,
            category=category, description=description, severity=severity,
            attachments=attachments, external_ref=external_ref, settings=settings,
        )  # fmt: skip
    else:
        handle = HandleNow(
            handle_now,
            result=handle_result,
            deadline=handle_deadline or None,
            attachments=read_uploads(result_photos, [], settings),
        )
        case, _created = service.report_and_handle(
            session, actor=principal, handle=handle, source=source, site_id=site_id,
            location=location, category=category, description=description, severity=severity,
            attachments=attachments, external_ref=external_ref, settings=settings,
        )  # fmt: skip
    return views.detail(session, principal, case, utcnow(), principal.locale)


@router.get("/map", response_model=list[MapCase], summary="Open cases with a location")
def case_map(
    session: DbSession,
    principal: CurrentPrincipal,
    crs: Annotated[str, Query(pattern="^(wgs84|gcj02)$")] = "wgs84",
) -> list[MapCase]:
    """``crs=gcj02``: positions shifted for a GCJ-02 base map (stored in WGS-84)."""
    out = []
    for i, la, lo, s, li, c, sid in service.map_rows(session, principal, utcnow()):
        lat, lon = to_map_datum(la, lo, crs)
        out.append(MapCase(id=i, lat=lat, lon=lon, state=s, light=li, category=c, site_id=sid))
    return out


@router.get("/board", response_model=list[BoardRow], summary="Overdue board per L2 unit")
def board(session: DbSession, principal: CurrentPrincipal) -> list[BoardRow]:
    return [BoardRow(**r) for r in service.overdue_board(session, principal, utcnow())]


@router.get("/counts", response_model=dict[str, int], summary="Inbox counts per tab")
def counts(session: DbSession, principal: CurrentPrincipal) -> dict[str, int]:
    return service.tab_counts(session, principal, utcnow())


@router.post("/look-back/sample", response_model=LookBackResult, summary="Draw a look-back sample")
def look_back(
    session: DbSession, principal: CurrentPrincipal, settings: AppSettings, body: LookBackRequest
) -> LookBackResult:
    if not principal.can(Perm.case_sample):
        raise Forbidden("cases.error.role_may_not_draw_look_back")
    ids = escalation.sample_look_back(
        session, now=utcnow(), actor=principal, rate=body.rate, settings=settings
    )
    return LookBackResult(selected=ids)


@router.get("/{case_id}", response_model=CaseDetail, summary="One case with its timeline")
def get_case(session: DbSession, principal: CurrentPrincipal, case_id: Id) -> CaseDetail:
    case = service.get_case(session, principal, case_id)
    return views.detail(session, principal, case, utcnow(), principal.locale)


@router.post("/{case_id}/moves/{move}", response_model=CaseDetail, summary="Make a move")
def make_move(
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    case_id: Id,
    move: Move,
    reason: Annotated[str, Form()] = "",
    unit_id: Annotated[Id | None, Form()] = None,
    responsible_id: Annotated[Id | None, Form()] = None,
    deadline: Annotated[str | None, Form(description="ISO date or datetime")] = None,
    result: Annotated[str, Form()] = "",
    case_number: Annotated[str, Form()] = "",
    review_date: Annotated[Day | None, Form()] = None,
    photos: Files = [],  # noqa: B006
    documents: Docs = [],  # noqa: B006
) -> CaseDetail:
    data = MoveInput(
        reason=reason,
        unit_id=unit_id,
        responsible_id=responsible_id,
        deadline=deadline or None,
        result=result,
        case_number=case_number,
        review_date=review_date,
        attachments=read_uploads(photos, documents, settings),
    )
    service.move(session, principal, case_id, move.value, data, settings=settings)
    case = service.get_case(session, principal, case_id)
    return views.detail(session, principal, case, utcnow(), principal.locale)


@router.post("/{case_id}/notes", response_model=CaseDetail, summary="Add a note or photos")
def add_note(
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    case_id: Id,
    text: Annotated[str, Form()] = "",
    photos: Files = [],  # noqa: B006
    documents: Docs = [],  # noqa: B006
) -> CaseDetail:
    service.add_note(
        session,
        principal,
        case_id,
        text=text,
        attachments=read_uploads(photos, documents, settings),
        settings=settings,
    )
    case = service.get_case(session, principal, case_id)
    return views.detail(session, principal, case, utcnow(), principal.locale)


@router.get(
    "/{case_id}/attachments/{att_id}",
    response_class=FileResponse,
    summary="An attachment's bytes (scoped like the case)",
)
def attachment(
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    case_id: Id,
    att_id: Id,
) -> Response:
    row = service.get_attachment(session, principal, case_id, att_id)
    path = files.path_for(settings, row.sha256) if row is not None else None
    if row is None or path is None or not path.exists():
        raise NotFound("cases.error.attachment_not_found", att_id=att_id)
    name, disposition, headers = files.download_headers(row.filename, row.mime)
    return FileResponse(
        path,
        media_type=row.mime,
        filename=name,
        content_disposition_type=disposition,
        headers={"Cache-Control": "private, max-age=86400", **headers},
    )
