"""Site telemetry for pages and the API: roll-up series and the site's devices. Never commits.

Reads are scoped through the site: a site outside the caller's scope answers 404, like
the ledger (``sites.service.get_site``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Final

from sqlalchemy.orm import Session

from dustgrid.devices import repository as device_repo
from dustgrid.devices.models import DeviceKind
from dustgrid.errors import Invalid
from dustgrid.identity.principal import Principal
from dustgrid.sites import service as sites
from dustgrid.telemetry import repository as repo
from dustgrid.telemetry.metrics import METRICS
from dustgrid.telemetry.policy import DEFAULT_ROLLUP_POLICY, PERIOD_LENGTH, PERIODS, RollupPolicy
from dustgrid.telemetry.rollups import period_bounds

#: What the site chart shows (domain: dust and noise of construction sites).
CHART_METRICS: Final = ("pm10", "pm25", "tsp", "noise")
#: Span shown when the caller gives no start: a day of 15-min, a week of hours, a month.
DEFAULT_SPAN: Final = {"15m": timedelta(days=1), "1h": timedelta(days=7), "1d": timedelta(days=30)}
MAX_POINTS: Final = 2000  # per series; longer ranges must use a coarser period


def _aware(t: datetime, tz: tzinfo) -> datetime:
    return (t if t.tzinfo is not None else t.replace(tzinfo=tz)).astimezone(UTC)


def series_range(
    period: str, start: datetime | None, end: datetime | None, *, now: datetime, tz: tzinfo
) -> tuple[datetime, datetime]:
    """[start, end) in UTC, aligned to whole local windows; times without offset are local."""
    if period not in PERIODS:
        raise Invalid("telemetry.error.period_must_one", period=period, periods=", ".join(PERIODS))
    stop = _aware(end, tz) if end is not None else now
    begin = _aware(start, tz) if start is not None else stop - DEFAULT_SPAN[period]
    if begin >= stop:
        raise Invalid("telemetry.error.start_must_before_end")
    begin = period_bounds(period, begin, tz)[0]
    if stop != period_bounds(period, stop, tz)[0]:
        stop = period_bounds(period, stop, tz)[1]  # include the window holding ``end``
    if (stop - begin) / PERIOD_LENGTH[period] > MAX_POINTS:
        raise Invalid(
            f"时间范围过长（最多 {MAX_POINTS} 个点）/ range too long for {period}: at most "
            f"{MAX_POINTS} points, use a coarser period"
        )
    return begin, stop


def parse_metrics(raw: Sequence[str] | None) -> list[str]:
    """``metric=pm10&metric=noise`` or ``metric=pm10,noise``; empty = the chart's four."""
    names = [m.strip() for part in (raw or []) for m in part.split(",") if m.strip()]
    unknown = [m for m in names if m not in METRICS]
    if unknown:
        raise Invalid("telemetry.error.unknown_metrics", unknown=", ".join(unknown))
    return names or list(CHART_METRICS)


def site_series(
    session: Session,
    principal: Principal,
    site_id: int,
    *,
    metrics: Sequence[str],
    period: str,
    start: datetime | None,
    end: datetime | None,
    now: datetime,
    tz: tzinfo,
    policy: RollupPolicy = DEFAULT_ROLLUP_POLICY,
) -> dict[str, Any]:
    """Roll-up series of a site: per window the mean over its dust monitors.

    ``valid_rate`` of a window is the site's valid values over what its reporting monitors
    owed; ``devices`` how many monitors had a valid mean. Times are local ISO 8601.
    """
    site = sites.get_site(session, principal, site_id)
    begin, stop = series_range(period, start, end, now=now, tz=tz)
    rows = repo.site_rollups(
        session, site_id=site.id, metrics=metrics, period=period, start=begin, end=stop
    )
    points: dict[str, list[dict[str, Any]]] = {m: [] for m in metrics}
    for r in rows:
        points[r.metric].append(
            {
                "t": r.period_start.astimezone(tz).isoformat(),
                "mean": None if r.mean is None else round(float(r.mean), 3),
                "min": r.min,
                "max": r.max,
                "count_valid": int(r.count_valid or 0),
                "valid_rate": policy.valid_rate(int(r.count_valid or 0), int(r.expected or 0)),
                "devices": int(r.devices or 0),
            }
        )
    return {
        "site_id": site.id,
        "period": period,
        "start": begin.astimezone(tz).isoformat(),
        "end": stop.astimezone(tz).isoformat(),
        "now": now.astimezone(tz).isoformat(),  # charts end here: no time after now
        "timezone": str(tz),
        "series": [
            {
                "metric": m,
                "name_zh": METRICS[m].name_zh,
                "name_en": METRICS[m].name_en,
                "unit": METRICS[m].unit,
                "points": points[m],
            }
            for m in metrics
        ],
    }


def site_panel(
    session: Session, principal: Principal, site_id: int, *, tz: tzinfo
) -> dict[str, Any]:
    """The site's visible dust monitors (the chart's sources): online state, latest values.

    Every device kind is listed by the devices section of the site page; this panel shows
    the monitors with their readings.
    """
    site = sites.get_site(session, principal, site_id)
    devices = [
        d
        for d in device_repo.site_devices(session, principal, site.id)
        if d.kind == DeviceKind.dust_monitor
    ]
    latest = repo.latest_values(session, [d.id for d in devices])
    rows = []
    for d in devices:
        values = latest.get(d.id, {})
        rows.append(
            {
                "id": d.id,
                "mn": d.mn,
                "name": d.name,
                "kind": d.kind,
                "lifecycle": d.lifecycle,
                "online": bool(d.online),
                "last_seen": d.last_seen_at.astimezone(tz) if d.last_seen_at else None,
                "values": {
                    m: (values[m][1], values[m][0].astimezone(tz))
                    for m in CHART_METRICS
                    if m in values
                },
            }
        )
    return {"site": site, "devices": rows}
