"""The site page's monitoring panel: an HTMX fragment with the chart and the devices."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from dustgrid.alerts import presenters as alert_views
from dustgrid.auth.deps import AppSettings, CurrentPrincipal, DbSession
from dustgrid.i18n import translate
from dustgrid.models import utcnow
from dustgrid.routing import Router
from dustgrid.telemetry import service as svc
from dustgrid.telemetry.metrics import METRICS
from dustgrid.telemetry.policy import PERIOD_15M, PERIODS
from dustgrid.web.templating import render, request_locale

router = Router(include_in_schema=False)


@router.get("/sites/{site_id}/telemetry", response_class=HTMLResponse)
def site_telemetry(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    site_id: int,
) -> Response:
    tz = ZoneInfo(settings.timezone)
    panel = svc.site_panel(session, principal, site_id, tz=tz)
    locale = request_locale(request)
    zh = locale == "zh-CN"
    metrics = [
        {
            "key": m,
            "name": METRICS[m].name_zh if zh else METRICS[m].name_en,
            "unit": METRICS[m].unit,
        }
        for m in svc.CHART_METRICS
    ]
    labels = {
        name: translate(key, locale)
        for name, key in (
            ("noData", "telemetry.no_data"),
            ("failed", "telemetry.load_failed"),
            ("validRate", "telemetry.valid_rate"),
            ("mean", "telemetry.mean"),
            ("min", "telemetry.min"),
            ("max", "telemetry.max"),
        )
    }
    labels["limit"] = translate("chart.limit", locale)
    limits = alert_views.site_limits(
        session, principal, site_id, svc.CHART_METRICS, tz=tz, now=utcnow()
    )
    chart_config = {
        "seriesUrl": f"/api/v1/sites/{panel['site'].id}/series",
        "limits": {m: v["limit"] for m, v in limits.items()},
        "period": PERIOD_15M,
        "metrics": metrics,
        "labels": labels,
    }
    return render(
        request,
        "telemetry/site_panel.html",
        site=panel["site"],
        devices=panel["devices"],
        metrics=metrics,
        periods=PERIODS,
        period=PERIOD_15M,
        chart_config=chart_config,
    )
