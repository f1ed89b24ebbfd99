"""Dust monitors for the demo city, so `make run` has devices the simulator can be.

The MNs are ``DEMO_MN_PREFIX`` + a 4-digit number, the same ones ``dustgrid simulate``
generates by default, and the password is :data:`DEMO_DEVICE_PASSWORD`: a plain
``dustgrid simulate --devices N`` then speaks for the first N demo monitors.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

import dustgrid.model_registry  # noqa: F401 - every table mapped (foreign keys resolve)
from dustgrid.devices.models import CrcVariant, Device, DeviceKind, Lifecycle
from dustgrid.sites.models import Site

DEMO_MN_PREFIX: Final = "DG39DEMO0000"  # 12 characters + 4 digits: well within MN's 24
DEMO_DEVICE_PASSWORD: Final = "123456"
MN_DIGITS: Final = 4
#: With ``variety``: every 7th demo monitor reports in mg/m³, every 11th uses Modbus CRC
#: (the simulator reads that back with ``--from-db``).
MG_EVERY: Final = 7
MODBUS_EVERY: Final = 11


def make_mn(prefix: str, number: int) -> str:
    """The MN of simulated device ``number`` (1-based)."""
    return f"{prefix}{number:0{MN_DIGITS}d}"


def ensure_demo_devices(
    session: Session,
    n: int,
    *,
    prefix: str = DEMO_MN_PREFIX,
    password: str = DEMO_DEVICE_PASSWORD,
    variety: bool = False,
) -> list[str]:
    """An active dust monitor on each of the first ``n`` sites that require monitors.

    Idempotent: an existing MN is left as it is (an admin may have changed it). Sites are
    taken by id, so the same city gets the same devices. Flushes; the caller commits.
    """
    sites = session.scalars(
        select(Site)
        .where(Site.monitors_required.is_(True), Site.retired_at.is_(None))
        .order_by(Site.id)
        .limit(n)
    ).all()
    wanted = [make_mn(prefix, i) for i in range(1, len(sites) + 1)]
    existing = set(session.scalars(select(Device.mn).where(Device.mn.in_(wanted))).all())
    for number, (mn, site) in enumerate(zip(wanted, sites, strict=True), start=1):
        if mn in existing:
            continue
        mg = variety and number % MG_EVERY == 0
        modbus = variety and number % MODBUS_EVERY == 0
        session.add(
            Device(
                mn=mn,
                kind=DeviceKind.dust_monitor,
                site_id=site.id,
                district_id=site.district_id,
                name=f"{site.name} 扬尘监测仪",
                model="DG-SIM-1",
                position="主出入口",
                lat=site.lat,
                lon=site.lon,
                password=password,
                particulate_unit="mg/m3" if mg else "ug/m3",
                crc_variant=CrcVariant.modbus if modbus else CrcVariant.hj212,
                lifecycle=Lifecycle.active,
                online=False,
            )
        )
    session.flush()
    return wanted
