"""JSON routes of alerts (``/api/v1/alerts``): list, detail, chart, acknowledge, rule
profiles (city admin edits; each save a new version), the dry run, quality counts and the
reference stations' AQI. Reads outside scope answer 404, edits without the permission 403.
Literal paths are declared before ``/{alert_id}``.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Depends, Query

from dustgrid.alerts import chart, presenters, reference, rulesets, service
from dustgrid.alerts.schemas import (
    AckIn,
    AlertDetail,
    AlertFilterIn,
    AlertOut,
    AlertPage,
    DryRunIn,
    ProfileSettingIn,
    ProfileSettingOut,
    ProfilesOut,
    QualityOut,
)
from dustgrid.bounds import Day, Id
from dustgrid.errors import error_responses
from dustgrid.identity.deps import AppSettings, CurrentPrincipal, DbSession
from dustgrid.models import utcnow
from dustgrid.pagination import PageParams, page_params, query_filter
from dustgrid.routing import Router

router = Router(prefix="/api/v1/alerts", tags=["alerts"], responses=error_responses())
Paging = Annotated[PageParams, Depends(page_params)]


async def alert_filter(
    state: str | None = None,
    kind: str | None = None,
    site_id: str | None = None,
    district_id: str | None = None,
    severity: str | None = None,
    held: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
) -> AlertFilterIn:
    """Query-string filters; blank values (as HTML forms send them) mean "any"."""
    raw = {
        "state": state,
        "kind": kind,
        "site_id": site_id,
        "district_id": district_id,
        "severity": severity,
        "held": held,
        "date_from": date_from,
        "date_to": date_to,
    }
    return query_filter(AlertFilterIn, raw)


Filter = Annotated[AlertFilterIn, Depends(alert_filter)]


@router.get("", response_model=AlertPage, summary="List alerts (scoped, filtered)")
def list_alerts(
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    f: Filter,
    paging: Paging,
) -> AlertPage:
    items, total = presenters.list_alerts(
        session, principal, f, tz=ZoneInfo(settings.timezone), page=paging.page, size=paging.size
    )
    return AlertPage(items=items, total=total, page=paging.page, size=paging.size)


@router.get("/map", summary="Alert layer of the map: open alerts at their site")
def alert_map(
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    crs: Annotated[str | None, Query(pattern="^(wgs84|gcj02)$")] = None,
) -> dict[str, Any]:
    return presenters.map_points(session, principal, crs or settings.map_crs())


@router.get("/profiles", response_model=ProfilesOut, summary="Standards profiles and settings")
def get_profiles(session: DbSession, principal: CurrentPrincipal) -> ProfilesOut:
    return presenters.profiles(session)


@router.post(
    "/profiles",
    response_model=ProfileSettingOut,
    status_code=201,
    summary="Save a new version of a profile setting (city admin)",
)
def save_profile(
    session: DbSession, principal: CurrentPrincipal, body: ProfileSettingIn
) -> ProfileSettingOut:
    row = rulesets.save_setting(
        session,
        principal,
        profile_id=body.profile_id,
        tuning=body.tuning,
        enabled=body.enabled,
        note=body.note,
    )
    return presenters._setting_out(row)


@router.post("/profiles/dry-run", summary="What a profile would have raised (read-only)")
def dry_run(
    session: DbSession, principal: CurrentPrincipal, settings: AppSettings, body: DryRunIn
) -> dict[str, Any]:
    return presenters.dry_run(session, principal, body, tz=ZoneInfo(settings.timezone))


@router.get("/quality", response_model=QualityOut, summary="Data-quality flags per site/provider")
def quality(
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    date_from: Annotated[Day | None, Query()] = None,
    date_to: Annotated[Day | None, Query()] = None,
) -> QualityOut:
    tz = ZoneInfo(settings.timezone)
    today = utcnow().astimezone(tz).date()
    lo = date_from or today.replace(day=1)
    hi = (date_to or today) + timedelta(days=1)
    start, end = (datetime.combine(d, time(0), tzinfo=tz) for d in (lo, hi))
    return presenters.quality_counts(session, principal, start=start, end=end)


@router.get("/reference", summary="Reference stations with their daily AQI (HJ 633-2012)")
def reference_aqi(
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    days: Annotated[int, Query(ge=1, le=31)] = 7,
) -> list[dict[str, Any]]:
    return reference.station_aqi(
        session, principal, now=utcnow(), tz=ZoneInfo(settings.timezone), days=days
    )


@router.get("/{alert_id}", response_model=AlertDetail, summary="One alert with its evidence")
def get_alert(session: DbSession, principal: CurrentPrincipal, alert_id: Id) -> AlertDetail:
    return presenters.alert_detail(session, principal, alert_id)


@router.get("/{alert_id}/chart", summary="Windows, site and reference series of an alert")
def get_chart(
    session: DbSession, principal: CurrentPrincipal, settings: AppSettings, alert_id: Id
) -> dict[str, Any]:
    return chart.alert_chart(
        session, principal, alert_id, tz=ZoneInfo(settings.timezone), now=utcnow()
    )


@router.post("/{alert_id}/acknowledge", response_model=AlertOut, summary="Acknowledge an alert")
def acknowledge(
    session: DbSession, principal: CurrentPrincipal, alert_id: Id, body: AckIn
) -> AlertOut:
    service.acknowledge(session, principal, alert_id, note=body.note, now=utcnow())
    return presenters.alert_detail(session, principal, alert_id)
