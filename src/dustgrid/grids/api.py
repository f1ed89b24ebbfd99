"""JSON routes of grids under ``/api/v1/grids``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Response

from dustgrid.audit.service import entries_for, summary_text
from dustgrid.bounds import Id
from dustgrid.errors import Forbidden, error_responses
from dustgrid.grids import layout
from dustgrid.grids import service as svc
from dustgrid.grids.models import GridKind
from dustgrid.grids.schemas import (
    AssignRequest,
    AssignResult,
    CoverageRow,
    GridCreate,
    GridDetail,
    GridPage,
    GridUpdate,
    GroupCreate,
    GroupUpdate,
    PartitionRequest,
    PartitionResult,
)
from dustgrid.identity.deps import CurrentPrincipal, DbSession
from dustgrid.identity.roles import Perm
from dustgrid.pagination import PageParams, page_params
from dustgrid.routing import Router

router = Router(prefix="/api/v1/grids", tags=["grids"], responses=error_responses())


@router.get("", response_model=GridPage, summary="Grids in scope, with site counts and members")
def list_grids(
    session: DbSession,
    principal: CurrentPrincipal,
    paging: Annotated[PageParams, Depends(page_params)],
    kind: GridKind | None = None,
    district_id: Id | None = None,
) -> GridPage:
    return svc.list_grids(
        session, principal, kind=kind, district_id=district_id, page=paging.page, size=paging.size
    )


@router.get(
    "/coverage",
    response_model=list[CoverageRow],
    summary="Per district: active sites missing an enforcement or inspector grid",
)
def coverage(session: DbSession, principal: CurrentPrincipal) -> list[CoverageRow]:
    return layout.coverage(session, principal)


@router.post(
    "/assign",
    response_model=AssignResult,
    summary="Move sites into a grid (replaces that kind's grid of each site)",
)
def assign(session: DbSession, principal: CurrentPrincipal, body: AssignRequest) -> AssignResult:
    return layout.assign_sites(session, principal, grid_id=body.grid_id, site_ids=body.site_ids)


@router.post(
    "/partition",
    response_model=PartitionResult,
    summary="Re-form a district's grids by proximity (dry run unless apply=true)",
)
def partition(
    session: DbSession, principal: CurrentPrincipal, body: PartitionRequest
) -> PartitionResult:
    return layout.partition(
        session, principal, district_id=body.district_id, kind=body.kind, apply=body.apply
    )


@router.post("", response_model=GridDetail, status_code=201, summary="Add a grid")
def create_grid(session: DbSession, principal: CurrentPrincipal, body: GridCreate) -> GridDetail:
    grid = svc.create_grid(session, principal, body)
    return svc.get_grid(session, principal, grid.id)


@router.get("/{grid_id}", response_model=GridDetail, summary="One grid with groups and sites")
def get_grid(session: DbSession, principal: CurrentPrincipal, grid_id: Id) -> GridDetail:
    return svc.get_grid(session, principal, grid_id)


@router.patch("/{grid_id}", response_model=GridDetail, summary="Edit a grid")
def update_grid(
    session: DbSession, principal: CurrentPrincipal, grid_id: Id, body: GridUpdate
) -> GridDetail:
    svc.update_grid(session, principal, grid_id, body)
    return svc.get_grid(session, principal, grid_id)


@router.delete("/{grid_id}", status_code=204, summary="Delete a grid that holds no sites")
def delete_grid(session: DbSession, principal: CurrentPrincipal, grid_id: Id) -> Response:
    svc.delete_grid(session, principal, grid_id)
    return Response(status_code=204)


@router.post(
    "/{grid_id}/groups",
    response_model=GridDetail,
    status_code=201,
    summary="Add a member group (officers: at least two; inspectors: exactly two)",
)
def add_group(
    session: DbSession, principal: CurrentPrincipal, grid_id: Id, body: GroupCreate
) -> GridDetail:
    svc.add_group(session, principal, grid_id, body)
    return svc.get_grid(session, principal, grid_id)


@router.patch(
    "/{grid_id}/groups/{group_id}",
    response_model=GridDetail,
    summary="Rename a group or replace its members",
)
def update_group(
    session: DbSession,
    principal: CurrentPrincipal,
    grid_id: Id,
    group_id: Id,
    body: GroupUpdate,
) -> GridDetail:
    svc.update_group(session, principal, grid_id, group_id, body)
    return svc.get_grid(session, principal, grid_id)


@router.delete("/{grid_id}/groups/{group_id}", status_code=204, summary="Remove a group")
def delete_group(
    session: DbSession, principal: CurrentPrincipal, grid_id: Id, group_id: Id
) -> Response:
    svc.delete_group(session, principal, grid_id, group_id)
    return Response(status_code=204)


@router.get("/{grid_id}/audit", summary="The grid's change history (groups, moves, edits)")
def grid_audit(
    session: DbSession, principal: CurrentPrincipal, grid_id: Id
) -> list[dict[str, Any]]:
    if not principal.can(Perm.audit_read):
        raise Forbidden("org.error.role_may_not_read_audit_log")
    svc.get_visible(session, principal, grid_id)
    return [
        {
            "at": e.at,
            "actor": e.actor_name,
            "action": e.action,
            "summary": summary_text(e, principal.locale),
            "changes": e.changes,
        }
        for e in entries_for(session, entity_type="grid", entity_id=grid_id)
    ]
