"""JSON routes of the site ledger under ``/api/v1/sites``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, File, Query, UploadFile
from fastapi.responses import Response

from dustgrid.audit.service import entries_for, summary_text
from dustgrid.bounds import Id
from dustgrid.downloads import file_response
from dustgrid.errors import error_responses
from dustgrid.identity.deps import AppSettings, CurrentPrincipal, DbSession
from dustgrid.pagination import PageParams, page_params, query_filter
from dustgrid.routing import Router
from dustgrid.sites import excel
from dustgrid.sites import service as svc
from dustgrid.sites.schemas import (
    EnterpriseOut,
    SiteCreate,
    SiteFilter,
    SiteListItem,
    SiteOut,
    SitePage,
    SitePick,
    SiteRetire,
    SiteUpdate,
)

router = Router(prefix="/api/v1/sites", tags=["sites"], responses=error_responses())


async def site_filter(
    q: str | None = None,
    district_id: str | None = None,
    grade: str | None = None,
    stage: str | None = None,
    kind: str | None = None,
    permit_status: str | None = None,
    grid_id: str | None = None,
    monitors_required: str | None = None,
    include_retired: str | None = None,
) -> SiteFilter:
    """Query-string filters; blank values (as HTML forms send them) mean "any"."""
    raw = {
        "q": q, "district_id": district_id, "grade": grade, "stage": stage, "kind": kind,
        "permit_status": permit_status, "grid_id": grid_id,
        "monitors_required": monitors_required, "include_retired": include_retired,
    }  # fmt: skip
    return query_filter(SiteFilter, raw)


Filter = Annotated[SiteFilter, Depends(site_filter)]


def list_item(row: Any) -> SiteListItem:
    return SiteListItem(
        id=row.id,
        project_code=row.project_code,
        name=row.name,
        district_id=row.district_id,
        district_name=row.district_name,
        kind=row.kind,
        stage=row.stage,
        grade=row.grade,
        permit_status=row.permit_status,
        contractor_name=row.contractor_name,
        monitors_required=row.monitors_required,
        retired=row.retired_at is not None,
    )


@router.get("", response_model=SitePage, summary="List the ledger (filtered, paginated)")
def list_sites(
    session: DbSession,
    principal: CurrentPrincipal,
    f: Filter,
    paging: Annotated[PageParams, Depends(page_params)],
) -> SitePage:
    rows, total = svc.list_page(session, principal, f, page=paging.page, size=paging.size)
    return SitePage(
        items=[list_item(r) for r in rows], total=total, page=paging.page, size=paging.size
    )


@router.get("/map", summary="Marker data for the map: compact rows, base-map datum")
def map_data(
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    f: Filter,
    crs: Annotated[str | None, Query(pattern="^(wgs84|gcj02)$")] = None,
) -> dict[str, Any]:
    datum = crs or settings.map_crs()
    return svc.map_points(session, principal, f, datum)


@router.get("/export.xlsx", summary="Export the filtered ledger to Excel")
def export_xlsx(session: DbSession, principal: CurrentPrincipal, f: Filter) -> Response:
    data = excel.export_sites(session, principal, f)
    return file_response("sites.xlsx", "xlsx", data)


@router.get("/template.xlsx", summary="The Excel import template")
def template_xlsx(session: DbSession, principal: CurrentPrincipal) -> Response:
    return file_response("site-template.xlsx", "xlsx", excel.template(session, principal))


@router.post("/import", summary="Upsert sites from an Excel file by project code")
def import_xlsx(
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    file: Annotated[UploadFile, File(description="filled template (.xlsx)")],
) -> excel.ImportReport:
    content = file.file.read(settings.upload_max_bytes + 1)
    return excel.import_sites(session, principal, content, settings=settings)


@router.post("", response_model=SiteOut, status_code=201, summary="Add a site")
def create_site(session: DbSession, principal: CurrentPrincipal, body: SiteCreate) -> Any:
    return svc.create_site(session, principal, body)


@router.get(
    "/enterprises",
    response_model=list[EnterpriseOut],
    summary="Enterprises of the sites in scope, by name or credit code (a form's picker)",
)
def enterprise_choices(
    session: DbSession,
    principal: CurrentPrincipal,
    q: Annotated[str, Query(max_length=64)] = "",
) -> Any:
    return svc.enterprise_choices(session, principal, q)


@router.get(
    "/search",
    response_model=list[SitePick],
    summary="Open sites in scope by part of their code, name, address or permit number "
    "(a form's site picker)",
)
def site_search(
    session: DbSession,
    principal: CurrentPrincipal,
    q: Annotated[str, Query(max_length=64)] = "",
) -> Any:
    return [
        SitePick(
            id=r[0],
            project_code=r[1],
            name=r[2],
            address=r[3] or "",
            permit_no=r[4] or "",
            district=r[5],
            label=svc.site_label(r[1], r[2]),
        )
        for r in svc.site_search(session, principal, q)
    ]


@router.get("/{site_id}", response_model=SiteOut, summary="One site")
def get_site(session: DbSession, principal: CurrentPrincipal, site_id: Id) -> Any:
    return svc.get_site(session, principal, site_id)


@router.patch("/{site_id}", response_model=SiteOut, summary="Edit a site")
def update_site(
    session: DbSession, principal: CurrentPrincipal, site_id: Id, body: SiteUpdate
) -> Any:
    return svc.update_site(session, principal, site_id, body)


@router.post("/{site_id}/retire", response_model=SiteOut, summary="Retire a site from the ledger")
def retire_site(
    session: DbSession, principal: CurrentPrincipal, site_id: Id, body: SiteRetire
) -> Any:
    return svc.retire_site(session, principal, site_id, body.reason)


@router.get("/{site_id}/audit", summary="The site's change history")
def site_audit(
    session: DbSession, principal: CurrentPrincipal, site_id: Id
) -> list[dict[str, Any]]:
    svc.get_site(session, principal, site_id)
    return [
        {
            "at": e.at,
            "actor": e.actor_name,
            "action": e.action,
            "summary": summary_text(e, principal.locale),
            "changes": e.changes,
        }
        for e in entries_for(session, entity_type="site", entity_id=site_id)
    ]
