"""A constructed November 2026 in the test city, with the scores it must give, and a
database file holding it for the command-line tests (``november_db``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from dustgrid import db, migrate
from dustgrid.cases.models import Case
from dustgrid.cases.states import CaseSource, CaseState
from dustgrid.config import get_settings
from dustgrid.devices.models import Device, DeviceKind, OfflinePeriod
from dustgrid.devices.states import Lifecycle
from dustgrid.inspections.models import Inspection, InspectionMode, InspectionResult
from tests.fixtures.city import City, build_city

TZ = ZoneInfo("Asia/Shanghai")
MONTH = "2026-11"
AFTER = datetime(2026, 12, 2, 1, tzinfo=TZ)  # "now" when the month is scored


def local(day: int, hour: int = 9, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=TZ)


def build_november(db: Session, city: City) -> dict[str, int]:
    """- a case the city dispatched to 和平's bureau on 5 Nov, still untouched: 和平 loses
      handling (−10: 0 % vs 100 %, capped), closure (−10) and the 95 % line (−20); every
      test site is above the threshold and in a waste stage, and only HP-001 has video and
      a dust monitor connected at the month's end: HP-002 and HP-003 cost 和平 −2 each
      (connect-before-waste) → 56; 沈河 (3 sites, none connected) → 94; the city safety
      station (HP-M01) → 98;
    - provider gamma: a monitor offline 2–4 Nov, a camera online: 2 of 14 device-days in
      the week of 2 Nov (14.3 % → −10), repaired 2 days after notice (passes); the camera's
      main stream is 1280×720 (−10), its sub stream not recorded (not scored) → 80;
    - officer off_hp1 passed HP-001 on 3 Nov; a sensor case there on 10 Nov is a missed
      report of group E-HP (−5) and of off_hp1 on their own: off_hp1 saw 1 of E-HP's 3
      sites (66.67 points below the line × 0.2 = −13.33) → 81.67; off_hp2 filed no visit
      (0 of 3: −20, the cap) and passed nothing → 80; so do the other four officers."""
    hp1 = city.sites["HP-001"]
    dispatched = Case(
        source=CaseSource.higher_assignment, state=CaseState.dispatched, site_id=hp1,
        district_id=city.districts["heping"], category="bare_soil_uncovered",
        description="裸土未覆盖", severity="medium", assigned_unit_id=city.units["bureau_heping"],
        dispatched_at=local(5), opened_at=local(5), deadline_at=local(25),
    )  # fmt: skip
    sensor = Case(
        source=CaseSource.sensor, state=CaseState.reported, site_id=hp1,
        district_id=city.districts["heping"], category="dust_exceedance",
        description="扬尘监测超标", severity="low", opened_at=local(10),
    )  # fmt: skip
    db.add_all([dispatched, sensor])
    monitor = Device(
        mn="ASSESS-M-01", kind=DeviceKind.dust_monitor, site_id=hp1,
        district_id=city.districts["heping"], provider_id=city.enterprises["gamma"],
        lifecycle=Lifecycle.active, activated_at=local(1, 0, month=1),
    )  # fmt: skip
    camera = Device(
        mn="ASSESS-C-01", kind=DeviceKind.video_camera, site_id=hp1,
        district_id=city.districts["heping"], provider_id=city.enterprises["gamma"],
        lifecycle=Lifecycle.active, activated_at=local(1, 0, month=1),
        main_stream_width=1280, main_stream_height=720,
    )  # fmt: skip
    db.add_all([monitor, camera])
    db.flush()
    # the camera is online all month; the monitor 2 days out of the week of 2 Nov:
    # 2 device-days of 14 = 14.3 %: −10 (10–20 %)
    period = OfflinePeriod(
        device_id=monitor.id, started_at=local(2, 0), detected_at=local(2, 0),
        notified_at=local(2, 0), ended_at=local(4, 0),
        repair_seconds=int(timedelta(days=2).total_seconds()),
    )  # fmt: skip
    visit = Inspection(
        idempotency_key="assess-visit-1", site_id=hp1, inspector_id=city.users["off_hp1"],
        mode=InspectionMode.on_site, result=InspectionResult.nothing_found,
        template_version="2026.1", checked_in_at=local(3), submitted_at=local(3, 10),
    )  # fmt: skip
    db.add_all([period, visit])
    db.flush()
    return {"dispatched": dispatched.id, "sensor": sensor.id, "monitor": monitor.id,
            "camera": camera.id, "period": period.id, "visit": visit.id}  # fmt: skip


@pytest.fixture
def november_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A migrated SQLite file holding the test city and :func:`build_november`, configured
    as the database of the command line (``DUSTGRID_DATABASE_URL``); yields its URL.

    A file of its own, not the suite's database: the commands commit, and the suite's
    session-wide city must not see it. Shared through ``tests/assessments/conftest.py`` and
    ``tests/reports/conftest.py``."""
    url = f"sqlite:///{tmp_path / 'november.db'}"
    monkeypatch.setenv("DUSTGRID_DATABASE_URL", url)
    monkeypatch.setenv("DUSTGRID_VAR_DIR", str(tmp_path))
    for cached in (get_settings, db.get_engine, db.get_sessionmaker):
        cached.cache_clear()
    migrate.upgrade(url)
    with Session(db.get_engine()) as session:
        build_november(session, build_city(session))
        session.commit()
    yield url
    db.get_engine().dispose()
    for cached in (get_settings, db.get_engine, db.get_sessionmaker):
        cached.cache_clear()
