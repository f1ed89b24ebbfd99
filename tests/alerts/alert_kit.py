"""Helpers for the alert platform tests (not a test module; ``tests.alerts.alert_kit``).

Times are Asia/Shanghai wall clock (``local``); devices are added to the tiny city's sites.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from dustgrid.alerts import rulesets
from dustgrid.alerts.evaluate import EvalReport, evaluate_exceedances
from dustgrid.alerts.models import Alert, AlertProfileSetting
from dustgrid.alerts.policy import AlertPolicy
from dustgrid.auth.models import User
from dustgrid.auth.service import load_principal
from dustgrid.cases.models import Case
from dustgrid.devices.models import Device, DeviceKind, Lifecycle
from dustgrid.identity.principal import Principal
from dustgrid.telemetry.rollups import refresh_rollups
from dustgrid.telemetry.store import ReadingRow, write_readings
from tests.fixtures.city import City

TZ = ZoneInfo("Asia/Shanghai")
POLICY = AlertPolicy(initial_lookback=timedelta(hours=6))


def local(*args: int) -> datetime:
    """A Shanghai wall-clock time as aware UTC."""
    return datetime(*args, tzinfo=TZ).astimezone(UTC)  # type: ignore[misc]


def who(db: Session, city: City, username: str) -> Principal:
    user = db.get(User, city.users[username])
    assert user is not None
    return load_principal(db, user)


def add_device(
    db: Session,
    city: City,
    mn: str,
    *,
    site: str | None = None,
    district: str = "heping",
    kind: DeviceKind = DeviceKind.dust_monitor,
    provider: str | None = "gamma",
    password: str = "123456",
    activated: datetime | None = None,
) -> Device:
    d = Device(
        mn=mn,
        kind=kind,
        site_id=city.sites[site] if site else None,
        district_id=city.districts[district],
        provider_id=city.enterprises[provider] if provider else None,
        name=f"{kind.value} {mn[-4:]}",
        password=password,
        lifecycle=Lifecycle.active,
        activated_at=activated or local(2026, 11, 1, 0, 0),
        online=True,
        lat=41.79,
        lon=123.40,
    )
    db.add(d)
    db.flush()
    return d


def rows(
    device_id: int,
    metric: str,
    start: datetime,
    values: Iterable[float | None],
    *,
    step: timedelta = timedelta(minutes=1),
    kind: str = "rtd",
    flags: dict[int, str] | None = None,
    received: datetime | None = None,
    source: str = "hj212",
) -> list[ReadingRow]:
    out = []
    for i, v in enumerate(values):
        flag = (flags or {}).get(i, "N")
        t = start + i * step
        out.append(
            ReadingRow(
                device_id=device_id,
                metric=metric,
                kind=kind,
                data_time=t,
                value=v,
                flag=flag,
                valid=flag in ("N", "S") and v is not None,
                source=source,
                received_at=received or t,
            )
        )
    return out


def hourly(
    device_id: int, metric: str, start: datetime, values: Iterable[float | None]
) -> list[ReadingRow]:
    """One value a minute for each hour, holding each hour's value (60 rows per value)."""
    out: list[ReadingRow] = []
    for h, v in enumerate(values):
        out += rows(device_id, metric, start + timedelta(hours=h), [v] * 60)
    return out


def store(db: Session, data: list[ReadingRow], now: datetime) -> None:
    write_readings(db.connection(), data)
    refresh_rollups(db, now=now, tz=TZ)
    db.flush()


def use_rule(db: Session, city: City, profile_id: str, **tuning: Any) -> AlertProfileSetting:
    return rulesets.save_setting(db, who(db, city, "admin"), profile_id=profile_id, tuning=tuning)


def run(db: Session, now: datetime, policy: AlertPolicy = POLICY) -> EvalReport:
    report = evaluate_exceedances(db, now=now, tz=TZ, policy=policy)
    db.flush()
    return report


def alerts_of(db: Session, site_id: int, kind: str | None = None) -> list[Alert]:
    stmt = select(Alert).where(Alert.site_id == site_id).order_by(Alert.started_at)
    if kind:
        stmt = stmt.where(Alert.kind == kind)
    return list(db.scalars(stmt))


def cases_of(db: Session, site_id: int) -> list[Case]:
    return list(db.scalars(select(Case).where(Case.site_id == site_id).order_by(Case.id)))
