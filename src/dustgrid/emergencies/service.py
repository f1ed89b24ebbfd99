"""Heavy-pollution emergencies: declare a warning, give every site inside its order, end it
early, and read back who is under order and how they comply. Never commits.

What other domains use:

* :func:`sites_under_order` ``(session, day) -> {site_id: Level}``: the sites under an
  emergency order on a local day, with the highest level (patrol plans re-prioritise them);
* :func:`declared_periods`: per site, the periods of the orders the alert engine checks
  (the alerts runtime passes them to the pure engine as input data).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from dustgrid.audit import service as audit
from dustgrid.config import Settings, get_settings
from dustgrid.emergencies import repository as repo
from dustgrid.emergencies.models import Emergency, EmergencyOrder
from dustgrid.emergencies.policy import (
    DEFAULT_EMERGENCY_POLICY,
    LEVEL_RANK,
    AreaKind,
    EmergencyPolicy,
    Level,
)
from dustgrid.emergencies.ports import ALERTS_DURING, AlertTally
from dustgrid.errors import Conflict, Forbidden, Invalid, NotFound
from dustgrid.geo.shapes import GeometryError, point_in_geometry, validate_geometry
from dustgrid.i18n import Msg, translate
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Perm
from dustgrid.notifications import service as notifications
from dustgrid.sites.models import Site
from dustgrid.workcal.calendar import people_time

NOTIFY_KIND = "emergency.order"
NOTIFY_END_KIND = "emergency.ended"
SITE_NAMES_SHOWN = 3  # a notification names at most this many sites, then "… N sites"


def _field_error(field: str, zh: str, en: str) -> Invalid:
    return Invalid(
        f"{zh} / {en}",
        details=[{"loc": ["body", field], "msg": en, "type": "value_error"}],
    )


@dataclass(frozen=True)
class Declaration:
    """What a city admin declares (checked by :func:`declare`)."""

    level: Level
    starts_at: datetime
    ends_at: datetime
    area_kind: AreaKind
    district_ids: tuple[int, ...] = ()
    polygon: dict[str, Any] | None = None
    note: str = ""


@dataclass(frozen=True)
class OrderPeriod:
    """One site's order as the alert engine needs it: when, and at which level."""

    emergency_id: int
    level: Level
    start: datetime
    end: datetime


# --------------------------------------------------------------------------- declare


def _check(session: Session, d: Declaration, now: datetime) -> dict[str, Any] | None:
    """Refuse a bad declaration naming the field; returns the cleaned polygon."""
    if d.ends_at <= d.starts_at:
        raise _field_error("ends_at", "结束时间须晚于开始时间", "ends_at must be after starts_at")
    if d.ends_at <= now:
        raise _field_error("ends_at", "结束时间已过", "ends_at is already in the past")
    if d.area_kind == AreaKind.districts:
        if not d.district_ids:
            raise _field_error("district_ids", "请选择至少一个区", "choose at least one district")
        unknown = sorted(set(d.district_ids) - repo.known_districts(session, d.district_ids))
        if unknown:
            raise _field_error(
                "district_ids",
                f"区不存在：{unknown}",
                f"unknown district {unknown}",
            )
    if d.area_kind != AreaKind.polygon:
        return None
    if d.polygon is None:
        raise _field_error("polygon", "请在地图上圈定范围", "draw the area on the map")
    try:
        return validate_geometry(d.polygon)
    except GeometryError as exc:
        raise _field_error("polygon", f"范围无效：{exc}", f"invalid area: {exc}") from exc


def _sites_inside(session: Session, d: Declaration, polygon: dict[str, Any] | None) -> list[Site]:
    districts = list(d.district_ids) if d.area_kind == AreaKind.districts else None
    sites = repo.active_sites(session, districts)
    if polygon is not None:
        sites = [s for s in sites if point_in_geometry(s.lat, s.lon, polygon)]
    return sites


def declare(
    session: Session,
    principal: Principal,
    d: Declaration,
    *,
    now: datetime,
    settings: Settings,
    policy: EmergencyPolicy = DEFAULT_EMERGENCY_POLICY,
) -> Emergency:
    """Declare a warning: every active site inside the area gets the level's order, and its
    contacts and grid members are told."""
    if not principal.can(Perm.emergency_declare):
        raise Forbidden("emergencies.error.only_city_admins_declare_warnings")
    polygon = _check(session, d, now)
    sites = _sites_inside(session, d, polygon)
    if not sites:
        raise _field_error("area", "范围内没有在施工地", "no active site inside the area")
    em = Emergency(
        level=d.level,
        starts_at=d.starts_at,
        ends_at=d.ends_at,
        area_kind=d.area_kind,
        district_ids=sorted(set(d.district_ids)) if d.area_kind == AreaKind.districts else [],
        polygon=polygon,
        note=d.note.strip(),
        policy_version=policy.version,
        declared_by_id=principal.user_id,
    )
    session.add(em)
    session.flush()
    measures = policy.measures_for(d.level)
    session.add_all(
        EmergencyOrder(
            emergency_id=em.id, site_id=s.id, level=d.level, measures=measures, issued_at=now
        )
        for s in sites
    )
    session.flush()
    audit.record_change(
        session,
        actor=principal,
        action="emergency.declared",
        entity_type="emergency",
        entity_id=em.id,
        before={},
        after={**_snapshot(em), "orders": len(sites)},
        summary=Msg(
            "emergencies.audit.declared",
            {"level": Msg(f"emergencies.level.{d.level.value}"), "id": em.id, "n": len(sites)},
        ),
    )
    _tell(session, em, sites, NOTIFY_KIND, now=now, settings=settings)
    return em


def _snapshot(em: Emergency) -> dict[str, Any]:
    return {
        "level": em.level.value,
        "starts_at": em.starts_at.isoformat(),
        "ends_at": em.ends_at.isoformat(),
        "ended_at": em.ended_at.isoformat() if em.ended_at else None,
        "area_kind": em.area_kind.value,
        "district_ids": list(em.district_ids or []),
        "polygon": em.polygon is not None,
        "policy_version": em.policy_version,
    }


def _tell(
    session: Session,
    em: Emergency,
    sites: Sequence[Site],
    kind: str,
    *,
    now: datetime,
    settings: Settings,
) -> None:
    """One notification per recipient, naming their sites under the order."""
    per_site = repo.recipients(session, sites)
    names = {s.id: s.name for s in sites}
    by_user: dict[int, list[int]] = {}
    for sid, people in per_site.items():
        for u in people:
            by_user.setdefault(u, []).append(sid)
    tz = ZoneInfo(settings.timezone)
    when = {
        "start": people_time(em.starts_at, tz),
        "end": people_time(em.until, tz),
    }
    key = f"emergencies.notify.{'order' if kind == NOTIFY_KIND else 'ended'}.{em.level.value}"
    groups: dict[tuple[int, ...], list[int]] = {}
    for user, mine in by_user.items():
        groups.setdefault(tuple(sorted(mine)), []).append(user)
    for group, users in groups.items():
        shown = "、".join(names[s] for s in group[:SITE_NAMES_SHOWN])
        params: dict[str, Any] = {**when, "sites": shown, "count": len(group)}
        notifications.notify(
            session,
            user_ids=users,
            kind=kind,
            title=translate(key, "zh-CN").format(**params),
            link=f"/emergencies/{em.id}",
            now=now,
            settings=settings,
            message_key=key,
            params=params,
        )


# --------------------------------------------------------------------------- end early


def end(
    session: Session,
    principal: Principal,
    emergency_id: int,
    *,
    now: datetime,
    settings: Settings,
) -> Emergency:
    """End a warning before its declared end (from ``now``)."""
    em = get(session, principal, emergency_id)
    if not principal.can(Perm.emergency_declare):
        raise Forbidden("emergencies.error.only_city_admins_end_warnings")
    if em.until <= now:
        raise Conflict("emergencies.error.warning_already_over")
    before = _snapshot(em)
    em.ended_at = max(now, em.starts_at)
    em.ended_by_id = principal.user_id
    session.flush()
    audit.record_change(
        session,
        actor=principal,
        action="emergency.ended",
        entity_type="emergency",
        entity_id=em.id,
        before=before,
        after=_snapshot(em),
        summary=Msg("emergencies.audit.ended", {"id": em.id}),
    )
    sites = [s for _, s in repo.visible_orders(session, principal, em.id)]
    _tell(session, em, sites, NOTIFY_END_KIND, now=now, settings=settings)
    return em


# --------------------------------------------------------------------------- read


def get(session: Session, principal: Principal, emergency_id: int) -> Emergency:
    em = repo.get_visible(session, principal, emergency_id)
    if em is None:
        raise NotFound("emergencies.error.emergency_not_found", emergency_id=emergency_id)
    return em


def status(em: Emergency, now: datetime) -> str:
    """``upcoming``, ``active``, ``ended_early`` or ``over``."""
    if em.ended_at is not None and em.ended_at <= now:
        return "ended_early"
    if now < em.starts_at:
        return "upcoming"
    return "active" if now < em.ends_at else "over"


def list_emergencies(session: Session, principal: Principal) -> list[tuple[Emergency, int]]:
    """Visible emergencies, newest first, with the number of their orders ``principal`` sees."""
    rows = repo.list_visible(session, principal)
    if principal.is_city_wide:
        counts = repo.order_count(session, [e.id for e in rows])
        return [(e, counts.get(e.id, 0)) for e in rows]
    return [(e, len(repo.visible_orders(session, principal, e.id))) for e in rows]


def visible_order_count(session: Session, principal: Principal, emergency_id: int) -> int:
    return len(repo.visible_orders(session, principal, emergency_id))


@dataclass(frozen=True)
class ComplianceRow:
    """One site under order: its monitors and inspections during the episode."""

    site_id: int
    site_name: str
    project_code: str
    district_id: int
    level: Level
    measures: list[str]
    pm10: tuple[datetime, float] | None
    tsp: tuple[datetime, float] | None
    alerts: AlertTally
    inspections: int
    inspections_with_problems: int

    @property
    def verdict(self) -> str:
        """``breach`` (an alert or a failed inspection), ``checked`` or ``unchecked``."""
        if self.alerts.raised or self.inspections_with_problems:
            return "breach"
        return "checked" if self.inspections else "unchecked"


def compliance(
    session: Session, principal: Principal, emergency_id: int, *, now: datetime
) -> tuple[Emergency, list[ComplianceRow]]:
    """Site by site: latest PM10/TSP, alerts and submitted inspections during the episode."""
    em = get(session, principal, emergency_id)
    orders = repo.visible_orders(session, principal, em.id)
    ids = [s.id for _, s in orders]
    end_ = min(em.until, now) if now > em.starts_at else em.starts_at
    dust = repo.latest_dust(session, ids, em.starts_at, end_)
    alerts = ALERTS_DURING(session, ids, em.starts_at, end_)
    insp = repo.inspections_during(session, ids, em.starts_at, end_)
    rows = []
    for o, s in orders:
        counts = insp.get(s.id, {})
        rows.append(
            ComplianceRow(
                site_id=s.id,
                site_name=s.name,
                project_code=s.project_code,
                district_id=s.district_id,
                level=o.level,
                measures=list(o.measures),
                pm10=dust.get(s.id, {}).get("pm10"),
                tsp=dust.get(s.id, {}).get("tsp"),
                alerts=alerts.get(s.id, AlertTally(0, 0)),
                inspections=sum(n for r, n in counts.items() if r != "draft"),
                inspections_with_problems=counts.get("problems", 0),
            )
        )
    return em, rows


def site_orders(
    session: Session, site_id: int, *, now: datetime
) -> list[tuple[EmergencyOrder, Emergency, str]]:
    """A site's orders, newest first, each with its emergency's status (the site page; the
    caller has already checked the site is visible)."""
    return [(o, e, status(e, now)) for o, e in repo.orders_of_site(session, site_id)]


def sites_under_order(
    session: Session, day: date, *, tz: ZoneInfo | None = None
) -> dict[int, Level]:
    """Sites under an emergency order at any time of local ``day`` → the highest level.

    For patrol plans: ``{site_id: Level}``; a site absent is under no order that day.
    """
    zone = tz or ZoneInfo(get_settings().timezone)
    start = datetime.combine(day, time(0), zone)
    out: dict[int, Level] = {}
    for o, _e in repo.orders_overlapping(session, start, start + timedelta(days=1)):
        if o.site_id not in out or LEVEL_RANK[o.level] > LEVEL_RANK[out[o.site_id]]:
            out[o.site_id] = o.level
    return out


def declared_periods(
    session: Session,
    site_ids: Sequence[int],
    start: datetime,
    end: datetime,
    *,
    policy: EmergencyPolicy = DEFAULT_EMERGENCY_POLICY,
) -> dict[int, list[OrderPeriod]]:
    """Per site, the orders overlapping ``[start, end)`` whose level the alert engine checks
    for breaches (``policy.breach_from`` and above)."""
    out: dict[int, list[OrderPeriod]] = {}
    for o, e in repo.orders_overlapping(session, start, end, site_ids):
        if policy.checks_breaches(o.level):
            out.setdefault(o.site_id, []).append(OrderPeriod(e.id, o.level, e.starts_at, e.until))
    return out
