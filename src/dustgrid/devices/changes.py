"""Moving or removing a device needs an approved request (domain.md §7, seed 003).

Who asks: a contractor for devices at its own sites, a provider for its own devices, an
admin for devices of its area. Who decides: a city or district admin who may change the
device (and, for a move, the target site). Never commits; audited on the device.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from dustgrid.audit import service as audit
from dustgrid.devices import keys, online
from dustgrid.devices import repository as repo
from dustgrid.devices import service as devices
from dustgrid.devices.models import (
    Device,
    DeviceChangeRequest,
    DeviceKind,
    Lifecycle,
    RequestKind,
    RequestStatus,
)
from dustgrid.devices.schemas import ChangeRequestIn, DecisionIn
from dustgrid.errors import Conflict, Forbidden, Invalid, NotFound
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Perm
from dustgrid.models import utcnow
from dustgrid.sites.models import Site

CLOSED = frozenset({Lifecycle.removed, Lifecycle.rejected})


def _request_snapshot(req: DeviceChangeRequest) -> dict[str, object]:
    return {
        "request_id": req.id,
        "request_kind": req.kind,
        "request_status": req.status,
        "new_site_id": req.new_site_id,
        "new_position": req.new_position,
    }


def create_request(
    session: Session, principal: Principal, device_id: int, data: ChangeRequestIn
) -> DeviceChangeRequest:
    device = devices.get_device(session, principal, device_id)
    devices.require(principal, Perm.device_request)
    if device.lifecycle in CLOSED:
        raise Conflict("devices.error.device_removed_or_rejected")
    pending = repo.pending_request(session, device.id)
    if pending is not None:
        raise Conflict("devices.error.request_already_pending", pending=pending)
    new_site_id: int | None = None
    if data.kind == RequestKind.move:
        if data.new_site_id is not None and data.new_site_id != device.site_id:
            if device.kind == DeviceKind.reference_station:
                raise Invalid("devices.error.reference_station_belongs_no_site")
            new_site_id = devices.target_site(
                session, principal, data.new_site_id, writable=False
            ).id
        if new_site_id is None and not data.new_position.strip():
            raise Invalid("devices.error.move_needs_new_site_or_position")
    req = DeviceChangeRequest(
        device_id=device.id,
        kind=data.kind,
        status=RequestStatus.pending,
        reason=data.reason.strip(),
        new_site_id=new_site_id,
        new_position=data.new_position.strip(),
    )
    session.add(req)
    session.flush()
    what = "迁移" if data.kind == RequestKind.move else "拆除"
    devices.record(
        session,
        principal,
        device,
        "request_create",
        audit.diff({}, _request_snapshot(req)),
        f"申请{what}设备 {device.mn}：{req.reason}"[:255],
    )
    return req


def _move_target(
    session: Session, principal: Principal, req: DeviceChangeRequest, data: DecisionIn
) -> Site | None:
    """The site an approved move goes to, checked before anything changes: the reviewer must
    govern it and it must still be in the ledger. ``None`` when no site change is approved."""
    if not (data.approve and req.kind == RequestKind.move and req.new_site_id is not None):
        return None
    site = repo.writable_site(session, principal, req.new_site_id)
    if site is None:
        raise Forbidden("devices.error.target_site_outside_area_city_admin")
    if site.retired_at is not None:
        raise Invalid("devices.error.target_site_retired", site_name=site.name)
    return site


def _apply_move(device: Device, req: DeviceChangeRequest, site: Site | None) -> None:
    """An approved move: the device takes the new site (and its district) and position."""
    if site is not None:
        device.site_id, device.district_id = site.id, site.district_id
    if req.new_position:
        device.position = req.new_position


def _apply_removal(session: Session, device: Device, now: datetime) -> dict[str, list[object]]:
    """An approved removal ends the device's service; returns the audit entries that the
    device snapshot does not show (how many API keys were revoked)."""
    extra: dict[str, list[object]] = {}
    device.lifecycle = Lifecycle.removed
    device.removed_at = now
    device.online = False
    online.end_for_removal(session, device_id=device.id, at=now)
    revoked = keys.revoke_all(session, device.id, at=now)
    if revoked:
        extra["api_keys_revoked"] = [revoked, None]
    return extra


def decide(
    session: Session,
    principal: Principal,
    device_id: int,
    request_id: int,
    data: DecisionIn,
    *,
    now: datetime | None = None,
) -> DeviceChangeRequest:
    """Approve or reject; an approved move changes site and position, an approved removal
    ends the device's service (its keys are revoked, an open offline period ends)."""
    device = devices.writable_device(session, principal, device_id, Perm.device_review)
    req = session.get(DeviceChangeRequest, request_id)
    if req is None or req.device_id != device.id:
        raise NotFound("devices.error.request_not_found", request_id=request_id)
    if req.status != RequestStatus.pending:
        raise Conflict("devices.error.request_was_already_decided")
    site = _move_target(session, principal, req, data)
    now = now or utcnow()
    before_req = _request_snapshot(req)
    before = devices.snapshot(device)
    req.status = RequestStatus.approved if data.approve else RequestStatus.rejected
    req.decided_by_id = principal.user_id
    req.decided_at = now
    req.decision_note = data.note.strip()
    extra: dict[str, list[object]] = {}
    if data.approve and req.kind == RequestKind.move:
        _apply_move(device, req, site)
    elif data.approve:
        extra = _apply_removal(session, device, now)
    session.flush()
    changes = {
        **audit.diff(before_req, _request_snapshot(req)),
        **audit.diff(before, devices.snapshot(device)),
        **extra,
    }
    verdict = "批准" if data.approve else "驳回"
    what = "迁移" if req.kind == RequestKind.move else "拆除"
    devices.record(
        session,
        principal,
        device,
        "request_decide",
        changes,
        f"{verdict}设备 {device.mn} 的{what}申请",
    )
    return req


def list_requests(
    session: Session, principal: Principal, device_id: int
) -> list[DeviceChangeRequest]:
    device = devices.get_device(session, principal, device_id)
    return repo.change_requests(session, device.id)
