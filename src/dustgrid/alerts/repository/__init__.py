"""Alert and quality-flag queries, always limited by the caller's scope.

An alert about a site is visible to whoever sees the site (``site_clause``); an alert about
a device without a site (a reference station offline) to whoever sees the device
(``device_clause``). Reads outside scope answer 404 in the service.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select, true
from sqlalchemy.orm import Session

from dustgrid.alerts.models import Alert, AlertState, AlertWindow, QualityFlagRow
from dustgrid.cases.models import Case
from dustgrid.cases.repository import CASES_OF_PROVIDER_ALERTS
from dustgrid.devices.models import Device
from dustgrid.devices.repository import device_clause
from dustgrid.emergencies.ports import ALERTS_DURING, AlertTally
from dustgrid.identity.principal import Principal
from dustgrid.sites.models import Enterprise, Site
from dustgrid.sites.repository import site_clause


@CASES_OF_PROVIDER_ALERTS.provide
def _provider_cases(p: Principal) -> ColumnElement[bool]:
    """Cases raised from alerts of the provider's devices (``provider_case_clause`` checked
    the enterprise)."""
    own_devices = select(Device.id).where(Device.provider_id == p.enterprise_id)
    return Case.id.in_(
        select(Alert.case_id).where(Alert.case_id.is_not(None), Alert.device_id.in_(own_devices))
    )


def alert_clause(p: Principal) -> ColumnElement[bool]:
    if p.is_city_wide:
        return true()
    return or_(
        Alert.site_id.in_(select(Site.id).where(site_clause(p))),
        and_(
            Alert.site_id.is_(None), Alert.device_id.in_(select(Device.id).where(device_clause(p)))
        ),
    )


@dataclass(frozen=True, slots=True)
class AlertFilter:
    state: str | None = None  # active | acknowledged | cleared | open (not cleared)
    kind: str | None = None  # exceedance | offline | stale_key | quality (any quality:*)
    site_id: int | None = None
    district_id: int | None = None
    severity: str | None = None
    held: bool | None = None
    start: datetime | None = None  # started_at >= start
    end: datetime | None = None  # started_at < end


def _by_state_and_kind(stmt: Select[Any], f: AlertFilter) -> Select[Any]:
    """The two filters with a special value ("open" states, "quality" kinds), kept apart
    from the plain equality filters of ``_filtered``."""
    if f.state == "open":
        stmt = stmt.where(Alert.state != AlertState.cleared)
    elif f.state:
        stmt = stmt.where(Alert.state == AlertState(f.state))
    if f.kind == "quality":
        stmt = stmt.where(Alert.kind.like("quality:%"))
    elif f.kind:
        stmt = stmt.where(Alert.kind == f.kind)
    return stmt


def _filtered(p: Principal, f: AlertFilter) -> Select[Any]:
    stmt = _by_state_and_kind(select(Alert).where(alert_clause(p)), f)
    if f.site_id is not None:
        stmt = stmt.where(Alert.site_id == f.site_id)
    if f.district_id is not None:
        stmt = stmt.where(Alert.district_id == f.district_id)
    if f.severity:
        stmt = stmt.where(Alert.severity == f.severity)
    if f.held is not None:
        stmt = stmt.where(Alert.held.is_(f.held))
    if f.start is not None:
        stmt = stmt.where(Alert.started_at >= f.start)
    if f.end is not None:
        stmt = stmt.where(Alert.started_at < f.end)
    return stmt


def list_page(
    session: Session, p: Principal, f: AlertFilter, *, page: int, size: int
) -> tuple[list[Alert], int]:
    stmt = _filtered(p, f)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.order_by(Alert.started_at.desc(), Alert.id.desc())
        .offset((page - 1) * size)
        .limit(size)
    )
    return list(rows), int(total)


def visible(session: Session, p: Principal, alert_id: int) -> Alert | None:
    return session.scalar(select(Alert).where(Alert.id == alert_id, alert_clause(p)))


def by_open_key(session: Session, key: str) -> Alert | None:
    return session.scalar(select(Alert).where(Alert.open_key == key))


def names(session: Session, alerts: list[Alert]) -> dict[str, dict[int, str]]:
    """Site names and device MNs of a page of alerts (one query each)."""
    site_ids = {a.site_id for a in alerts if a.site_id}
    dev_ids = {a.device_id for a in alerts if a.device_id}
    sites = (
        dict(session.execute(select(Site.id, Site.name).where(Site.id.in_(sorted(site_ids)))).all())
        if site_ids
        else {}
    )
    devs = (
        dict(
            session.execute(select(Device.id, Device.mn).where(Device.id.in_(sorted(dev_ids))))
            .tuples()
            .all()
        )
        if dev_ids
        else {}
    )
    return {"sites": sites, "devices": devs}


def windows(
    session: Session, site_id: int, rule_key: str, start: datetime, end: datetime
) -> list[AlertWindow]:
    stmt = (
        select(AlertWindow)
        .where(
            AlertWindow.site_id == site_id,
            AlertWindow.rule_key == rule_key,
            AlertWindow.window_start >= start,
            AlertWindow.window_start < end,
        )
        .order_by(AlertWindow.window_start)
    )
    return list(session.scalars(stmt))


def _flag_scope(p: Principal) -> ColumnElement[bool]:
    if p.is_city_wide:
        return true()
    return QualityFlagRow.device_id.in_(select(Device.id).where(device_clause(p)))


def flags(
    session: Session,
    p: Principal,
    *,
    start: datetime,
    end: datetime,
    site_id: int | None = None,
    device_ids: list[int] | None = None,
    limit: int = 500,
) -> list[QualityFlagRow]:
    stmt = select(QualityFlagRow).where(
        _flag_scope(p), QualityFlagRow.end_at >= start, QualityFlagRow.start_at < end
    )
    if site_id is not None:
        stmt = stmt.where(QualityFlagRow.site_id == site_id)
    if device_ids is not None:
        stmt = stmt.where(QualityFlagRow.device_id.in_(device_ids))
    return list(session.scalars(stmt.order_by(QualityFlagRow.start_at).limit(limit)))


def flag_counts(
    session: Session, p: Principal, *, start: datetime, end: datetime, by: str
) -> list[Any]:
    """Flags started in ``[start, end)`` counted per ``by`` ("site" or "provider") and kind."""
    f = QualityFlagRow
    if by == "site":
        key, label = f.site_id, Site.name
        stmt = select(key, label, f.kind, func.count()).outerjoin(Site, Site.id == f.site_id)
    else:
        key, label = f.provider_id, Enterprise.name
        stmt = select(key, label, f.kind, func.count()).outerjoin(
            Enterprise, Enterprise.id == f.provider_id
        )
    stmt = (
        stmt.where(_flag_scope(p), f.start_at >= start, f.start_at < end)
        .group_by(key, label, f.kind)
        .order_by(key, f.kind)
    )
    return list(session.execute(stmt))


# --------------------------------------------------------------------------- emergencies


@ALERTS_DURING.provide
def exceedances_during(
    session: Session, site_ids: Sequence[int], start: datetime, end: datetime
) -> dict[int, AlertTally]:
    """Per site: exceedance alerts that overlap ``[start, end)`` and how many are open."""
    if not site_ids:
        return {}
    still_open = func.sum(case((Alert.state != AlertState.cleared, 1), else_=0))
    stmt = (
        select(Alert.site_id, func.count(), still_open)
        .where(
            Alert.kind == "exceedance",
            Alert.site_id.in_(list(site_ids)),
            Alert.started_at < end,
            or_(Alert.ended_at.is_(None), Alert.ended_at > start),
        )
        .group_by(Alert.site_id)
    )
    return {int(s): AlertTally(int(n), int(o or 0)) for s, n, o in session.execute(stmt)}


def map_rows(session: Session, p: Principal, *, limit: int) -> list[Any]:
    """Open (not cleared) alerts with a place, the site's or else the device's, WGS-84:
    ``(id, kind, severity, state, lat, lon, site_id)``."""
    lat = func.coalesce(Site.lat, Device.lat)
    lon = func.coalesce(Site.lon, Device.lon)
    stmt = (
        select(Alert.id, Alert.kind, Alert.severity, Alert.state, lat, lon, Alert.site_id)
        .outerjoin(Site, Site.id == Alert.site_id)
        .outerjoin(Device, Device.id == Alert.device_id)
        .where(alert_clause(p), Alert.state != AlertState.cleared, lat.is_not(None))
        .order_by(Alert.id.desc())
        .limit(limit)
    )
    return list(session.execute(stmt))
