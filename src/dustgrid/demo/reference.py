"""Reference stations for the demo city, fed with real hourly PM shipped with DustGrid.

The difference rules (Hebei style), the spray detector and the AQI page compare sites with
national/provincial control points. The demo has no real Shenyang feed, so it registers
two stations and loads the last days of two real Beijing stations (PRSA data set,
shipped in ``dustgrid/data/prsa``: Dongsi, urban; Huairou, suburban), moved from the same calendar
days of ``SOURCE_YEAR`` to the present. Hours not over yet are not loaded: a station never
reports the future. Idempotent: stored hours are skipped by the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

import dustgrid.model_registry  # noqa: F401 - every table mapped (foreign keys resolve)
from dustgrid.alerts.reference import ImportReport, import_prsa
from dustgrid.devices.models import Device, DeviceKind, Lifecycle

#: PRSA covers 2013-03 .. 2017-02; 2016 is whole, and a leap year (29 Feb maps somewhere).
SOURCE_YEAR: Final = 2016
DEMO_REFERENCE_DAYS: Final = 7
#: The demo's stations are fed by a CSV import, not live: a daily import leaves them silent
#: for up to a day, so a day and two hours of silence (not 30 minutes) means offline.
STATION_OFFLINE_AFTER_MIN: Final = 26 * 60


@dataclass(frozen=True)
class DemoStation:
    mn: str
    name: str
    file: str
    lat: float
    lon: float


#: The city's control points (district None: compared with every district's sites).
DEMO_STATIONS: Final = (
    DemoStation("DGREF0000000001", "国控点（东四数据）",
                "Dongsi.csv", 41.7968, 123.4291),
    DemoStation("DGREF0000000002", "省控点（怀柔数据）",
                "Huairou.csv", 41.9303, 123.4101),
)  # fmt: skip


def source_day(today: date) -> date:
    """The same calendar day in ``SOURCE_YEAR`` (29 Feb in a common year: 28 Feb)."""
    try:
        return today.replace(year=SOURCE_YEAR)
    except ValueError:  # pragma: no cover - SOURCE_YEAR is a leap year
        return today.replace(year=SOURCE_YEAR, day=28)


def ensure_demo_reference(
    session: Session,
    data_dir: Path,
    *,
    now: datetime,
    tz: ZoneInfo,
    days: int = DEMO_REFERENCE_DAYS,
) -> dict[str, ImportReport]:
    """Register the demo stations and load their last ``days`` days up to ``now``.

    Returns a report per station MN; a missing CSV is reported, not fatal (the demo works
    without reference data, only the difference rules then have nothing to compare).
    Flushes; the caller commits.
    """
    today = now.astimezone(tz).date()
    first = source_day(today) - timedelta(days=days)
    shift = today - source_day(today)
    reports: dict[str, ImportReport] = {}
    for station in DEMO_STATIONS:
        device = session.scalar(select(Device).where(Device.mn == station.mn))
        if device is None:
            device = Device(
                mn=station.mn,
                kind=DeviceKind.reference_station,
                name=station.name,
                model="PRSA",
                position="城市背景",
                lat=station.lat,
                lon=station.lon,
                lifecycle=Lifecycle.active,
                offline_after_minutes=STATION_OFFLINE_AFTER_MIN,
                online=True,
            )
            session.add(device)
            session.flush()
        path = data_dir / station.file
        if not path.is_file():
            reports[station.mn] = ImportReport(problems=[f"{path}: not found"])
            continue
        report = reports[station.mn] = import_prsa(
            session, path, mn=station.mn, tz=tz, start=first, end=source_day(today),
            shift=shift, until=now,
        )  # fmt: skip
        if report.last is not None:
            device.last_seen_at = report.last
    session.flush()
    return reports
