"""Data of an alert's chart: the triggering windows beside the reference, with flags.

For an exceedance: the evaluated windows around the alert (value, reference, limit, held),
the site's readings (mean over its monitors, per minute) and the reference stations'
readings over the same span, and the data-quality flags of the site's monitors there - so
a reader sees what the rule saw. For device alerts (offline, stale key, quality) the same
series around the start. Times are local ISO 8601 (the chart plots them as wall clock).
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from dustgrid.alerts import repository as repo
from dustgrid.alerts.engine.windows import Reading as PureReading
from dustgrid.alerts.models import Alert, AlertProfileSetting
from dustgrid.alerts.rulesets import effective_profile
from dustgrid.alerts.series import (
    monitors_by_site,
    reference_devices,
    reference_series,
    site_series,
    stations_for,
)
from dustgrid.alerts.service import get_alert
from dustgrid.errors import Invalid
from dustgrid.identity.principal import Principal

WINDOWS_BEFORE: Final = 4
WINDOWS_AFTER: Final = 4
MAX_SPAN: Final = timedelta(hours=36)
DEVICE_SPAN: Final = timedelta(hours=6)


def _per_minute(readings: list[PureReading], tz: ZoneInfo) -> list[list[Any]]:
    buckets: dict[datetime, list[float]] = defaultdict(list)
    for r in readings:
        if r.valid and r.value is not None:
            buckets[r.time.replace(second=0, microsecond=0)].append(r.value)
    return [
        [t.astimezone(tz).isoformat(), round(math.fsum(v) / len(v), 2)]
        for t, v in sorted(buckets.items())
    ]


def _span(alert: Alert, minutes: int, now: datetime) -> tuple[datetime, datetime]:
    """Some windows before the start to some after the end, never past now (an open alert's
    chart ends at now, not in windows still to come)."""
    step = timedelta(minutes=minutes)
    start = alert.started_at - WINDOWS_BEFORE * step
    end = (alert.ended_at or min(now, alert.started_at + MAX_SPAN)) + WINDOWS_AFTER * step
    return start, min(end, start + MAX_SPAN, max(now, start + step))


def alert_chart(
    session: Session, principal: Principal, alert_id: int, *, tz: ZoneInfo, now: datetime
) -> dict[str, Any]:
    alert = get_alert(session, principal, alert_id)
    metric = alert.metric or "pm10"
    minutes = 15
    if alert.kind == "exceedance":
        setting = session.get(AlertProfileSetting, alert.setting_id) if alert.setting_id else None
        try:
            tuning = setting.tuning if setting is not None else {}
            minutes = effective_profile(alert.rule_key, tuning, None).window_minutes
        except Invalid:
            minutes = 60
        start, end = _span(alert, minutes, now)
    else:
        start, end = alert.started_at - DEVICE_SPAN, min(now, alert.started_at + DEVICE_SPAN)
    devices: list[int] = []
    if alert.site_id is not None:
        devices = monitors_by_site(session, [alert.site_id]).get(alert.site_id, [])
    if (
        alert.device_id is not None
        and alert.device_id not in devices
        and alert.kind != "exceedance"
    ):
        devices = [alert.device_id]
    site_points = _per_minute(site_series(session, devices, [metric], start, end), tz)
    stations = stations_for(reference_devices(session), alert.district_id)
    ref = reference_series(session, stations, [metric], start, end) if stations else []
    windows = []
    if alert.site_id is not None and alert.kind == "exceedance":
        for w in repo.windows(session, alert.site_id, alert.rule_key, start, end):
            windows.append(
                {
                    "start": w.window_start.astimezone(tz).isoformat(),
                    "end": w.window_end.astimezone(tz).isoformat(),
                    "value": round(w.value, 2),
                    "reference": _r(w.reference),
                    "reference_used": _r(w.reference_used),
                    "limit": w.limit_value,
                    "excess": round(w.excess, 2),
                    "exceeded": w.exceeded,
                    "held": w.held,
                }
            )
    flags = repo.flags(session, principal, start=start, end=end, device_ids=devices or [-1])
    return {
        "alert_id": alert.id,
        "metric": metric,
        "window_minutes": minutes,
        "start": start.astimezone(tz).isoformat(),
        "end": end.astimezone(tz).isoformat(),
        "started_at": alert.started_at.astimezone(tz).isoformat(),
        "ended_at": alert.ended_at.astimezone(tz).isoformat() if alert.ended_at else None,
        "limit": alert.limit_value,
        "windows": windows,
        "site_points": site_points,
        "reference_points": _per_minute(ref, tz),
        "reference_stations": [mn for _, mn in stations],
        "flags": [
            {
                "kind": f.kind,
                "metric": f.metric,
                "detail": f.detail,
                "start": f.start_at.astimezone(tz).isoformat(),
                "end": max(f.end_at, f.start_at + timedelta(minutes=1)).astimezone(tz).isoformat(),
            }
            for f in flags
        ],
        "timezone": str(tz),
        "now": now.astimezone(tz).isoformat(),
        "generated_at": now.astimezone(UTC).isoformat(),
    }


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 2)
