"""Queries of the offline and stale-key checks: offline periods and their watches, the
readings a backfill brought, metrics lagging their device. Never commits.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import Row, exists, func, select
from sqlalchemy.orm import Session

from dustgrid.alerts.models import OfflineWatch
from dustgrid.devices.models import Device, Lifecycle, MetricState, OfflinePeriod
from dustgrid.telemetry.models import Reading


def latest_reading_source(session: Session, device_id: int) -> str | None:
    """Where the device's newest reading (by data time) came from (None: no readings)."""
    return session.scalar(
        select(Reading.source)
        .where(Reading.device_id == device_id)
        .order_by(Reading.data_time.desc())
        .limit(1)
    )


def minutes_with_readings(
    session: Session, device_id: int, kinds: Collection[str], start: datetime, end: datetime
) -> int:
    """How many distinct data times strictly inside ``(start, end)`` hold a reading of
    ``kinds``."""
    got = session.scalar(
        select(func.count(func.distinct(Reading.data_time))).where(
            Reading.device_id == device_id,
            Reading.kind.in_(kinds),
            Reading.data_time > start,
            Reading.data_time < end,
        )
    )
    return int(got or 0)


def unwatched_periods(session: Session, kinds: list[str]) -> list[Row[OfflinePeriod, Device]]:
    """Open offline periods of active devices of ``kinds`` that have no watch yet."""
    has_watch = exists().where(OfflineWatch.period_id == OfflinePeriod.id)
    return list(
        session.execute(
            select(OfflinePeriod, Device)
            .join(Device, Device.id == OfflinePeriod.device_id)
            .where(
                OfflinePeriod.ended_at.is_(None),
                ~has_watch,
                Device.kind.in_(kinds),
                Device.lifecycle == Lifecycle.active,
            )
        ).all()
    )


def watches_in(session: Session, state: str) -> list[Row[OfflineWatch, OfflinePeriod, Device]]:
    """Watches in ``state`` with their offline period and device, oldest watch first."""
    return list(
        session.execute(
            select(OfflineWatch, OfflinePeriod, Device)
            .join(OfflinePeriod, OfflinePeriod.id == OfflineWatch.period_id)
            .join(Device, Device.id == OfflineWatch.device_id)
            .where(OfflineWatch.state == state)
            .order_by(OfflineWatch.id)
        ).all()
    )


def latest_period(session: Session, device_id: int) -> OfflinePeriod | None:
    """The device's most recently started offline period."""
    return session.scalar(
        select(OfflinePeriod)
        .where(OfflinePeriod.device_id == device_id)
        .order_by(OfflinePeriod.started_at.desc())
        .limit(1)
    )


def watched_metrics(
    session: Session, kinds: list[str], metrics: list[str]
) -> list[Row[int, str, datetime, Device]]:
    """(device id, metric, metric last seen, device) of the ``metrics`` of active devices
    of ``kinds`` that have been seen."""
    stmt = (
        select(MetricState.device_id, MetricState.metric, MetricState.last_seen_at, Device)
        .join(Device, Device.id == MetricState.device_id)
        .where(
            Device.lifecycle == Lifecycle.active,
            Device.kind.in_(kinds),
            MetricState.metric.in_(metrics),
            Device.last_seen_at.is_not(None),
        )
    )
    return list(session.execute(stmt).all())
