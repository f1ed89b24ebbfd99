"""JSON routes of site telemetry: ``GET /api/v1/sites/{site_id}/series``."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import Query

from dustgrid.bounds import Id, Moment
from dustgrid.errors import error_responses
from dustgrid.identity.deps import AppSettings, CurrentPrincipal, DbSession
from dustgrid.models import utcnow
from dustgrid.routing import Router
from dustgrid.telemetry import service as svc
from dustgrid.telemetry.policy import policy_from_settings

router = Router(prefix="/api/v1/sites", tags=["telemetry"], responses=error_responses())


@router.get(
    "/{site_id}/series",
    summary="Roll-up series of a site (mean over its dust monitors), 15m / 1h / 1d",
)
def site_series(
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    site_id: Id,
    metric: Annotated[
        list[str] | None,
        Query(description="pm10, pm25, tsp, noise… (repeat or comma-separate); default four"),
    ] = None,
    period: Literal["15m", "1h", "1d"] = "15m",
    start: Annotated[
        Moment | None, Query(description="ISO 8601; without offset = city-local")
    ] = None,
    end: Annotated[Moment | None, Query(description="ISO 8601; default now")] = None,
) -> dict[str, Any]:
    return svc.site_series(
        session,
        principal,
        site_id,
        metrics=svc.parse_metrics(metric),
        period=period,
        start=start,
        end=end,
        now=utcnow(),
        tz=ZoneInfo(settings.timezone),
        policy=policy_from_settings(settings),
    )
