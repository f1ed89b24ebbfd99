"""Sites and devices as the alert engine reads them: the sites it judges, their dust
monitors, the reference stations. Never commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from dustgrid.devices.models import Device, DeviceKind, Lifecycle
from dustgrid.devices.repository import device_clause
from dustgrid.identity.principal import Principal
from dustgrid.sites.models import Site, Stage
from dustgrid.sites.repository import site_clause

CHUNK: Final = 500  # sites per query
LIVE: Final = (Lifecycle.active,)


SiteFacts = Row[int, str, int | None, bool, Stage]  # id, name, district id, built-up, stage


def site_facts(session: Session, site_ids: Sequence[int]) -> list[SiteFacts]:
    """(id, name, district id, built-up area, stage) of the sites (one query per chunk)."""
    out: list[SiteFacts] = []
    for i in range(0, len(site_ids), CHUNK):
        stmt = select(Site.id, Site.name, Site.district_id, Site.built_up_area, Site.stage).where(
            Site.id.in_(site_ids[i : i + CHUNK])
        )
        out.extend(session.execute(stmt))
    return out


def live_monitors(
    session: Session, site_ids: Iterable[int] | None = None
) -> list[Row[int | None, int]]:
    """(site id, device id) of the active dust monitors of non-retired sites (of
    ``site_ids`` when given), by site then device."""
    stmt = (
        select(Device.site_id, Device.id)
        .join(Site, Site.id == Device.site_id)
        .where(
            Device.kind == DeviceKind.dust_monitor,
            Device.lifecycle.in_(LIVE),
            Site.retired_at.is_(None),
        )
    )
    if site_ids is not None:
        stmt = stmt.where(Device.site_id.in_(list(site_ids)))
    return list(session.execute(stmt.order_by(Device.site_id, Device.id)))


def live_reference_stations(session: Session) -> list[Row[int | None, int, str]]:
    """(district id, device id, MN) of the active reference stations, by device id."""
    stmt = select(Device.district_id, Device.id, Device.mn).where(
        Device.kind == DeviceKind.reference_station, Device.lifecycle.in_(LIVE)
    )
    return list(session.execute(stmt.order_by(Device.id)))


def active_dust_monitors(session: Session) -> list[Device]:
    """Every active dust monitor, by id (the quality detectors look at each)."""
    return list(
        session.scalars(
            select(Device)
            .where(Device.kind == DeviceKind.dust_monitor, Device.lifecycle == Lifecycle.active)
            .order_by(Device.id)
        )
    )


def device_by_mn(session: Session, mn: str) -> Device | None:
    """The device with the MN (any kind, any lifecycle)."""
    return session.scalar(select(Device).where(Device.mn == mn))


def visible_reference_stations(
    session: Session, principal: Principal, device_id: int | None = None
) -> list[Device]:
    """The reference stations the principal sees (only ``device_id`` when given), by MN."""
    stmt = select(Device).where(
        Device.kind == DeviceKind.reference_station, device_clause(principal)
    )
    if device_id is not None:
        stmt = stmt.where(Device.id == device_id)
    return list(session.scalars(stmt.order_by(Device.mn)))


def sites_by_project_code(session: Session, site_ids: Iterable[int]) -> list[Site]:
    """The sites of ``site_ids``, ordered by project code."""
    stmt = select(Site).where(Site.id.in_(list(site_ids))).order_by(Site.project_code)
    return list(session.scalars(stmt))


def site_ids_by_code(session: Session, codes: Sequence[str]) -> dict[str, int]:
    """Project code → site id of the codes that exist."""
    rows = session.execute(select(Site.project_code, Site.id).where(Site.project_code.in_(codes)))
    return dict(rows.all())


def visible_site_ids(
    session: Session, principal: Principal, site_id: int | None = None
) -> list[int]:
    """Ids of the sites the principal sees (only ``site_id`` when given)."""
    stmt = select(Site.id).where(site_clause(principal))
    if site_id is not None:
        stmt = stmt.where(Site.id == site_id)
    return list(session.scalars(stmt))


def site_district(session: Session, site_id: int) -> int | None:
    """The district of the site (None: no such site)."""
    return session.scalar(select(Site.district_id).where(Site.id == site_id))
