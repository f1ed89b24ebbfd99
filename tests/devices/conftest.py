"""A small fleet of devices on the tiny city, and principals for service-level tests.

Fleet (all active since ``ACTIVATED``):
- ``hp1``   dust monitor at HP-001 (contractor alpha), provider gamma;
- ``hp2``   video camera at HP-002 (alpha), provider delta;
- ``sh1``   dust monitor at SH-001 (beta), provider gamma;
- ``m01``   dust monitor at HP-M01 (metro, beta, city safety station), provider delta;
- ``ref``   reference station of 和平区 (no site, no provider).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session

from dustgrid.auth.models import User
from dustgrid.auth.service import load_principal
from dustgrid.devices.models import Device, DeviceKind, Lifecycle
from dustgrid.identity.principal import Principal
from dustgrid.sites.models import Enterprise, EnterpriseKind
from dustgrid.sites.uscc import make_uscc
from tests.fixtures.city import City

ACTIVATED = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)


@dataclass
class Fleet:
    devices: dict[str, int] = field(default_factory=dict)
    mns: dict[str, str] = field(default_factory=dict)
    delta: int = 0


@pytest.fixture
def principal_of(db: Session, city: City) -> Callable[[str], Principal]:
    def _p(username: str) -> Principal:
        user = db.get(User, city.users[username])
        assert user is not None
        return load_principal(db, user)

    return _p


@pytest.fixture
def fleet(db: Session, city: City) -> Fleet:
    delta = Enterprise(
        name="德尔塔视频科技有限公司",
        uscc=make_uscc("91210100MA0000005"),
        kind=EnterpriseKind.provider,
    )
    db.add(delta)
    db.flush()
    gamma = city.enterprises["gamma"]
    heping = city.districts["heping"]
    shenhe = city.districts["shenhe"]
    rows = {
        "hp1": ("HP001DUST01", DeviceKind.dust_monitor, "HP-001", heping, gamma),
        "hp2": ("HP002CAM01", DeviceKind.video_camera, "HP-002", heping, delta.id),
        "sh1": ("SH001DUST01", DeviceKind.dust_monitor, "SH-001", shenhe, gamma),
        "m01": ("HPM01DUST01", DeviceKind.dust_monitor, "HP-M01", heping, delta.id),
        "ref": ("REFHP00001", DeviceKind.reference_station, None, heping, None),
    }
    f = Fleet(delta=delta.id)
    for key, (mn, kind, site, district, provider) in rows.items():
        d = Device(
            mn=mn,
            kind=kind,
            site_id=city.sites[site] if site else None,
            district_id=district,
            provider_id=provider,
            name=f"{key} 设备",
            position="东门" if site else "",
            password="123456",
            lifecycle=Lifecycle.active,
            activated_at=ACTIVATED,
            online=False,
        )
        db.add(d)
        db.flush()
        f.devices[key], f.mns[key] = d.id, mn
    db.commit()
    return f
