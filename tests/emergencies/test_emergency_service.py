"""Declaring a heavy-pollution warning: which sites get the order, who hears of it, ending
it early, and the compliance table (monitors and inspections during the episode)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from dustgrid.alerts.models import Alert, AlertState
from dustgrid.audit.models import AuditEntry
from dustgrid.config import Settings
from dustgrid.emergencies import repository, service
from dustgrid.emergencies.models import EmergencyOrder
from dustgrid.emergencies.policy import DEFAULT_EMERGENCY_POLICY, AreaKind, Level
from dustgrid.errors import Conflict, Forbidden, Invalid
from dustgrid.inspections import models as inspection_models
from dustgrid.notifications.models import Notification
from dustgrid.sites.models import Site, Stage
from dustgrid.telemetry.models import Rollup
from tests.alerts.alert_kit import who
from tests.fixtures.city import City

NOW = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)  # 10:00 in the city
TZ = ZoneInfo("Asia/Shanghai")


def _declare(
    db: Session,
    city: City,
    settings: Settings,
    *,
    level: Level = Level.orange,
    area: AreaKind = AreaKind.districts,
    districts: tuple[str, ...] = ("heping",),
    polygon: dict | None = None,  # type: ignore[type-arg]
    hours: int = 48,
) -> int:
    decl = service.Declaration(
        level=level,
        starts_at=NOW - timedelta(hours=1),
        ends_at=NOW + timedelta(hours=hours),
        area_kind=area,
        district_ids=tuple(city.districts[d] for d in districts),
        polygon=polygon,
    )
    em = service.declare(db, who(db, city, "admin"), decl, now=NOW, settings=settings)
    return em.id


def _ordered(db: Session, emergency_id: int) -> set[int]:
    stmt = select(EmergencyOrder.site_id).where(EmergencyOrder.emergency_id == emergency_id)
    return set(db.scalars(stmt))


def test_a_district_warning_orders_exactly_its_active_sites(
    db: Session, city: City, settings: Settings
) -> None:
    finished = db.get(Site, city.sites["HP-003"])
    assert finished is not None
    finished.stage = Stage.completed
    retired = db.get(Site, city.sites["HP-002"])
    assert retired is not None
    retired.retired_at = NOW - timedelta(days=3)
    db.flush()
    em = _declare(db, city, settings, level=Level.orange)
    assert _ordered(db, em) == {city.sites["HP-001"], city.sites["HP-M01"]}
    order = db.scalar(select(EmergencyOrder).where(EmergencyOrder.emergency_id == em))
    assert order is not None and order.level == Level.orange
    assert "stop_earthwork" in order.measures and "wet_and_cover" in order.measures
    assert "stop_dusty_outdoor_works" not in order.measures
    audit = db.scalar(select(AuditEntry).where(AuditEntry.action == "emergency.declared"))
    assert audit is not None and audit.changes["orders"] == [None, 2]


def test_the_whole_city_and_a_drawn_polygon(db: Session, city: City, settings: Settings) -> None:
    everywhere = _declare(db, city, settings, area=AreaKind.city, districts=())
    assert _ordered(db, everywhere) == set(city.sites.values())
    lat, lon, d = 41.791, 123.401, 0.003  # a small square around HP-001 only
    ring = [[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d], [lon - d, lat + d]]
    square = {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}
    drawn = _declare(db, city, settings, area=AreaKind.polygon, districts=(), polygon=square)
    assert _ordered(db, drawn) == {city.sites["HP-001"]}


def test_levels_add_up(db: Session, city: City, settings: Settings) -> None:
    yellow = DEFAULT_EMERGENCY_POLICY.measures_for(Level.yellow)
    orange = DEFAULT_EMERGENCY_POLICY.measures_for(Level.orange)
    red = DEFAULT_EMERGENCY_POLICY.measures_for(Level.red)
    assert set(yellow) < set(orange) < set(red)
    assert "muck_trucks_off_road" in orange and "stop_demolition" in orange
    assert "stop_dusty_outdoor_works" in red


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"ends_at": NOW - timedelta(hours=2)}, "ends_at"),  # before the start
        ({"area_kind": AreaKind.districts, "district_ids": ()}, "district_ids"),
        ({"area_kind": AreaKind.districts, "district_ids": (987654,)}, "district_ids"),
        ({"area_kind": AreaKind.polygon, "polygon": {"type": "Point"}}, "polygon"),
    ],
)
def test_bad_declarations_name_the_field(
    db: Session,
    city: City,
    settings: Settings,
    change: dict,
    field: str,  # type: ignore[type-arg]
) -> None:
    base = {
        "level": Level.red,
        "starts_at": NOW - timedelta(hours=1),
        "ends_at": NOW + timedelta(hours=6),
        "area_kind": AreaKind.city,
    }
    decl = service.Declaration(**{**base, **change})
    with pytest.raises(Invalid) as err:
        service.declare(db, who(db, city, "admin"), decl, now=NOW, settings=settings)
    assert err.value.details[0]["loc"] == ["body", field]


def test_only_the_city_admin_declares(db: Session, city: City, settings: Settings) -> None:
    decl = service.Declaration(Level.red, NOW, NOW + timedelta(hours=6), AreaKind.city)
    with pytest.raises(Forbidden):
        service.declare(db, who(db, city, "d_heping"), decl, now=NOW, settings=settings)


def test_site_contacts_and_grid_members_are_told_in_their_language(
    db: Session, city: City, settings: Settings
) -> None:
    _declare(db, city, settings, level=Level.red, districts=("shenhe",))
    told = {
        n.user_id: n
        for n in db.scalars(select(Notification).where(Notification.kind == "emergency.order"))
    }
    u = city.users
    assert set(told) == {
        u["con_beta"], u["off_sh1"], u["off_sh2"], u["insp_sh1"], u["insp_sh2"]
    }  # fmt: skip
    note = told[u["con_beta"]]
    assert note.message_key == "emergencies.notify.order.red"
    assert note.params is not None and note.params["count"] == 3
    assert note.link.startswith("/emergencies/")
    assert "红色预警" in note.title  # the zh-CN text for outbound channels


def test_ending_early(db: Session, city: City, settings: Settings) -> None:
    em_id = _declare(db, city, settings, hours=48)
    today = NOW.astimezone(TZ).date()
    assert service.sites_under_order(db, today + timedelta(days=1), tz=TZ) == {
        city.sites[k]: Level.orange for k in ("HP-001", "HP-002", "HP-003", "HP-M01")
    }
    later = NOW + timedelta(hours=3)
    em = service.end(db, who(db, city, "admin"), em_id, now=later, settings=settings)
    assert em.ended_at == later and service.status(em, later) == "ended_early"
    assert service.sites_under_order(db, today + timedelta(days=1), tz=TZ) == {}
    assert city.sites["HP-001"] in service.sites_under_order(db, today, tz=TZ)
    with pytest.raises(Conflict):
        service.end(db, who(db, city, "admin"), em_id, now=later, settings=settings)
    ended = db.scalars(select(Notification).where(Notification.kind == "emergency.ended"))
    assert {n.user_id for n in ended} >= {city.users["con_alpha"], city.users["off_hp1"]}


def test_the_highest_level_wins_for_patrols(db: Session, city: City, settings: Settings) -> None:
    _declare(db, city, settings, level=Level.yellow, area=AreaKind.city, districts=())
    _declare(db, city, settings, level=Level.red, districts=("shenhe",))
    day: date = NOW.astimezone(TZ).date()
    under = service.sites_under_order(db, day, tz=TZ)
    assert under[city.sites["SH-001"]] == Level.red
    assert under[city.sites["HP-001"]] == Level.yellow


def test_compliance_reads_monitors_alerts_and_inspections(
    db: Session, city: City, settings: Settings
) -> None:
    em_id = _declare(db, city, settings, districts=("heping",))
    hp1, hp2 = city.sites["HP-001"], city.sites["HP-002"]
    for hour, mean in ((0, 90.0), (1, 180.0)):
        db.add(
            Rollup(device_id=4242, metric="pm10", period="1h", site_id=hp1,
                   period_start=NOW - timedelta(minutes=50) + timedelta(hours=hour - 1),
                   mean=mean, count_valid=60, count_total=60, expected=60)
        )  # fmt: skip
    db.add(
        Alert(kind="exceedance", rule_key="r", site_id=hp1, severity="high",
              state=AlertState.active, started_at=NOW - timedelta(minutes=30), evidence={})
    )  # fmt: skip
    insp = inspection_models
    for result in (insp.InspectionResult.problems, insp.InspectionResult.nothing_found):
        db.add(
            insp.Inspection(
                idempotency_key=f"k-{result.value}", site_id=hp2,
                inspector_id=city.users["insp_hp1"], mode=insp.InspectionMode.on_site,
                result=result, template_version="1", checked_in_at=NOW - timedelta(minutes=40),
                submitted_at=NOW - timedelta(minutes=20),
            )
        )  # fmt: skip
    db.flush()
    _em, rows = service.compliance(db, who(db, city, "admin"), em_id, now=NOW)
    by_site = {r.site_id: r for r in rows}
    assert by_site[hp1].pm10 is not None and by_site[hp1].pm10[1] == 180.0
    assert by_site[hp1].alerts.raised == 1 and by_site[hp1].verdict == "breach"
    assert by_site[hp2].inspections == 2 and by_site[hp2].inspections_with_problems == 1
    assert by_site[city.sites["HP-003"]].verdict == "unchecked"


def test_the_inspection_columns_read_match_the_model() -> None:
    """The compliance query reads ``inspection`` without importing its (higher) domain."""
    model = inspection_models.Inspection.__table__
    for col in repository.INSPECTION.c:
        assert col.name in model.c
    assert {"draft", "problems"} <= {r.value for r in inspection_models.InspectionResult}
