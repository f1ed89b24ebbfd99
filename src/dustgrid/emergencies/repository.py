"""Queries of the emergencies domain and its scope clause.

The compliance table reads the ``inspection`` table. The inspections domain sits above
this one (emergencies → alerts → inspections), so its model is not imported: the three
columns read are declared here as a lightweight table (``INSPECTION``), and
``tests/emergencies`` checks they match ``inspections.models``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    and_,
    column,
    exists,
    func,
    or_,
    select,
    table,
    true,
)
from sqlalchemy.orm import Session

from dustgrid.auth.models import User
from dustgrid.emergencies.models import Emergency, EmergencyOrder
from dustgrid.emergencies.policy import AreaKind
from dustgrid.grids.models import GridGroup, GridGroupMember
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Role
from dustgrid.models import UTCDateTime
from dustgrid.org.models import District
from dustgrid.sites.models import Site, Stage
from dustgrid.sites.repository import site_clause
from dustgrid.telemetry.models import Rollup

CHUNK = 500
#: Stages of a site that gets no order: the works are over.
FINISHED_STAGES = (Stage.completed,)
#: The columns of ``inspection`` the compliance table reads (see the module doc).
INSPECTION = table(
    "inspection",
    column("site_id", Integer()),
    column("result", String(16)),
    column("submitted_at", UTCDateTime()),
)
DUST_METRICS = ("pm10", "tsp")
HOURLY = "1h"


def emergency_clause(p: Principal) -> ColumnElement[bool]:
    """Emergencies ``p`` may see: all for city-wide staff; else a whole-city warning, or one
    that gave an order to a site ``p`` sees."""
    if p.is_city_wide:
        return true()
    mine = exists().where(
        EmergencyOrder.emergency_id == Emergency.id,
        EmergencyOrder.site_id.in_(select(Site.id).where(site_clause(p))),
    )
    return or_(Emergency.area_kind == AreaKind.city, mine)


def list_visible(session: Session, p: Principal, limit: int = 200) -> list[Emergency]:
    stmt = (
        select(Emergency)
        .where(emergency_clause(p))
        .order_by(Emergency.starts_at.desc(), Emergency.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def get_visible(session: Session, p: Principal, emergency_id: int) -> Emergency | None:
    stmt = select(Emergency).where(Emergency.id == emergency_id, emergency_clause(p))
    return session.scalar(stmt)


def known_districts(session: Session, ids: Iterable[int]) -> set[int]:
    wanted = sorted(set(ids))
    if not wanted:
        return set()
    return set(session.scalars(select(District.id).where(District.id.in_(wanted))))


def active_sites(session: Session, district_ids: Sequence[int] | None) -> list[Site]:
    """Sites still at work (not retired, not completed), optionally of these districts."""
    stmt = select(Site).where(Site.retired_at.is_(None), Site.stage.not_in(FINISHED_STAGES))
    if district_ids is not None:
        stmt = stmt.where(Site.district_id.in_(list(district_ids)))
    return list(session.scalars(stmt.order_by(Site.id)))


def order_count(session: Session, emergency_ids: Sequence[int]) -> dict[int, int]:
    if not emergency_ids:
        return {}
    stmt = (
        select(EmergencyOrder.emergency_id, func.count())
        .where(EmergencyOrder.emergency_id.in_(list(emergency_ids)))
        .group_by(EmergencyOrder.emergency_id)
    )
    return {int(e): int(n) for e, n in session.execute(stmt)}


def visible_orders(
    session: Session, p: Principal, emergency_id: int
) -> list[tuple[EmergencyOrder, Site]]:
    """The orders of one emergency at sites ``p`` sees, by site name."""
    stmt = (
        select(EmergencyOrder, Site)
        .join(Site, Site.id == EmergencyOrder.site_id)
        .where(EmergencyOrder.emergency_id == emergency_id, site_clause(p))
        .order_by(Site.name, Site.id)
    )
    return [(o, s) for o, s in session.execute(stmt)]


def orders_of_site(
    session: Session, site_id: int, limit: int = 20
) -> list[tuple[EmergencyOrder, Emergency]]:
    stmt = (
        select(EmergencyOrder, Emergency)
        .join(Emergency, Emergency.id == EmergencyOrder.emergency_id)
        .where(EmergencyOrder.site_id == site_id)
        .order_by(Emergency.starts_at.desc())
        .limit(limit)
    )
    return [(o, e) for o, e in session.execute(stmt)]


def _overlaps(start: datetime, end: datetime) -> ColumnElement[bool]:
    """The emergency's period (ended early or not) overlaps ``[start, end)``."""
    return and_(
        Emergency.starts_at < end,
        or_(
            and_(Emergency.ended_at.is_(None), Emergency.ends_at > start),
            Emergency.ended_at > start,
        ),
    )


def orders_overlapping(
    session: Session, start: datetime, end: datetime, site_ids: Sequence[int] | None = None
) -> list[tuple[EmergencyOrder, Emergency]]:
    """Orders whose emergency's period overlaps ``[start, end)`` (of these sites)."""
    stmt = (
        select(EmergencyOrder, Emergency)
        .join(Emergency, Emergency.id == EmergencyOrder.emergency_id)
        .where(_overlaps(start, end))
    )
    if site_ids is None:
        return [(o, e) for o, e in session.execute(stmt)]
    out: list[tuple[EmergencyOrder, Emergency]] = []
    ids = sorted(set(site_ids))
    for i in range(0, len(ids), CHUNK):
        part = stmt.where(EmergencyOrder.site_id.in_(ids[i : i + CHUNK]))
        out += [(o, e) for o, e in session.execute(part)]
    return out


def _index(sites: Sequence[Site], attrs: tuple[str, ...]) -> dict[int, set[int]]:
    """``{value of attr: site ids}`` over the given attributes (enterprise or grid ids)."""
    out: dict[int, set[int]] = {}
    for s in sites:
        for attr in attrs:
            key = getattr(s, attr)
            if key is not None:
                out.setdefault(int(key), set()).add(s.id)
    return out


def recipients(session: Session, sites: Sequence[Site]) -> dict[int, set[int]]:
    """Per site: active users of its contractor and builder (the site's contacts) and the
    members of its enforcement and inspector grids."""
    out: dict[int, set[int]] = {s.id: set() for s in sites}
    firms = _index(sites, ("contractor_id", "builder_id"))
    grids = _index(sites, ("enforcement_grid_id", "inspector_grid_id"))
    pairs: list[tuple[int, set[int]]] = []
    if firms:
        stmt = select(User.id, User.enterprise_id).where(
            User.is_active.is_(True),
            User.role == Role.contractor,
            User.enterprise_id.in_(sorted(firms)),
        )
        pairs += [(int(u), firms[int(e or 0)]) for u, e in session.execute(stmt)]
    if grids:
        members = (
            select(GridGroupMember.user_id, GridGroup.grid_id)
            .join(GridGroup, GridGroup.id == GridGroupMember.group_id)
            .join(User, User.id == GridGroupMember.user_id)
            .where(User.is_active.is_(True), GridGroup.grid_id.in_(sorted(grids)))
        )
        pairs += [(int(u), grids[int(g)]) for u, g in session.execute(members)]
    for user, site_ids in pairs:
        for sid in site_ids:
            out[sid].add(user)
    return out


def latest_dust(
    session: Session, site_ids: Sequence[int], start: datetime, end: datetime
) -> dict[int, dict[str, tuple[datetime, float]]]:
    """Per site and dust metric: the newest hourly mean of its monitors inside the period."""
    if not site_ids:
        return {}
    newest = (
        select(Rollup.site_id, Rollup.metric, func.max(Rollup.period_start).label("at"))
        .where(
            Rollup.site_id.in_(list(site_ids)),
            Rollup.metric.in_(DUST_METRICS),
            Rollup.period == HOURLY,
            Rollup.period_start >= start,
            Rollup.period_start < end,
            Rollup.mean.is_not(None),
        )
        .group_by(Rollup.site_id, Rollup.metric)
        .subquery()
    )
    stmt = (
        select(Rollup.site_id, Rollup.metric, Rollup.period_start, func.avg(Rollup.mean))
        .join(
            newest,
            and_(
                Rollup.site_id == newest.c.site_id,
                Rollup.metric == newest.c.metric,
                Rollup.period_start == newest.c.at,
                Rollup.period == HOURLY,
            ),
        )
        .group_by(Rollup.site_id, Rollup.metric, Rollup.period_start)
    )
    out: dict[int, dict[str, tuple[datetime, float]]] = {}
    for sid, metric, at, mean in session.execute(stmt):
        out.setdefault(int(sid), {})[str(metric)] = (at, float(mean))
    return out


def inspections_during(
    session: Session, site_ids: Sequence[int], start: datetime, end: datetime
) -> dict[int, dict[str, int]]:
    """Per site: submitted inspections inside the period, counted by result."""
    if not site_ids:
        return {}
    c: Any = INSPECTION.c
    stmt = (
        select(c.site_id, c.result, func.count())
        .where(
            c.site_id.in_(list(site_ids)),
            c.submitted_at.is_not(None),
            c.submitted_at >= start,
            c.submitted_at < end,
        )
        .group_by(c.site_id, c.result)
    )
    out: dict[int, dict[str, int]] = {}
    for sid, result, n in session.execute(stmt):
        out.setdefault(int(sid), {})[str(result)] = int(n)
    return out
