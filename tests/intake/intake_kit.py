"""Helpers for the intake tests: principals, images, a camera with its API key.

Not a test module (no ``test_`` prefix); imported as ``tests.intake.intake_kit``.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from dustgrid.auth.models import User
from dustgrid.auth.service import load_principal
from dustgrid.devices.keys import PREFIX_CHARS, hash_key, new_key
from dustgrid.devices.models import Device, DeviceApiKey, DeviceKind, Lifecycle
from dustgrid.identity.principal import Principal
from tests.fixtures.city import City

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 256
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 256
NOT_IMAGE = b"MZ\x90\x00 this is an executable, not a photo" + b"\x00" * 64


def b64(content: bytes) -> str:
    return base64.b64encode(content).decode("ascii")


def who(db: Session, city: City, username: str) -> Principal:
    user = db.get(User, city.users[username])
    assert user is not None
    return load_principal(db, user)


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def iso(at: datetime) -> str:
    return at.isoformat()


def hours_ago(h: float) -> datetime:
    return now_utc() - timedelta(hours=h)


def camera(
    db: Session,
    city: City,
    *,
    site: str | None = "HP-001",
    mn: str = "HP001CAMAI1",
    kind: DeviceKind = DeviceKind.video_camera,
) -> tuple[Device, str]:
    """An active camera at ``site`` and a live API key for it (plaintext returned)."""
    d = Device(
        mn=mn,
        kind=kind,
        site_id=city.sites[site] if site else None,
        district_id=city.districts["heping"],
        name="AI 摄像机",
        lifecycle=Lifecycle.active,
    )
    db.add(d)
    db.flush()
    key = new_key()
    db.add(DeviceApiKey(device_id=d.id, prefix=key[:PREFIX_CHARS], key_hash=hash_key(key)))
    db.flush()
    return d, key
