"""Dust monitors for the demo city, so `make run` has devices the simulator can be.

The MNs are ``DEMO_MN_PREFIX`` + a 4-digit number, the same ones ``dustgrid simulate``
generates by default, and the password is :data:`DEMO_DEVICE_PASSWORD`: a plain
``dustgrid simulate --devices N`` then speaks for the first N demo monitors.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import zip_longest
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


def spread_sites(session: Session, n: int, *, first: Sequence[int] = ()) -> list[Site]:
    """``n`` sites that must have monitors, spread over the city.

    ``first`` (site ids) come first, then one site per district in turn (districts and
    their sites by id), so every district has live monitors, not only the first one.
    """
    candidates = session.scalars(
        select(Site)
        .where(Site.monitors_required.is_(True), Site.retired_at.is_(None))
        .order_by(Site.district_id, Site.id)
    ).all()
    by_id = {site.id: site for site in candidates}
    chosen = [by_id[i] for i in dict.fromkeys(first) if i in by_id][:n]
    taken = {site.id for site in chosen}
    queues: dict[int, list[Site]] = {}
    for site in candidates:
        if site.id not in taken:
            queues.setdefault(site.district_id, []).append(site)
    rounds = zip_longest(*queues.values())
    for site in (s for row in rounds for s in row if s is not None):
        if len(chosen) >= n:
            break
        chosen.append(site)
    return chosen


def ensure_demo_devices(
    session: Session,
    n: int,
    *,
    prefix: str = DEMO_MN_PREFIX,
    password: str = DEMO_DEVICE_PASSWORD,
    variety: bool = False,
    first_sites: Sequence[int] = (),
) -> list[str]:
    """An active dust monitor on each of ``n`` sites that require monitors.

    The sites are :func:`spread_sites` (``first_sites`` first: the demo passes a site each
    of its printed accounts can see). Idempotent: an existing MN is left as it is (an admin
    may have changed it); the same city gets the same devices. Flushes; the caller commits.
    """
    sites = spread_sites(session, n, first=first_sites)
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
