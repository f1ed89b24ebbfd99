"""JSON routes of inspections (``/api/v1/inspections``, ``/api/v1/checklist``).

The phone's visit is one flow: check in (``POST /inspections`` with an idempotency key),
photos (``POST /inspections/{id}/photos``, multipart), answers (``POST .../submit``).
Reads outside scope answer 404; a role that does not inspect answers 403.
Literal paths are declared before ``/{inspection_id}``.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Depends, File, Form, Query, Response, UploadFile
from fastapi.responses import FileResponse

from dustgrid.bounds import Day, Id
from dustgrid.cases import attachments as files
from dustgrid.errors import Invalid, NotFound, error_responses
from dustgrid.identity.deps import AppSettings, CurrentPrincipal, DbSession
from dustgrid.inspections import service, views
from dustgrid.inspections.schemas import (
    CheckInIn,
    ChecklistOut,
    InspectionDetail,
    InspectionOut,
    InspectionPage,
    NearSiteOut,
    PhotoOut,
    SubmitIn,
)
from dustgrid.models import utcnow
from dustgrid.pagination import PageParams, page_params
from dustgrid.routing import Router

router = Router(prefix="/api/v1", tags=["inspections"], responses=error_responses())
Paging = Annotated[PageParams, Depends(page_params)]


def _day_start(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz)


@router.get("/checklist", response_model=ChecklistOut, summary="The checklist for a day")
def checklist(
    principal: CurrentPrincipal,
    settings: AppSettings,
    day: Annotated[
        Day | None, Query(alias="date", description="local date; today if empty")
    ] = None,
) -> ChecklistOut:
    tz = ZoneInfo(settings.timezone)
    when = _day_start(day, tz) if day else utcnow()
    return views.checklist_out(service.template_for(when, settings), principal.locale)


@router.post(
    "/inspections",
    response_model=InspectionOut,
    status_code=201,
    summary="Check in at a site (the same idempotency key again returns the same visit)",
)
def check_in(
    data: CheckInIn,
    response: Response,
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
) -> InspectionOut:
    row, created = service.check_in(session, principal, data, settings=settings)
    if not created:
        response.status_code = 200
    return views.inspection_out(row)


@router.get("/inspections", response_model=InspectionPage, summary="Visits in scope")
def list_inspections(
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    paging: Paging,
    site_id: Id | None = None,
    day_from: Annotated[Day | None, Query(alias="from", description="local day, inclusive")] = None,
    day_to: Annotated[Day | None, Query(alias="to", description="local day, inclusive")] = None,
) -> InspectionPage:
    tz = ZoneInfo(settings.timezone)
    if day_from and day_to and day_to < day_from:
        raise Invalid("结束日期早于开始日期 / 'to' is before 'from'", details={"field": "to"})
    rows, total = service.list_visits(
        session,
        principal,
        site_id=site_id,
        since=_day_start(day_from, tz) if day_from else None,
        until=_day_start(day_to, tz) + timedelta(days=1) if day_to else None,
        page=paging.page,
        size=paging.size,
    )
    items = [
        views.inspection_out(r.inspection, site_name=r.site_name, inspector_name=r.inspector_name)
        for r in rows
    ]
    return InspectionPage(items=items, total=total, page=paging.page, size=paging.size)


@router.get(
    "/inspections/nearby",
    response_model=list[NearSiteOut],
    summary="Sites of the caller's grids, nearest first",
)
def nearby(
    session: DbSession,
    principal: CurrentPrincipal,
    lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    lon: Annotated[float | None, Query(ge=-180, le=180)] = None,
    q: Annotated[str, Query(max_length=64)] = "",
) -> list[NearSiteOut]:
    found = service.nearest_sites(session, principal, lat=lat, lon=lon, q=q)
    return [
        NearSiteOut(
            id=n.site.id,
            name=n.site.name,
            project_code=n.site.project_code,
            address=n.site.address or "",
            distance_m=round(n.distance_m, 1) if n.distance_m is not None else None,
        )
        for n in found
    ]


@router.get("/inspections/{inspection_id}", response_model=InspectionDetail, summary="A visit")
def get_inspection(
    inspection_id: Id, session: DbSession, principal: CurrentPrincipal
) -> InspectionDetail:
    return views.detail_out(service.visit(session, principal, inspection_id), principal.locale)


@router.post(
    "/inspections/{inspection_id}/photos",
    response_model=PhotoOut,
    status_code=201,
    summary="Add a photo to a draft visit (EXIF checked, watermarked copy made)",
)
def add_photo(
    inspection_id: Id,
    photo: Annotated[UploadFile, File(description="a photo (JPEG, PNG, WebP)")],
    response: Response,
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    item_code: Annotated[str, Form(max_length=48)] = "",
) -> PhotoOut:
    content = photo.file.read(settings.attachment_max_bytes + 1)
    row, created = service.add_photo(
        session,
        principal,
        inspection_id,
        item_code=item_code,
        filename=photo.filename or "photo",
        content=content,
        settings=settings,
    )
    if not created:
        response.status_code = 200
    return views.photo_out(row, principal.locale)


@router.get(
    "/inspections/{inspection_id}/photos/{photo_id}",
    response_class=FileResponse,
    summary="A photo's watermarked copy, or its original (scoped like the site)",
)
def photo_bytes(
    inspection_id: Id,
    photo_id: Id,
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    original: bool = False,
) -> Response:
    row, relative = service.photo_file(
        session, principal, inspection_id, photo_id, original=original
    )
    path = service.photo_path(settings, relative)
    if not path.exists():
        raise NotFound("inspections.error.photo_not_found", photo_id=photo_id)
    mime = row.content_type if original else "image/jpeg"
    _, disposition, headers = files.download_headers(path.name, mime)
    return FileResponse(
        path,
        media_type=mime,
        content_disposition_type=disposition,
        headers={"Cache-Control": "private, max-age=86400", **headers},
    )


@router.post(
    "/inspections/{inspection_id}/submit",
    response_model=InspectionDetail,
    summary="Submit the answers; failed items open cases (a submitted visit is returned as is)",
)
def submit(
    inspection_id: Id,
    data: SubmitIn,
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
) -> InspectionDetail:
    service.submit(session, principal, inspection_id, data, settings=settings)
    return views.detail_out(service.visit(session, principal, inspection_id), principal.locale)
