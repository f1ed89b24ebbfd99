"""JSON routes of districts and organisation units under ``/api/v1``."""

from __future__ import annotations

from typing import Any

from dustgrid.audit.service import entries_for, summary_text
from dustgrid.bounds import Id
from dustgrid.errors import Forbidden, error_responses
from dustgrid.identity.deps import CurrentPrincipal, DbSession
from dustgrid.identity.roles import Perm
from dustgrid.org import service as svc
from dustgrid.org.schemas import (
    DistrictCreate,
    DistrictOut,
    DistrictUpdate,
    UnitCreate,
    UnitNode,
    UnitOut,
    UnitUpdate,
)
from dustgrid.routing import Router

router = Router(prefix="/api/v1", tags=["organisation"], responses=error_responses())


@router.get("/districts", response_model=list[DistrictOut], summary="Districts in scope")
def list_districts(session: DbSession, principal: CurrentPrincipal) -> Any:
    return svc.list_districts(session, principal)


@router.post("/districts", response_model=DistrictOut, status_code=201, summary="Add a district")
def create_district(session: DbSession, principal: CurrentPrincipal, body: DistrictCreate) -> Any:
    return svc.create_district(session, principal, body)


@router.get("/districts/{district_id}", response_model=DistrictOut, summary="One district")
def get_district(session: DbSession, principal: CurrentPrincipal, district_id: Id) -> Any:
    return svc.get_district(session, principal, district_id)


@router.patch("/districts/{district_id}", response_model=DistrictOut, summary="Edit a district")
def update_district(
    session: DbSession, principal: CurrentPrincipal, district_id: Id, body: DistrictUpdate
) -> Any:
    return svc.update_district(session, principal, district_id, body)


@router.get("/org/units", response_model=list[UnitNode], summary="The unit tree in scope")
def unit_tree(session: DbSession, principal: CurrentPrincipal) -> Any:
    return svc.unit_tree(session, principal)


@router.post("/org/units", response_model=UnitOut, status_code=201, summary="Add a unit")
def create_unit(session: DbSession, principal: CurrentPrincipal, body: UnitCreate) -> Any:
    return svc.create_unit(session, principal, body)


@router.get("/org/units/{unit_id}", response_model=UnitOut, summary="One unit")
def get_unit(session: DbSession, principal: CurrentPrincipal, unit_id: Id) -> Any:
    return svc.get_unit(session, principal, unit_id)


@router.patch("/org/units/{unit_id}", response_model=UnitOut, summary="Edit a unit")
def update_unit(
    session: DbSession, principal: CurrentPrincipal, unit_id: Id, body: UnitUpdate
) -> Any:
    return svc.update_unit(session, principal, unit_id, body)


@router.get("/org/units/{unit_id}/audit", summary="A unit's change history")
def unit_audit(
    session: DbSession, principal: CurrentPrincipal, unit_id: Id
) -> list[dict[str, Any]]:
    if not principal.can(Perm.audit_read):
        raise Forbidden("org.error.role_may_not_read_audit_log")
    svc.get_unit(session, principal, unit_id)
    return [
        {
            "at": e.at,
            "actor": e.actor_name,
            "action": e.action,
            "summary": summary_text(e, principal.locale),
            "changes": e.changes,
        }
        for e in entries_for(session, entity_type="org_unit", entity_id=unit_id)
    ]
