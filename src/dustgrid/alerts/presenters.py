"""What the API and the pages show: alert lists, rule settings, dry runs, quality counts.

Shared by ``api.py`` and ``web/alert_pages.py`` so both answer the same, in the caller's
scope. Never commits; the dry run only reads.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from dustgrid.alerts import replay
from dustgrid.alerts import repository as repo
from dustgrid.alerts.engine.profiles import (
    BUILTIN_PROFILES,
    ContextError,
    EvalContext,
    Profile,
    get_profile,
)
from dustgrid.alerts.models import Alert, AlertProfileSetting
from dustgrid.alerts.policy import DEFAULT_ALERT_POLICY, AlertPolicy
from dustgrid.alerts.repository import sources
from dustgrid.alerts.rulesets import (
    TUNABLE,
    active_rules,
    current_settings,
    effective_profile,
    history,
)
from dustgrid.alerts.schemas import (
    AlertDetail,
    AlertFilterIn,
    AlertOut,
    DryRunIn,
    ProfileSettingOut,
    ProfilesOut,
    QualityCount,
    QualityOut,
)
from dustgrid.alerts.series import site_context
from dustgrid.errors import Forbidden, NotFound
from dustgrid.geo.coords import to_map_datum
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Perm
from dustgrid.sites import service as sites
from dustgrid.sites.models import Site


def _local_bound(day: date | None, tz: ZoneInfo, *, after: bool = False) -> datetime | None:
    if day is None:
        return None
    d = day + timedelta(days=1) if after else day
    return datetime.combine(d, time(0), tzinfo=tz).astimezone(UTC)


def to_filter(f: AlertFilterIn, tz: ZoneInfo) -> repo.AlertFilter:
    return repo.AlertFilter(
        state=f.state,
        kind=f.kind,
        site_id=f.site_id,
        district_id=f.district_id,
        severity=f.severity,
        held=f.held,
        start=_local_bound(f.date_from, tz),
        end=_local_bound(f.date_to, tz, after=True),
    )


def _out(alerts: list[Alert], session: Session, detail: bool = False) -> list[Any]:
    names = repo.names(session, alerts)
    cls = AlertDetail if detail else AlertOut
    out = []
    for a in alerts:
        item = cls.model_validate(a, from_attributes=True)
        item.site_name = names["sites"].get(a.site_id) if a.site_id else None
        item.device_mn = names["devices"].get(a.device_id) if a.device_id else None
        item.state = a.state.value
        out.append(item)
    return out


def list_alerts(
    session: Session, principal: Principal, f: AlertFilterIn, *, tz: ZoneInfo, page: int, size: int
) -> tuple[list[AlertOut], int]:
    rows, total = repo.list_page(session, principal, to_filter(f, tz), page=page, size=size)
    return _out(rows, session), total


EXPORT_LIMIT: Final = 10_000  # an export holds at most this many alerts (a file bound)


def export_alerts(
    session: Session, principal: Principal, f: AlertFilterIn, *, tz: ZoneInfo
) -> list[AlertOut]:
    """Every alert of the filters in scope (up to ``EXPORT_LIMIT``), in the list's order."""
    rows, _total = repo.list_page(session, principal, to_filter(f, tz), page=1, size=EXPORT_LIMIT)
    return _out(rows, session)


MAP_ALERTS_LIMIT: Final = 20000  # the map's alert layer draws at most this many


def map_points(session: Session, principal: Principal, crs: str) -> dict[str, Any]:
    """The map's alert layer: open alerts in scope at their site (or device), in ``crs``."""
    rows = []
    for aid, kind, severity, state, lat, lon, site_id in repo.map_rows(
        session, principal, limit=MAP_ALERTS_LIMIT
    ):
        mlat, mlon = to_map_datum(lat, lon, crs)
        rows.append(
            [
                aid,
                round(mlat, 6),
                round(mlon, 6),
                kind,
                severity,
                str(getattr(state, "value", state)),
                site_id,
            ]
        )
    fields = ["id", "lat", "lon", "kind", "severity", "state", "site_id"]
    return {"crs": crs, "fields": fields, "rows": rows}


def _limit_of(profile: Profile, context: EvalContext, now: datetime) -> float | None:
    try:
        return profile.limit_for(context, now)
    except ContextError:
        return None


def site_limits(
    session: Session,
    principal: Principal,
    site_id: int,
    metrics: Iterable[str],
    *,
    tz: ZoneInfo,
    now: datetime,
    policy: AlertPolicy = DEFAULT_ALERT_POLICY,
) -> dict[str, dict[str, Any]]:
    """Per metric, the limit a site's readings are judged against now: the lowest limit of
    the absolute rules in force for the site (its area class and stage), else of the
    policy's default profiles. A difference rule's limit is on the excess over the
    reference, not on the readings, so it draws no line. ``{metric: {limit, profile,
    window_minutes}}``; metrics without such a rule are absent."""
    site = sites.get_site(session, principal, site_id)
    context = site_context(site, tz)
    in_force = [r.profile for r in active_rules(session, policy)]
    defaults = [get_profile(p) for p in policy.default_profiles]
    out: dict[str, dict[str, Any]] = {}
    for metric in metrics:
        for profiles in (in_force, defaults):
            found = [
                (limit, p)
                for p in profiles
                if p.metric == metric and p.kind == "absolute"
                for limit in [_limit_of(p, context, now)]
                if limit is not None
            ]
            if found:
                limit, profile = min(found, key=lambda lp: lp[0])
                out[metric] = {
                    "limit": limit,
                    "profile": profile.id,
                    "window_minutes": profile.window_minutes,
                }
                break
    return out


def alert_detail(session: Session, principal: Principal, alert_id: int) -> AlertDetail:
    alert = repo.visible(session, principal, alert_id)
    if alert is None:
        raise NotFound("alerts.error.alert_not_found", alert_id=alert_id)
    detail: AlertDetail = _out([alert], session, detail=True)[0]
    return detail


def site_alerts(
    session: Session, principal: Principal, site_id: int, *, limit: int = 20
) -> tuple[Site, list[AlertOut]]:
    site = sites.get_site(session, principal, site_id)  # 404 outside scope
    rows, _ = repo.list_page(
        session, principal, repo.AlertFilter(site_id=site.id), page=1, size=limit
    )
    return site, _out(rows, session)


def _setting_out(row: AlertProfileSetting) -> ProfileSettingOut:
    try:
        effective = effective_profile(row.profile_id, row.tuning, row.version).describe()
    except Exception as exc:  # a stored setting a newer code version refuses: still listed
        effective = {"error": str(exc)}
    return ProfileSettingOut(
        id=row.id,
        profile_id=row.profile_id,
        version=row.version,
        enabled=row.enabled,
        tuning=row.tuning,
        note=row.note,
        active=row.active_key is not None,
        created_by_id=row.created_by_id,
        created_at=row.created_at,
        effective=effective,
    )


def profiles(session: Session, policy: AlertPolicy = DEFAULT_ALERT_POLICY) -> ProfilesOut:
    current = current_settings(session)
    rules = active_rules(session, policy)
    builtin = []
    for p in BUILTIN_PROFILES.values():
        item = p.describe()
        item.update(
            raise_after=p.raise_after,
            clear_after=p.clear_after,
            min_valid_count=p.min_valid_count,
            day_max_exceedances=p.day_max_exceedances,
            reference_cap=p.reference_cap,
            limit_basis=p.limit_basis,
            episode_hold_aqi_above=p.episode_hold_aqi_above,
        )
        builtin.append(item)
    return ProfilesOut(
        builtin=builtin,
        tunable=sorted(TUNABLE),
        settings=[_setting_out(r) for r in current],
        history=[_setting_out(r) for r in history(session)],
        in_force=[
            {"key": r.key, "setting_version": r.setting_version, **r.profile.describe()}
            for r in rules
        ],
        defaults_in_force=not current,
    )


def dry_run(
    session: Session, principal: Principal, body: DryRunIn, *, tz: ZoneInfo
) -> dict[str, Any]:
    """What ``body``'s profile would have raised over the period, on the visible sites."""
    if not principal.can(Perm.alert_profile):
        raise Forbidden("alerts.error.role_may_not_dry_run_alert")
    profile = effective_profile(body.profile_id, body.tuning, None)
    only = None if body.site_id is None else sites.get_site(session, principal, body.site_id).id
    site_ids = sources.visible_site_ids(session, principal, only)
    result = replay.dry_run(
        session, profile, start=body.start, end=body.end, tz=tz, site_ids=site_ids
    )
    result["tuning"] = body.tuning
    return result


def quality_counts(
    session: Session, principal: Principal, *, start: datetime, end: datetime
) -> QualityOut:
    def group(by: str) -> list[QualityCount]:
        rows: dict[int | None, QualityCount] = {}
        counts: dict[int | None, dict[str, int]] = defaultdict(dict)
        for key, name, kind, n in repo.flag_counts(session, principal, start=start, end=end, by=by):
            counts[key][kind] = int(n)
            rows[key] = QualityCount(key_id=key, name=name, counts={}, total=0)
        for key, row in rows.items():
            row.counts = counts[key]
            row.total = sum(counts[key].values())
        return sorted(rows.values(), key=lambda r: (-r.total, r.key_id or 0))

    return QualityOut(start=start, end=end, per_site=group("site"), per_provider=group("provider"))
