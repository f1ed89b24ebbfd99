"""JSON routes of heavy-pollution emergencies under ``/api/v1/emergencies``."""

from __future__ import annotations

from dustgrid.bounds import Id
from dustgrid.emergencies import service as svc
from dustgrid.emergencies.models import Emergency
from dustgrid.emergencies.policy import DEFAULT_EMERGENCY_POLICY
from dustgrid.emergencies.schemas import (
    ComplianceOut,
    EmergencyCreate,
    EmergencyOut,
    ReadingOut,
)
from dustgrid.errors import error_responses
from dustgrid.identity.deps import AppSettings, CurrentPrincipal, DbSession
from dustgrid.models import utcnow
from dustgrid.routing import Router

router = Router(prefix="/api/v1/emergencies", tags=["emergencies"], responses=error_responses())


def _out(em: Emergency, sites: int) -> EmergencyOut:
    return EmergencyOut(
        id=em.id,
        level=em.level,
        starts_at=em.starts_at,
        ends_at=em.ends_at,
        ended_at=em.ended_at,
        status=svc.status(em, utcnow()),
        area_kind=em.area_kind,
        district_ids=list(em.district_ids or []),
        polygon=em.polygon,
        note=em.note,
        policy_version=em.policy_version,
        measures=DEFAULT_EMERGENCY_POLICY.measures_for(em.level),
        sites=sites,
    )


@router.get("", response_model=list[EmergencyOut], summary="Warnings in scope, newest first")
def list_emergencies(session: DbSession, principal: CurrentPrincipal) -> list[EmergencyOut]:
    return [_out(em, n) for em, n in svc.list_emergencies(session, principal)]


@router.post(
    "",
    response_model=EmergencyOut,
    status_code=201,
    summary="Declare a heavy-pollution weather warning (city admin): orders to every active "
    "site inside the area, their contacts and grid members notified",
)
def declare(
    session: DbSession, principal: CurrentPrincipal, settings: AppSettings, body: EmergencyCreate
) -> EmergencyOut:
    decl = svc.Declaration(
        level=body.level,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        area_kind=body.area_kind,
        district_ids=tuple(body.district_ids),
        polygon=body.polygon,
        note=body.note,
    )
    em = svc.declare(session, principal, decl, now=utcnow(), settings=settings)
    return _out(em, svc.visible_order_count(session, principal, em.id))


@router.post("/{emergency_id}/end", response_model=EmergencyOut, summary="End a warning early")
def end(
    session: DbSession, principal: CurrentPrincipal, settings: AppSettings, emergency_id: Id
) -> EmergencyOut:
    em = svc.end(session, principal, emergency_id, now=utcnow(), settings=settings)
    return _out(em, svc.visible_order_count(session, principal, em.id))


@router.get(
    "/{emergency_id}/sites",
    response_model=list[ComplianceOut],
    summary="Sites under the order, with their monitors and inspections during the episode",
)
def sites(session: DbSession, principal: CurrentPrincipal, emergency_id: Id) -> list[ComplianceOut]:
    _em, rows = svc.compliance(session, principal, emergency_id, now=utcnow())
    return [
        ComplianceOut(
            site_id=r.site_id,
            site_name=r.site_name,
            project_code=r.project_code,
            district_id=r.district_id,
            level=r.level,
            measures=r.measures,
            pm10=ReadingOut(at=r.pm10[0], value=r.pm10[1]) if r.pm10 else None,
            tsp=ReadingOut(at=r.tsp[0], value=r.tsp[1]) if r.tsp else None,
            alerts=r.alerts.raised,
            alerts_open=r.alerts.still_open,
            inspections=r.inspections,
            inspections_with_problems=r.inspections_with_problems,
            verdict=r.verdict,
        )
        for r in rows
    ]
