"""Helpers shared by the telemetry, HTTP-ingest and MQTT tests (plain functions)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dustgrid.devices.keys import KEY_SCHEME, PREFIX_CHARS, hash_key, new_key
from dustgrid.devices.models import Device, DeviceApiKey, DeviceKind, Lifecycle
from dustgrid.telemetry.models import Reading
from dustgrid.telemetry.store import ReadingRow

SHANGHAI = ZoneInfo("Asia/Shanghai")
RECEIVED = datetime(2024, 5, 2, tzinfo=UTC)


def local(*args: int) -> datetime:
    """An Asia/Shanghai wall-clock time as an aware UTC datetime."""
    return datetime(*args, tzinfo=SHANGHAI).astimezone(UTC)  # type: ignore[misc]


def add_device(
    db: Session,
    mn: str,
    *,
    site_id: int | None = None,
    kind: DeviceKind = DeviceKind.dust_monitor,
    unit: str = "ug/m3",
    password: str = "123456",
    lifecycle: Lifecycle = Lifecycle.active,
) -> Device:
    device = Device(
        mn=mn,
        kind=kind,
        site_id=site_id,
        particulate_unit=unit,
        password=password,
        lifecycle=lifecycle,
        name=f"监测仪 {mn[-4:]}",
    )
    db.add(device)
    db.flush()
    return device


def add_key(db: Session, device: Device) -> str:
    """A live API key of ``device`` (plaintext)."""
    key = new_key()
    assert key.startswith(KEY_SCHEME)
    db.add(DeviceApiKey(device_id=device.id, prefix=key[:PREFIX_CHARS], key_hash=hash_key(key)))
    db.flush()
    return key


def series(
    device_id: int,
    metric: str,
    start: datetime,
    values: Iterable[float | None],
    *,
    step: timedelta = timedelta(minutes=1),
    kind: str = "rtd",
    flags: dict[int, str] | None = None,
) -> list[ReadingRow]:
    """One reading per ``step`` from ``start``; ``flags`` maps an index to its flag."""
    rows = []
    for i, value in enumerate(values):
        flag = (flags or {}).get(i, "N")
        rows.append(
            ReadingRow(
                device_id=device_id,
                metric=metric,
                kind=kind,
                data_time=start + i * step,
                value=value,
                flag=flag,
                valid=flag in ("N", "S") and value is not None,
                source="test",
                received_at=RECEIVED,
            )
        )
    return rows


def reading_count(db: Session, device_id: int) -> int:
    stmt = select(func.count()).select_from(Reading).where(Reading.device_id == device_id)
    return int(db.scalar(stmt) or 0)
