"""The overview's counts, each through the scope clause of the domain that owns the rows.

Every query is one grouped aggregate (no row is loaded), so the page costs a handful of
index scans whatever the size of the city.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, select, true
from sqlalchemy.orm import Session

from dustgrid.alerts.models import Alert
from dustgrid.alerts.repository import alert_clause
from dustgrid.cases.models import OPEN_STATES, Case
from dustgrid.cases.repository import case_clause
from dustgrid.cases.states import CaseState
from dustgrid.devices.models import Device, DeviceKind
from dustgrid.devices.repository import device_clause
from dustgrid.devices.states import Lifecycle
from dustgrid.identity.principal import Principal
from dustgrid.org.models import District
from dustgrid.org.repository import district_clause
from dustgrid.sites.models import Site
from dustgrid.sites.repository import site_clause
from dustgrid.telemetry.models import Rollup

#: Case states in which nobody has yet taken the case on (not "handled" for the rate).
NOT_YET_HANDLED = (CaseState.reported, CaseState.dispatched, CaseState.returned)


def _in_district(column: Any, district_id: int | None) -> ColumnElement[bool]:
    return column == district_id if district_id is not None else true()


def districts(session: Session, p: Principal) -> list[Any]:
    """The districts the caller may see (id, name, name_en), in code order."""
    stmt = select(District.id, District.name, District.name_en).where(district_clause(p))
    return list(session.execute(stmt.order_by(District.code)))


def grades_by_district(session: Session, p: Principal, district_id: int | None) -> list[Any]:
    """(district, grade, sites) over the ledger's active sites in scope."""
    stmt = (
        select(Site.district_id, Site.grade, func.count())
        .where(
            site_clause(p), Site.retired_at.is_(None), _in_district(Site.district_id, district_id)
        )
        .group_by(Site.district_id, Site.grade)
    )
    return list(session.execute(stmt))


def monitors_by_district(session: Session, p: Principal, district_id: int | None) -> list[Any]:
    """(district, online, monitors) over connected dust monitors in scope."""
    stmt = (
        select(Device.district_id, Device.online, func.count())
        .where(
            device_clause(p),
            Device.kind == DeviceKind.dust_monitor,
            Device.lifecycle == Lifecycle.active,
            _in_district(Device.district_id, district_id),
        )
        .group_by(Device.district_id, Device.online)
    )
    return list(session.execute(stmt))


def alerts_since(
    session: Session, p: Principal, since: datetime, district_id: int | None
) -> list[Any]:
    """(kind, alerts raised since ``since``, of them still open) in scope."""
    still_open = func.sum(case((Alert.cleared_at.is_(None), 1), else_=0))
    stmt = (
        select(Alert.kind, func.count(), still_open)
        .where(
            alert_clause(p), Alert.raised_at >= since, _in_district(Alert.district_id, district_id)
        )
        .group_by(Alert.kind)
    )
    return list(session.execute(stmt))


def open_case_lights(
    session: Session, p: Principal, now: datetime, district_id: int | None
) -> list[Any]:
    """(district, light, open cases): red past the due time, yellow past the warning time."""
    light = case(
        (Case.due_at < now, "red"),
        (Case.warn_at <= now, "yellow"),
        else_="green",
    )
    stmt = (
        select(Case.district_id, light, func.count())
        .where(
            case_clause(p),
            Case.state.in_(tuple(OPEN_STATES)),
            _in_district(Case.district_id, district_id),
        )
        .group_by(Case.district_id, light)
    )
    return list(session.execute(stmt))


def case_flow(
    session: Session, p: Principal, since: datetime, district_id: int | None
) -> list[Any]:
    """(district, received, handled, closed) of the cases opened since ``since``."""
    handled = func.sum(case((Case.state.in_(NOT_YET_HANDLED), 0), else_=1))
    closed = func.sum(case((Case.state == CaseState.closed, 1), else_=0))
    stmt = (
        select(Case.district_id, func.count(), handled, closed)
        .where(case_clause(p), Case.opened_at >= since, _in_district(Case.district_id, district_id))
        .group_by(Case.district_id)
    )
    return list(session.execute(stmt))


def pm10_daily(
    session: Session,
    p: Principal,
    since: datetime,
    district_id: int | None,
) -> tuple[list[Any], list[Any]]:
    """Daily PM10 means (period start, mean): the sites' monitors in scope, and the
    reference stations (national/provincial stations of the district, or the city's)."""
    sites = select(Site.id).where(site_clause(p), _in_district(Site.district_id, district_id))
    site_rows = session.execute(
        select(Rollup.period_start, func.avg(Rollup.mean))
        .where(
            Rollup.site_id.in_(sites),
            Rollup.metric == "pm10",
            Rollup.period == "1d",
            Rollup.period_start >= since,
        )
        .group_by(Rollup.period_start)
        .order_by(Rollup.period_start)
    )
    stations = select(Device.id).where(
        Device.kind == DeviceKind.reference_station,
        _in_district(Device.district_id, district_id),
    )
    reference_rows = session.execute(
        select(Rollup.period_start, func.avg(Rollup.mean))
        .where(
            and_(Rollup.device_id.in_(stations), Rollup.metric == "pm10"),
            Rollup.period == "1d",
            Rollup.period_start >= since,
        )
        .group_by(Rollup.period_start)
        .order_by(Rollup.period_start)
    )
    return list(site_rows), list(reference_rows)
