"""During a declared heavy-pollution emergency, a site that breaks its order gets a case
even when the regional episode would hold the alert; without a declaration nothing changes."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from dustgrid.config import Settings
from dustgrid.devices.models import DeviceKind
from dustgrid.emergencies import service as emergencies
from dustgrid.emergencies.policy import AreaKind, Level
from tests.alerts.alert_kit import (
    add_device,
    alerts_of,
    cases_of,
    hourly,
    local,
    run,
    store,
    use_rule,
    who,
)
from tests.fixtures.city import City

HEBEI = "hebei-db13-2934-2019"  # PM10 hourly mean minus reference over 80 µg/m³


def _polluted_morning(db: Session, city: City) -> int:
    """HP-001 at 600 µg/m³ while the reference station reads 400 (a regional episode)."""
    use_rule(db, city, HEBEI)
    dev = add_device(db, city, "EMERG000000001", site="HP-001").id
    ref = add_device(db, city, "REFEMERG000001", kind=DeviceKind.reference_station, provider=None)
    start = local(2026, 11, 20, 8, 0)
    store(
        db,
        hourly(dev, "pm10", start, [600.0, 600.0]) + hourly(ref.id, "pm10", start, [400.0, 400.0]),
        local(2026, 11, 20, 10, 1),
    )
    return city.sites["HP-001"]


def _declare(db: Session, city: City, settings: Settings, level: Level, district: str) -> None:
    decl = emergencies.Declaration(
        level=level,
        starts_at=local(2026, 11, 20, 0, 0),
        ends_at=local(2026, 11, 22, 0, 0),
        area_kind=AreaKind.districts,
        district_ids=(city.districts[district],),
    )
    emergencies.declare(
        db, who(db, city, "admin"), decl, now=local(2026, 11, 19, 20, 0), settings=settings
    )


def test_a_breach_of_the_order_opens_a_case_despite_the_regional_episode(
    db: Session, city: City, settings: Settings
) -> None:
    _declare(db, city, settings, Level.orange, "heping")
    site = _polluted_morning(db, city)
    run(db, local(2026, 11, 20, 10, 3))
    (alert,) = alerts_of(db, site)
    assert not alert.held and alert.case_id is not None
    assert alert.evidence["emergency"]["level"] == "orange"
    (case,) = cases_of(db, site)
    assert case.category == "emergency_order_breached"


def test_without_a_declaration_the_regional_episode_still_holds(
    db: Session, city: City, settings: Settings
) -> None:
    _declare(db, city, settings, Level.red, "shenhe")  # another district: not this site
    site = _polluted_morning(db, city)
    run(db, local(2026, 11, 20, 10, 3))
    (alert,) = alerts_of(db, site)
    assert alert.held and alert.case_id is None
    assert "emergency" not in alert.evidence
    assert cases_of(db, site) == []


def test_an_order_ended_before_the_exceedance_does_not_count(
    db: Session, city: City, settings: Settings
) -> None:
    _declare(db, city, settings, Level.orange, "heping")
    (em, _n), *_ = emergencies.list_emergencies(db, who(db, city, "admin"))
    emergencies.end(
        db, who(db, city, "admin"), em.id, now=local(2026, 11, 20, 7, 0), settings=settings
    )
    site = _polluted_morning(db, city)
    run(db, local(2026, 11, 20, 10, 3) + timedelta(minutes=1))
    (alert,) = alerts_of(db, site)
    assert alert.held and cases_of(db, site) == []
