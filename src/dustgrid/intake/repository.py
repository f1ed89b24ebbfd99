"""Intake queries, always through the caller's scope.

Who sees a complaint: L1 all; an L2 district admin the complaints of their district, those
about sites they see, and those whose case they see; anyone the complaints they recorded.
Routes also require ``Perm.hotline``, so other roles never reach these queries.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select, true
from sqlalchemy.orm import Session

from dustgrid.cases.models import Case
from dustgrid.cases.repository import NOT_CLOSED, case_clause
from dustgrid.geo.shapes import distance_to_boundary_m, point_in_geometry
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Role
from dustgrid.intake.models import (
    Channel,
    Complaint,
    ComplaintStatus,
    HotlineSetting,
    Open311Key,
    VideoAiEvent,
)
from dustgrid.org.models import District, OrgUnit
from dustgrid.sites.models import Site
from dustgrid.sites.repository import site_clause


def complaint_clause(p: Principal) -> ColumnElement[bool]:
    if p.is_city_wide:
        return true()
    parts: list[ColumnElement[bool]] = [
        Complaint.created_by_id == p.user_id,
        Complaint.site_id.in_(select(Site.id).where(site_clause(p))),
        Complaint.case_id.in_(select(Case.id).where(case_clause(p))),
    ]
    if p.role in (Role.district_admin, Role.viewer) and p.district_id is not None:
        parts.append(Complaint.district_id == p.district_id)
    return or_(*parts)


def get_visible(
    session: Session, p: Principal, complaint_id: int, *, lock: bool = False
) -> Complaint | None:
    stmt = select(Complaint).where(Complaint.id == complaint_id, complaint_clause(p))
    if lock:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def filtered(
    p: Principal,
    *,
    status: ComplaintStatus | None = None,
    channel: str | None = None,
    q: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Select[Any]:
    stmt = select(Complaint).where(complaint_clause(p))
    if status is not None:
        stmt = stmt.where(Complaint.status == status)
    if channel:
        stmt = stmt.where(Complaint.channel == channel)
    if q:
        like = f"%{q.strip()}%"
        stmt = stmt.where(
            or_(Complaint.place_text.like(like), Complaint.content.like(like),
                Complaint.caller_phone.like(like))
        )  # fmt: skip
    if since is not None:
        stmt = stmt.where(Complaint.received_at >= since)
    if until is not None:
        stmt = stmt.where(Complaint.received_at < until)
    return stmt


def page(
    session: Session, stmt: Select[Any], *, offset: int, limit: int
) -> tuple[list[Complaint], int]:
    total = int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    rows = session.scalars(
        stmt.order_by(Complaint.received_at.desc(), Complaint.id.desc()).offset(offset).limit(limit)
    )
    return list(rows), total


def box(lat: float, lon: float, radius_m: float) -> tuple[float, float]:
    """Half-sizes (degrees) of a box holding the circle; callers measure exact distance."""
    dlat = radius_m / 111_000
    dlon = radius_m / (111_000 * max(0.1, abs(math.cos(math.radians(lat)))))
    return dlat, dlon


def visible_sites(session: Session, p: Principal) -> Sequence[Any]:
    """id, project_code, name, address, lat, lon, district_id of active sites the caller sees."""
    stmt = select(Site.id, Site.project_code, Site.name, Site.address, Site.lat, Site.lon,
                  Site.district_id).where(site_clause(p), Site.retired_at.is_(None))  # fmt: skip
    return list(session.execute(stmt))


def complaints_between(
    session: Session, p: Principal, *, since: datetime, until: datetime, exclude_id: int | None,
    limit: int = 2000,
) -> list[Complaint]:  # fmt: skip
    """Complaints in scope (not dismissed) received in [since, until], candidates for the
    duplicate rules (the caller judges them)."""
    stmt = select(Complaint).where(
        complaint_clause(p),
        Complaint.status != ComplaintStatus.dismissed,
        Complaint.received_at >= since,
        Complaint.received_at <= until,
    )
    if exclude_id is not None:
        stmt = stmt.where(Complaint.id != exclude_id)
    stmt = stmt.order_by(Complaint.received_at.desc(), Complaint.id.desc()).limit(limit)
    return list(session.scalars(stmt))


def open_cases_near(
    session: Session, p: Principal, lat: float, lon: float, *, radius_m: float, since: datetime
) -> list[Case]:
    """Open cases of any source around the point (scoped; the caller measures distance)."""
    dlat, dlon = box(lat, lon, radius_m)
    stmt = select(Case).where(
        case_clause(p),
        Case.state.in_(NOT_CLOSED),
        Case.opened_at >= since,
        Case.lat.between(lat - dlat, lat + dlat),
        Case.lon.between(lon - dlon, lon + dlon),
    )
    return list(session.scalars(stmt.limit(200)))


def district_at(session: Session, lat: float, lon: float) -> int | None:
    """The district whose boundary holds the point (None outside every boundary)."""
    for d in session.scalars(select(District).where(District.boundary.is_not(None))):
        if d.boundary and point_in_geometry(lat, lon, d.boundary):
            return d.id
    return None


def district_near(session: Session, lat: float, lon: float, *, edge_m: float
                  ) -> tuple[int | None, float | None]:  # fmt: skip
    """(district, metres outside the city) for a point: the district whose boundary holds
    it (0), else the nearest district when at most ``edge_m`` outside; (None, metres to the
    nearest boundary) further out; (None, None) when no district has a drawn boundary."""
    drawn = [d for d in session.scalars(select(District).where(District.boundary.is_not(None)))
             if d.boundary]  # fmt: skip
    for d in drawn:
        if point_in_geometry(lat, lon, d.boundary):  # type: ignore[arg-type]
            return d.id, 0.0
    if not drawn:
        return None, None
    outside, district = min((distance_to_boundary_m(lat, lon, d.boundary), d.id) for d in drawn)  # type: ignore[arg-type]
    return (district if outside <= edge_m else None), outside


def active_sites_for_address(session: Session) -> list[Any]:
    """Project code, name, address, point and district of every active site (Open311
    address matching; a city has a few thousand, read in one query)."""
    stmt = select(Site.id, Site.project_code, Site.name, Site.address, Site.lat, Site.lon,
                  Site.district_id).where(Site.retired_at.is_(None))  # fmt: skip
    return list(session.execute(stmt))


def site_by_code(session: Session, code: str) -> Site | None:
    return session.scalar(
        select(Site).where(func.lower(Site.project_code) == code.lower(), Site.retired_at.is_(None))
    )


def districts(session: Session) -> list[District]:
    return list(session.scalars(select(District).order_by(District.code)))


def names(session: Session, model: Any, ids: Sequence[int | None], attr: str) -> dict[int, Any]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    col = getattr(model, attr)
    return {r[0]: r[1] for r in session.execute(select(model.id, col).where(model.id.in_(wanted)))}


def month_rows(session: Session, p: Principal, *, since: datetime, until: datetime) -> list[Any]:
    """What the month's rates need of each complaint in scope received in [since, until):
    received, response, resolved, satisfaction, satisfied, its case's closed_at, disposition."""
    scoped = filtered(p, since=since, until=until).subquery()
    stmt = select(
        scoped.c.received_at, scoped.c.response_at, scoped.c.resolved_at,
        scoped.c.satisfaction, scoped.c.satisfied, Case.closed_at, Case.disposition,
    ).outerjoin(Case, Case.id == scoped.c.case_id)  # fmt: skip
    return list(session.execute(stmt))


def open311_keys(session: Session) -> list[Open311Key]:
    return list(session.scalars(select(Open311Key).order_by(Open311Key.id)))


def open311_live_keys(session: Session, prefix: str) -> list[Open311Key]:
    """Unrevoked Open311 keys with this prefix (the caller compares the hash)."""
    stmt = select(Open311Key).where(Open311Key.prefix == prefix, Open311Key.revoked_at.is_(None))
    return list(session.scalars(stmt))


def open311_requests(
    session: Session,
    *,
    ids: Sequence[int] | None,
    codes: Sequence[str],
    start: datetime | None,
    end: datetime | None,
    limit: int,
) -> list[Any]:
    """Open311 complaints with their case's state, deadline, update time and unit name:
    the ones with these ``ids``, or else those received in [start, end] (of ``codes``)."""
    stmt = (
        select(Complaint, Case.state, Case.deadline_at, Case.updated_at, OrgUnit.name)
        .outerjoin(Case, Case.id == Complaint.case_id)
        .outerjoin(OrgUnit, OrgUnit.id == Case.assigned_unit_id)
        .where(Complaint.channel == Channel.open311)
    )
    if ids is not None:
        stmt = stmt.where(Complaint.id.in_(ids))
    else:
        if codes:
            stmt = stmt.where(Complaint.category.in_(codes))
        if start is not None:
            stmt = stmt.where(Complaint.received_at >= start)
        if end is not None:
            stmt = stmt.where(Complaint.received_at <= end)
    stmt = stmt.order_by(Complaint.received_at.desc(), Complaint.id.desc()).limit(limit)
    return list(session.execute(stmt))


def video_event(session: Session, device_id: int, vendor_event_id: str) -> VideoAiEvent | None:
    """The event a camera already sent with this vendor id, if any."""
    stmt = select(VideoAiEvent).where(
        VideoAiEvent.device_id == device_id, VideoAiEvent.vendor_event_id == vendor_event_id
    )
    return session.scalar(stmt)


def hotline_setting(session: Session, *, lock: bool = False) -> HotlineSetting | None:
    """The city's desk settings (one row; None before the first change)."""
    stmt = select(HotlineSetting).where(HotlineSetting.id == 1)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)
