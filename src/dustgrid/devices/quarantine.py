"""Quarantined MNs: frames the ingest layer refused (unknown MN, wrong password, CRC
variant), kept for an admin who can turn an MN into a device. The ingest side writes rows
with ``service.record_quarantine``. Never commits.

One row per MN and reason. The adoption list holds only MNs no device holds: a registered
device's refused frames (wrong password, CRC variant, removed device) are listed apart
(``registered=True``), since such an MN cannot be adopted (``claim_mn``) - it needs its
device's settings fixed.

Scope (a row carries the MN, the sender's address and a sample frame with its password):
an MN that matches no device belongs to no site and no district, so only city-wide roles
see it and adopt it; a district admin sees only the rows whose MN is one of the devices
it can see (a wrong password or CRC variant of its own device), and adopts nothing it
cannot see (its own new devices come in through onboarding or registration instead).
Rows outside scope answer 404, like every other read.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from dustgrid.audit import service as audit
from dustgrid.devices import repository as repo
from dustgrid.devices import service as devices
from dustgrid.devices.models import Device, Lifecycle, QuarantinedMN
from dustgrid.devices.schemas import AdoptIn
from dustgrid.errors import NotFound
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Perm
from dustgrid.models import utcnow


def list_quarantine(
    session: Session, principal: Principal, *, registered: bool = False, limit: int = 500
) -> list[QuarantinedMN]:
    """Quarantine rows, latest first: of MNs no device holds (the adoption list), or with
    ``registered`` of MNs a device holds."""
    devices.require(principal, Perm.device_write)
    return repo.quarantined(session, principal, registered=registered, limit=limit)


def adopt(
    session: Session,
    principal: Principal,
    quarantine_id: int,
    data: AdoptIn,
    *,
    now: datetime | None = None,
) -> Device:
    """Register the quarantined MN as an active device and drop its quarantine rows."""
    devices.require(principal, Perm.device_write)
    row = repo.quarantined_row(session, principal, quarantine_id)
    if row is None:
        raise NotFound("devices.error.quarantined_mn_not_found", quarantine_id=quarantine_id)
    now = now or utcnow()
    site_id, district_id = devices.place(
        session, principal, kind=data.kind, site_id=data.site_id, district_id=data.district_id
    )
    devices.check_provider(session, data.provider_id)
    mn, frames, reason = row.mn, row.frames, row.reason
    devices.claim_mn(session, mn)  # 409 if a device took the MN meanwhile; drops the row
    device = Device(
        mn=mn,
        kind=data.kind,
        site_id=site_id,
        district_id=district_id,
        provider_id=data.provider_id,
        name=data.name,
        model=data.model,
        position=data.position,
        particulate_unit=data.particulate_unit,
        crc_variant=data.crc_variant,
        lifecycle=Lifecycle.active,
        activated_at=now,
        online=False,
    )
    session.add(device)
    session.flush()
    devices.record(
        session,
        principal,
        device,
        "adopt",
        {
            **audit.diff({}, devices.snapshot(device)),
            "quarantine": [{"mn": mn, "frames": frames, "reason": reason}, None],
        },
        f"隔离 MN {mn} 转为设备（{frames} 帧）",
    )
    return device
