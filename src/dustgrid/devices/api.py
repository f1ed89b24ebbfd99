"""JSON routes of devices (``/api/v1/devices``) and onboarding (``/api/v1/onboarding``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query

from dustgrid.audit.service import entries_for, summary_text
from dustgrid.bounds import Id
from dustgrid.devices import changes, compliance, keys, onboarding, quarantine
from dustgrid.devices import service as svc
from dustgrid.devices.models import ApplicationStatus
from dustgrid.devices.schemas import (
    AdoptIn,
    ApplicationCreate,
    ApplicationOut,
    ApplicationPage,
    ChangeRequestIn,
    ChangeRequestOut,
    DecisionIn,
    DeviceCreate,
    DeviceDetail,
    DeviceFilter,
    DeviceListItem,
    DeviceOut,
    DevicePage,
    DeviceTestIn,
    DeviceUpdate,
    KeyIssued,
    KeyOut,
    OfflinePeriodOut,
    QuarantineOut,
    ReviewIn,
    StreamCheckIn,
    StreamCheckOut,
)
from dustgrid.errors import error_responses
from dustgrid.identity.deps import AppSettings, CurrentPrincipal, DbSession
from dustgrid.pagination import PageParams, page_params, query_filter
from dustgrid.routing import Router

router = Router(prefix="/api/v1", tags=["devices"], responses=error_responses())
Paging = Annotated[PageParams, Depends(page_params)]


async def device_filter(
    q: str | None = None,
    site_id: str | None = None,
    district_id: str | None = None,
    kind: str | None = None,
    online: str | None = None,
    provider_id: str | None = None,
    lifecycle: str | None = None,
) -> DeviceFilter:
    """Query-string filters; blank values (as HTML forms send them) mean "any"."""
    raw = {
        "q": q, "site_id": site_id, "district_id": district_id, "kind": kind,
        "online": online, "provider_id": provider_id, "lifecycle": lifecycle,
    }  # fmt: skip
    return query_filter(DeviceFilter, raw)


Filter = Annotated[DeviceFilter, Depends(device_filter)]


def list_item(row: Any) -> DeviceListItem:
    return DeviceListItem(
        id=row.id,
        mn=row.mn,
        name=row.name,
        kind=row.kind,
        site_id=row.site_id,
        site_name=row.site_name,
        district_id=row.district_id,
        provider_id=row.provider_id,
        provider_name=row.provider_name,
        lifecycle=row.lifecycle,
        online=row.online,
        last_seen_at=row.last_seen_at,
    )


# --------------------------------------------------------------------------- devices


@router.get("/devices", response_model=DevicePage, summary="List devices (scoped, filtered)")
def list_devices(
    session: DbSession, principal: CurrentPrincipal, f: Filter, paging: Paging
) -> DevicePage:
    rows, total = svc.list_page(session, principal, f, page=paging.page, size=paging.size)
    return DevicePage(
        items=[list_item(r) for r in rows], total=total, page=paging.page, size=paging.size
    )


@router.post("/devices", response_model=DeviceOut, status_code=201, summary="Register a device")
def create_device(session: DbSession, principal: CurrentPrincipal, body: DeviceCreate) -> Any:
    return svc.create_device(session, principal, body)


@router.get(
    "/devices/quarantine",
    response_model=list[QuarantineOut],
    summary="MNs whose frames were refused (city and district admins)",
    description="One row per MN and reason. By default the adoption list: MNs no device "
    "holds. `registered=true`: refused frames of registered devices (wrong password, CRC "
    "variant), which cannot be adopted.",
)
def list_quarantine(
    session: DbSession, principal: CurrentPrincipal, registered: bool = False
) -> Any:
    return quarantine.list_quarantine(session, principal, registered=registered)


@router.post(
    "/devices/quarantine/{quarantine_id}/adopt",
    response_model=DeviceOut,
    status_code=201,
    summary="Turn a quarantined MN into a device",
)
def adopt(session: DbSession, principal: CurrentPrincipal, quarantine_id: Id, body: AdoptIn) -> Any:
    return quarantine.adopt(session, principal, quarantine_id, body)


@router.get("/devices/map", summary="Device layer of the map: installed devices, online or not")
def device_map(
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    crs: Annotated[str | None, Query(pattern="^(wgs84|gcj02)$")] = None,
) -> dict[str, Any]:
    return svc.map_points(session, principal, crs or settings.map_crs())


@router.get("/devices/{device_id}", response_model=DeviceDetail, summary="One device")
def get_device(session: DbSession, principal: CurrentPrincipal, device_id: Id) -> Any:
    return svc.detail(session, principal, device_id)


@router.patch("/devices/{device_id}", response_model=DeviceOut, summary="Edit device settings")
def update_device(
    session: DbSession, principal: CurrentPrincipal, device_id: Id, body: DeviceUpdate
) -> Any:
    return svc.update_device(session, principal, device_id, body)


@router.get(
    "/devices/{device_id}/offline-periods",
    response_model=list[OfflinePeriodOut],
    summary="Offline periods, newest first",
)
def offline_periods(session: DbSession, principal: CurrentPrincipal, device_id: Id) -> Any:
    device = svc.get_device(session, principal, device_id)
    return svc.offline_periods(session, device.id)


@router.post(
    "/devices/{device_id}/offline-notice",
    response_model=OfflinePeriodOut,
    summary="Record that the provider was told to repair the offline device",
)
def offline_notice(session: DbSession, principal: CurrentPrincipal, device_id: Id) -> Any:
    return svc.notify_offline(session, principal, device_id)


@router.post(
    "/cameras/{device_id}/stream-checks",
    response_model=StreamCheckOut,
    status_code=201,
    summary="Record a stream check of a camera (its own provider)",
    description="Whether the camera's video could be viewed (003 附件6 视频无法查看), and the "
    "main and sub stream's resolution when measured (003 附件7: the provider's monthly score "
    "takes the latest measured value). Only the camera's own service provider (or the city "
    "admin) may record it; the daily mandatory-device check opens a case when the latest "
    "fresh check failed.",
)
def stream_check(
    session: DbSession, principal: CurrentPrincipal, device_id: Id, body: StreamCheckIn
) -> Any:
    return compliance.record_stream_check(
        session, principal, device_id, ok=body.ok, checked_at=body.checked_at, note=body.note,
        main_stream=(body.main_stream_width, body.main_stream_height),
        sub_stream=(body.sub_stream_width, body.sub_stream_height),
    )  # fmt: skip


@router.get("/devices/{device_id}/keys", response_model=list[KeyOut], summary="API keys")
def list_keys(session: DbSession, principal: CurrentPrincipal, device_id: Id) -> Any:
    return keys.list_keys(session, principal, device_id)


@router.post(
    "/devices/{device_id}/keys",
    response_model=KeyIssued,
    status_code=201,
    summary="Issue an API key (the key is returned once; only its hash is stored)",
)
def issue_key(session: DbSession, principal: CurrentPrincipal, device_id: Id) -> KeyIssued:
    row, plaintext = keys.issue_key(session, principal, device_id)
    return KeyIssued(**KeyOut.model_validate(row).model_dump(), key=plaintext)


@router.post(
    "/devices/{device_id}/keys/{key_id}/revoke", response_model=KeyOut, summary="Revoke a key"
)
def revoke_key(session: DbSession, principal: CurrentPrincipal, device_id: Id, key_id: Id) -> Any:
    return keys.revoke_key(session, principal, device_id, key_id)


@router.get(
    "/devices/{device_id}/requests",
    response_model=list[ChangeRequestOut],
    summary="Move and removal requests",
)
def list_requests(session: DbSession, principal: CurrentPrincipal, device_id: Id) -> Any:
    return changes.list_requests(session, principal, device_id)


@router.post(
    "/devices/{device_id}/requests",
    response_model=ChangeRequestOut,
    status_code=201,
    summary="Ask to move or remove a device",
)
def create_request(
    session: DbSession, principal: CurrentPrincipal, device_id: Id, body: ChangeRequestIn
) -> Any:
    return changes.create_request(session, principal, device_id, body)


@router.post(
    "/devices/{device_id}/requests/{request_id}/decide",
    response_model=ChangeRequestOut,
    summary="Approve or reject a move or removal request",
)
def decide_request(
    session: DbSession,
    principal: CurrentPrincipal,
    device_id: Id,
    request_id: Id,
    body: DecisionIn,
) -> Any:
    return changes.decide(session, principal, device_id, request_id, body)


@router.get("/devices/{device_id}/audit", summary="The device's change history")
def device_audit(
    session: DbSession, principal: CurrentPrincipal, device_id: Id
) -> list[dict[str, Any]]:
    svc.get_device(session, principal, device_id)
    return [
        {
            "at": e.at,
            "actor": e.actor_name,
            "action": e.action,
            "summary": summary_text(e, principal.locale),
            "changes": e.changes,
        }
        for e in entries_for(session, entity_type="device", entity_id=device_id)
    ]


# --------------------------------------------------------------------------- onboarding


@router.get("/onboarding", response_model=ApplicationPage, summary="Onboarding applications")
def list_applications(
    session: DbSession,
    principal: CurrentPrincipal,
    paging: Paging,
    status: ApplicationStatus | None = None,
    site_id: Id | None = None,
) -> ApplicationPage:
    return onboarding.list_applications(
        session, principal, status=status, site_id=site_id, page=paging.page, size=paging.size
    )


@router.post(
    "/onboarding",
    response_model=ApplicationOut,
    status_code=201,
    summary="Apply to connect a site's devices (contractor for its own site, or an admin)",
)
def create_application(
    session: DbSession, principal: CurrentPrincipal, body: ApplicationCreate
) -> ApplicationOut:
    app = onboarding.create_application(session, principal, body)
    return onboarding.to_out(session, app)


@router.get(
    "/onboarding/{application_id}", response_model=ApplicationOut, summary="One application"
)
def get_application(
    session: DbSession, principal: CurrentPrincipal, application_id: Id
) -> ApplicationOut:
    return onboarding.to_out(
        session, onboarding.get_application(session, principal, application_id)
    )


@router.post(
    "/onboarding/{application_id}/review",
    response_model=ApplicationOut,
    summary="Approve (sets the test due date) or reject",
)
def review(
    session: DbSession, principal: CurrentPrincipal, application_id: Id, body: ReviewIn
) -> ApplicationOut:
    return onboarding.to_out(session, onboarding.review(session, principal, application_id, body))


@router.post(
    "/onboarding/{application_id}/test",
    response_model=ApplicationOut,
    summary="Record the device test (passed sets the installation due date)",
)
def record_test(
    session: DbSession, principal: CurrentPrincipal, application_id: Id, body: DeviceTestIn
) -> ApplicationOut:
    app = onboarding.record_test(session, principal, application_id, body)
    return onboarding.to_out(session, app)


@router.post(
    "/onboarding/{application_id}/install",
    response_model=ApplicationOut,
    summary="Confirm installation: the devices become active",
)
def install(session: DbSession, principal: CurrentPrincipal, application_id: Id) -> ApplicationOut:
    return onboarding.to_out(session, onboarding.install(session, principal, application_id))
