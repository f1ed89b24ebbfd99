"""Queries of telemetry: the site series (the caller has already checked the site is in
scope) and the roll-up refresh's reads."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any, Final

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    bindparam,
    case,
    delete,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session

from dustgrid.devices.models import Device, DeviceKind, MetricState
from dustgrid.telemetry.models import Reading, Rollup, RollupDirty
from dustgrid.telemetry.policy import PERIOD_15M


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


# -- the roll-up refresh (rollups.py) -------------------------------------------------------
# System work on a connection, over every device: no scope clause. The write side of the
# roll-ups (driver-level upserts) stays in rollups.py beside the reading store.

Mark = tuple[datetime, int, int]  # a dirty window: window_start, device_id, version


def _after(mark: Mark) -> ColumnElement[bool]:
    """Dirty windows after ``mark`` in (window_start, device_id) order."""
    d = RollupDirty
    return or_(d.window_start > mark[0], and_(d.window_start == mark[0], d.device_id > mark[1]))


def dirty_marks(conn: Connection, now: datetime, after: Mark | None, limit: int) -> list[Mark]:
    """The next ``limit`` dirty windows starting at or before ``now`` after ``after``, in
    (window_start, device_id) order."""
    d = RollupDirty
    stmt = select(d.window_start, d.device_id, d.version).where(d.window_start <= now)
    if after is not None:
        stmt = stmt.where(_after(after))
    stmt = stmt.order_by(d.window_start, d.device_id).limit(limit)
    return [(ws, dev, v) for ws, dev, v in conn.execute(stmt)]


def device_sites(conn: Connection, device_ids: Iterable[int]) -> dict[int, int | None]:
    """Device -> site, for dust monitors only (site series average the dust monitors)."""
    stmt = select(Device.id, Device.site_id, Device.kind).where(
        Device.id.in_(sorted(set(device_ids)))
    )
    return {
        dev: (site if kind == DeviceKind.dust_monitor else None)
        for dev, site, kind in conn.execute(stmt)
    }


def quarter_aggregates(
    conn: Connection,
    *,
    now: datetime,
    lo: Mark | None,
    hi: Mark,
    source_kinds: Sequence[str],
    energy_metrics: Collection[str],
) -> list[Any]:
    """Per dirty window in (lo, hi] (starting at or before ``now``), metric and reading kind
    of ``source_kinds``: window_start, window_end, device_id, metric, kind, n (readings),
    n_valid, total, lo, hi (of the valid values) and energy (sum of 10^(v/10) of the valid
    values of ``energy_metrics``)."""
    d, r = RollupDirty, Reading
    ok = and_(r.valid.is_(True), r.value.is_not(None))
    good = case((ok, r.value))
    energy = case(
        (
            and_(ok, r.metric.in_(sorted(energy_metrics))),
            func.power(10.0, r.value / 10.0),
        )
    )
    bounds = [d.window_start <= now]
    if lo is not None:
        bounds.append(_after(lo))
    bounds.append(or_(d.window_start < hi[0], and_(d.window_start == hi[0], d.device_id <= hi[1])))
    in_window = and_(
        r.device_id == d.device_id,
        r.data_time >= d.window_start,
        r.data_time < d.window_end,
        r.kind.in_(source_kinds),
    )
    aggregates = (
        func.count().label("n"),
        func.count(good).label("n_valid"),
        func.sum(good).label("total"),
        func.min(good).label("lo"),
        func.max(good).label("hi"),
        func.sum(energy).label("energy"),
    )
    stmt: Any
    if conn.dialect.name == "postgresql":
        # LATERAL: one primary-key range scan per dirty window, whatever the planner's
        # statistics say (a fresh or huge table otherwise invites a full scan).
        agg = (
            select(r.metric, r.kind, *aggregates)
            .where(in_window)
            .group_by(r.metric, r.kind)
            .lateral("agg")
        )
        stmt = (
            select(d.window_start, d.window_end, d.device_id, *agg.c)
            .select_from(d)
            .join(agg, true())
            .where(*bounds)
        )
    else:  # SQLite walks the primary key of reading for each window by itself
        stmt = (
            select(d.window_start, d.window_end, d.device_id, r.metric, r.kind, *aggregates)
            .select_from(d)
            .join(r, in_window)
            .where(*bounds)
            .group_by(d.window_start, d.window_end, d.device_id, r.metric, r.kind)
        )
    return list(conn.execute(stmt))


def quarter_totals(
    conn: Connection,
    *,
    start: datetime,
    end: datetime,
    device_ids: Sequence[int],
    energy_metrics: Collection[str],
) -> list[Any]:
    """Per device and metric, the 15-minute roll-ups of [start, end) combined: device_id,
    metric, count_valid, count_total, min, max, the sum of mean × count_valid (other metrics)
    and of 10^(mean/10) × count_valid (``energy_metrics``)."""
    q = Rollup
    is_energy = q.metric.in_(sorted(energy_metrics))
    linear = func.sum(case((~is_energy, q.mean * q.count_valid)))
    energy = func.sum(case((is_energy, func.power(10.0, q.mean / 10.0) * q.count_valid)))
    stmt = (
        select(
            q.device_id,
            q.metric,
            func.sum(q.count_valid),
            func.sum(q.count_total),
            func.min(q.min),
            func.max(q.max),
            linear,
            energy,
        )  # fmt: skip
        .where(
            q.period == PERIOD_15M,
            q.device_id.in_(list(device_ids)),
            q.period_start >= start,
            q.period_start < end,
        )
        .group_by(q.device_id, q.metric)
    )
    return list(conn.execute(stmt))


_UNMARK: Final = delete(RollupDirty.__table__).where(  # type: ignore[arg-type]
    RollupDirty.window_start == bindparam("b_ws", type_=RollupDirty.window_start.type),
    RollupDirty.device_id == bindparam("b_dev"),
    RollupDirty.version == bindparam("b_version"),
)


def unmark(conn: Connection, marks: Sequence[Mark]) -> None:
    """Delete each dirty mark only if its version is still the one read (readings that
    landed meanwhile bumped it and keep their mark), in (device, window) order."""
    params = [
        {"b_ws": ws, "b_dev": dev, "b_version": v}
        for ws, dev, v in sorted(marks, key=lambda m: (m[1], m[0]))
    ]
    conn.execute(_UNMARK, params)
