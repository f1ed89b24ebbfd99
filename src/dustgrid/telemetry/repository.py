"""Read queries of telemetry. The caller has already checked the site is in scope."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dustgrid.devices.models import Device, DeviceKind, MetricState
from dustgrid.telemetry.models import Rollup


def site_rollups(
    session: Session,
    *,
    site_id: int,
    metrics: Sequence[str],
    period: str,
    start: datetime,
    end: datetime,
) -> list[Any]:
    """Per metric and window: the mean over the site's dust monitors (``ix_rollup_site``).

    Rows: metric, period_start, mean, min, max, count_valid, count_total, expected, devices.
    """
    q = Rollup
    stmt = (
        select(
            q.metric,
            q.period_start,
            func.avg(q.mean).label("mean"),
            func.min(q.min).label("min"),
            func.max(q.max).label("max"),
            func.sum(q.count_valid).label("count_valid"),
            func.sum(q.count_total).label("count_total"),
            func.sum(q.expected).label("expected"),
            func.count(q.mean).label("devices"),
        )
        .where(
            q.site_id == site_id,
            q.metric.in_(list(metrics)),
            q.period == period,
            q.period_start >= start,
            q.period_start < end,
        )
        .group_by(q.metric, q.period_start)
        .order_by(q.metric, q.period_start)
    )
    return list(session.execute(stmt))


def latest_values(session: Session, device_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """device -> metric -> (data time, value): the last valid real-time/minute value, as
    the online state keeps it (``MetricState``, updated on every ingest)."""
    if not device_ids:
        return {}
    out: dict[int, dict[str, Any]] = {}
    stmt = select(
        MetricState.device_id,
        MetricState.metric,
        MetricState.last_data_time,
        MetricState.last_value,
    ).where(MetricState.device_id.in_(list(device_ids)))
    for dev, metric, at, value in session.execute(stmt):
        out.setdefault(dev, {})[metric] = (at, value)
    return out


def dust_monitor_ids(session: Session, site_id: int) -> list[int]:
    stmt = select(Device.id).where(
        Device.site_id == site_id, Device.kind == DeviceKind.dust_monitor
    )
    return list(session.scalars(stmt))
