"""A constructed November 2026 in the test city, with the scores it must give."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from dustgrid.cases.models import Case
from dustgrid.cases.states import CaseSource, CaseState
from dustgrid.devices.models import Device, DeviceKind, OfflinePeriod
from dustgrid.devices.states import Lifecycle
from dustgrid.inspections.models import Inspection, InspectionMode, InspectionResult
from tests.fixtures.city import City

TZ = ZoneInfo("Asia/Shanghai")
MONTH = "2026-11"
AFTER = datetime(2026, 12, 2, 1, tzinfo=TZ)  # "now" when the month is scored


def local(day: int, hour: int = 9, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=TZ)


def build_november(db: Session, city: City) -> dict[str, int]:
    """- a case the city dispatched to 和平's bureau on 5 Nov, still untouched: 和平 loses
      handling (−10: 0 % vs 100 %, capped), closure (−10) and the 95 % line (−20) → 60;
    - provider gamma: a monitor offline 2–4 Nov, a camera online: 2 of 14 device-days in
      the week of 2 Nov (14.3 % → −10), repaired 2 days after notice (passes); the camera's
      main stream is 1280×720 (−10), its sub stream not recorded (not scored) → 80;
    - officer off_hp1 passed HP-001 on 3 Nov; a sensor case there on 10 Nov is a missed
      report of group E-HP (−5)."""
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
