"""The demo city's reference stations: real PRSA hours moved to the present, never the future."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dustgrid.data import PRSA_DIR
from dustgrid.demo.reference import DEMO_STATIONS, ensure_demo_reference
from dustgrid.devices.models import Device, DeviceKind
from dustgrid.telemetry.models import Reading

SH = ZoneInfo("Asia/Shanghai")
PRSA = PRSA_DIR
NOW = datetime(2026, 11, 22, 12, 30, tzinfo=SH)


def _value(session: Session, mn: str, metric: str, local: datetime) -> float | None:
    device = session.scalar(select(Device).where(Device.mn == mn))
    assert device is not None
    return session.scalar(
        select(Reading.value).where(
            Reading.device_id == device.id,
            Reading.metric == metric,
            Reading.data_time == local.astimezone(UTC),
        )
    )


def test_stations_carry_the_same_calendar_hours_of_2016(db: Session) -> None:
    reports = ensure_demo_reference(db, PRSA, now=NOW, tz=SH, days=2)
    assert set(reports) == {s.mn for s in DEMO_STATIONS}
    dongsi = DEMO_STATIONS[0].mn
    # Dongsi.csv: 2016-11-22 10:00, PM2.5 13, PM10 32 -> the demo's 2026-11-22 10:00
    assert _value(db, dongsi, "pm10", datetime(2026, 11, 22, 10, tzinfo=SH)) == 32.0
    assert _value(db, dongsi, "pm25", datetime(2026, 11, 22, 10, tzinfo=SH)) == 13.0
    # 11:00-12:00 is over at 12:30, 12:00-13:00 is not: a station never reports the future
    assert _value(db, dongsi, "pm10", datetime(2026, 11, 22, 11, tzinfo=SH)) is not None
    assert _value(db, dongsi, "pm10", datetime(2026, 11, 22, 12, tzinfo=SH)) is None
    kinds = set(db.scalars(select(Device.kind).where(Device.mn.in_(reports))))
    assert kinds == {DeviceKind.reference_station}
    # loading again stores nothing twice
    again = ensure_demo_reference(db, PRSA, now=NOW, tz=SH, days=2)
    assert all(r.new == 0 and r.rows > 0 for r in again.values())
    count = db.scalar(select(func.count()).select_from(Reading).where(Reading.source == "csv"))
    assert count == sum(r.new for r in reports.values())


def test_missing_data_folder_is_reported_not_fatal(db: Session, tmp_path: Path) -> None:
    reports = ensure_demo_reference(db, tmp_path / "nowhere", now=NOW, tz=SH)
    assert all(r.new == 0 and "not found" in r.problems[0] for r in reports.values())
    assert db.scalar(select(func.count()).select_from(Device).where(Device.mn.in_(reports))) == 2
