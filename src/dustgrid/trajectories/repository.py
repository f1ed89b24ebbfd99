"""SQL of the trajectories domain: trucks, known places, summaries, suspects, API keys."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, case, delete, false, func, insert, or_, select, true
from sqlalchemy.orm import Session

from dustgrid.grids.models import Grid, GridKind
from dustgrid.grids.repository import city_stations
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Role
from dustgrid.org.models import OrgUnit, UnitKind
from dustgrid.sites.models import Site
from dustgrid.trajectories.models import (
    CityBrainKey,
    ClusterRecord,
    FixBatch,
    KnownPlace,
    StayRecord,
    SuspectSite,
    SuspectStatus,
    Truck,
    TruckDay,
)

# --------------------------------------------------------------------------- scope


def suspect_clause(p: Principal) -> ColumnElement[bool]:
    """Suspects the principal may see: the city all; a district (its L2 unit, stations and
    viewers of the district) its own district; an officer the suspects of its grids."""
    if p.is_city_wide:
        return true()
    if p.role == Role.officer:
        if not p.grid_ids:
            return false()
        return SuspectSite.grid_id.in_(sorted(p.grid_ids))
    if p.role in (Role.district_admin, Role.station_staff, Role.viewer):
        parts: list[ColumnElement[bool]] = []
        if p.org_unit_id is not None:
            parts.append(SuspectSite.unit_id == p.org_unit_id)
        if p.district_id is not None:
            parts.append(SuspectSite.district_id == p.district_id)
        return or_(*parts) if parts else false()
    return false()


# --------------------------------------------------------------------------- trucks


def trucks(session: Session) -> list[Truck]:
    return list(session.scalars(select(Truck).order_by(Truck.plate)))


def truck_by_plate(session: Session, plate: str) -> Truck | None:
    return session.scalar(select(Truck).where(Truck.plate == plate))


def truck_by_terminal(session: Session, terminal_id: str) -> Truck | None:
    return session.scalar(select(Truck).where(Truck.terminal_id == terminal_id))


def companies(session: Session) -> dict[str, str]:
    """Terminal id → company of every registered truck."""
    rows = session.execute(select(Truck.terminal_id, Truck.company))
    return {str(t): str(c) for t, c in rows if c}


def plates(session: Session, terminals: Iterable[str]) -> dict[str, str]:
    names = sorted(set(terminals))
    if not names:
        return {}
    rows = session.execute(
        select(Truck.terminal_id, Truck.plate).where(Truck.terminal_id.in_(names))
    )
    return {str(t): str(p) for t, p in rows}


# --------------------------------------------------------------------------- places


def known_places(session: Session, *, active_only: bool = True) -> list[KnownPlace]:
    stmt = select(KnownPlace).order_by(KnownPlace.kind, KnownPlace.name, KnownPlace.id)
    if active_only:
        stmt = stmt.where(KnownPlace.active.is_(True))
    return list(session.scalars(stmt))


def ledger_places(session: Session) -> list[Any]:
    """Every site of the ledger not retired: (id, name, lat, lon, area_m2, boundary)."""
    stmt = select(Site.id, Site.name, Site.lat, Site.lon, Site.area_m2, Site.boundary).where(
        Site.retired_at.is_(None)
    )
    return list(session.execute(stmt))


def enforcement_grid_sites(session: Session, district_id: int) -> list[Any]:
    """(grid id, grid code, lane, lat, lon) of the active sites of the district's enforcement
    grids; the lane is the owning unit when that is the city safety station (its metro and
    municipal works, ``grids.repository.grid_lane``), else None (the district's own)."""
    lane = case((Grid.unit_id.in_(city_stations()), Grid.unit_id), else_=None)
    stmt = (
        select(Grid.id, Grid.code, lane, Site.lat, Site.lon)
        .join(Site, Site.enforcement_grid_id == Grid.id)
        .where(
            Grid.kind == GridKind.enforcement,
            Grid.district_id == district_id,
            Site.retired_at.is_(None),
        )
    )
    return list(session.execute(stmt))


def l2_unit_names(session: Session) -> dict[int, str]:
    """``{unit id: name}`` of the L2 units a push can be routed to (a few dozen rows)."""
    kinds = (UnitKind.district_bureau, UnitKind.city_safety_station)
    rows = session.execute(select(OrgUnit.id, OrgUnit.name).where(OrgUnit.kind.in_(kinds)))
    return {int(i): str(n) for i, n in rows}


def unit_name(session: Session, unit_id: int) -> str:
    return str(session.scalar(select(OrgUnit.name).where(OrgUnit.id == unit_id)) or "")


# --------------------------------------------------------------------------- batches


def batch(session: Session, batch_id: str) -> FixBatch | None:
    return session.scalar(select(FixBatch).where(FixBatch.batch_id == batch_id))


# --------------------------------------------------------------------------- summaries


def replace_day(
    session: Session,
    day: date,
    truck_days: Sequence[dict[str, Any]],
    stays: Sequence[dict[str, Any]],
    clusters: Sequence[dict[str, Any]],
) -> None:
    """The summaries of ``day``'s run replace those of an earlier run of the same day."""
    session.execute(delete(TruckDay).where(TruckDay.day == day))
    session.execute(delete(StayRecord).where(StayRecord.day == day))
    session.execute(delete(ClusterRecord).where(ClusterRecord.day == day))
    for model, rows in ((TruckDay, truck_days), (StayRecord, stays), (ClusterRecord, clusters)):
        if rows:
            session.execute(insert(model), list(rows))


def stay_cells(session: Session, day: date, cell: float, limit: int) -> list[Any]:
    """Stays of ``day`` counted per square cell of ``cell`` degrees: (lat, lon, n, dwell)."""
    glat = func.round(StayRecord.lat / cell)
    glon = func.round(StayRecord.lon / cell)
    stmt = (
        select(
            func.avg(StayRecord.lat),
            func.avg(StayRecord.lon),
            func.count(),
            func.sum(func.coalesce(StayRecord.n_fixes, 0)),
        )
        .where(StayRecord.day == day)
        .group_by(glat, glon)
        .order_by(func.count().desc())
        .limit(limit)
    )
    return list(session.execute(stmt))


def stay_days(session: Session) -> list[date]:
    rows = session.scalars(select(StayRecord.day).distinct().order_by(StayRecord.day.desc()))
    return list(rows)


def stays_near(
    session: Session, lat: float, lon: float, dlat: float, dlon: float, first: date, last: date
) -> list[StayRecord]:
    stmt = (
        select(StayRecord)
        .where(
            StayRecord.day >= first,
            StayRecord.day <= last,
            StayRecord.lat.between(lat - dlat, lat + dlat),
            StayRecord.lon.between(lon - dlon, lon + dlon),
        )
        .order_by(StayRecord.start_at)
    )
    return list(session.scalars(stmt))


def truck_day_count(session: Session, day: date) -> int:
    return int(session.scalar(select(func.count()).where(TruckDay.day == day)) or 0)


# --------------------------------------------------------------------------- suspects


def suspects_in_box(
    session: Session, lat: float, lon: float, dlat: float, dlon: float
) -> list[SuspectSite]:
    stmt = select(SuspectSite).where(
        SuspectSite.lat.between(lat - dlat, lat + dlat),
        SuspectSite.lon.between(lon - dlon, lon + dlon),
    )
    return list(session.scalars(stmt))


def next_ref_number(session: Session, prefix: str) -> int:
    n = session.scalar(select(func.count()).where(SuspectSite.ref.like(f"{prefix}%")))
    return int(n or 0) + 1


def suspects(
    session: Session,
    principal: Principal,
    *,
    status: SuspectStatus | None = None,
    district_id: int | None = None,
    limit: int = 500,
) -> list[SuspectSite]:
    stmt = select(SuspectSite).where(suspect_clause(principal))
    if status is not None:
        stmt = stmt.where(SuspectSite.status == status)
    if district_id is not None:
        stmt = stmt.where(SuspectSite.district_id == district_id)
    stmt = stmt.order_by(SuspectSite.status, SuspectSite.due_at, SuspectSite.id.desc())
    return list(session.scalars(stmt.limit(limit)))


def suspect_visible(
    session: Session, principal: Principal | None, suspect_id: int, *, lock: bool = False
) -> SuspectSite | None:
    stmt = select(SuspectSite).where(SuspectSite.id == suspect_id)
    if principal is not None:
        stmt = stmt.where(suspect_clause(principal))
    if lock:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def verdicts_since(session: Session, since: datetime | None, limit: int) -> list[SuspectSite]:
    stmt = select(SuspectSite).where(SuspectSite.verdict_at.is_not(None))
    if since is not None:
        stmt = stmt.where(SuspectSite.verdict_at > since)
    stmt = stmt.order_by(SuspectSite.verdict_at, SuspectSite.id).limit(limit)
    return list(session.scalars(stmt))


def confirmed_count(session: Session, district_id: int, start: datetime, end: datetime) -> int:
    stmt = select(func.count()).where(
        SuspectSite.status == SuspectStatus.confirmed,
        SuspectSite.district_id == district_id,
        SuspectSite.verdict_at >= start,
        SuspectSite.verdict_at < end,
    )
    return int(session.scalar(stmt) or 0)


def queue_counts(session: Session, principal: Principal, now: datetime) -> list[Any]:
    """Per district: (district id, waiting, overdue, soonest due) of the pushes still
    without a verdict."""
    overdue = func.sum(case((SuspectSite.due_at < now, 1), else_=0))
    stmt = (
        select(SuspectSite.district_id, func.count(), overdue, func.min(SuspectSite.due_at))
        .where(suspect_clause(principal), SuspectSite.status == SuspectStatus.pushed)
        .group_by(SuspectSite.district_id)
    )
    return list(session.execute(stmt))


# --------------------------------------------------------------------------- keys


def keys_by_prefix(session: Session, prefix: str) -> list[CityBrainKey]:
    stmt = select(CityBrainKey).where(
        CityBrainKey.prefix == prefix, CityBrainKey.revoked_at.is_(None)
    )
    return list(session.scalars(stmt))


def keys(session: Session) -> list[CityBrainKey]:
    return list(session.scalars(select(CityBrainKey).order_by(CityBrainKey.id)))
