"""Queries of the data-quality flags (``quality_flag``) and of the receive times they are
judged from. Imported by the ingest path too (``alerts/flagstore.py``). Never commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Row, func, select, tuple_
from sqlalchemy.orm import Session

from dustgrid.alerts.models import QualityFlagRow
from dustgrid.telemetry.models import Reading


def first_receipts(
    session: Session, device_ids: Sequence[int], start: datetime, end: datetime
) -> list[Row[int, datetime, datetime]]:
    """(device id, data time, first received at) of the devices' real-time and minute
    readings with a data time in ``[start, end)``."""
    stmt = (
        select(Reading.device_id, Reading.data_time, func.min(Reading.received_at))
        .where(
            Reading.device_id.in_(device_ids),
            Reading.data_time >= start,
            Reading.data_time < end,
            Reading.kind.in_(("rtd", "avg")),
        )
        .group_by(Reading.device_id, Reading.data_time)
    )
    return list(session.execute(stmt))


def first_receipts_of(
    session: Session, frames: Sequence[tuple[int, datetime]]
) -> list[Row[int, datetime, datetime]]:
    """(device id, data time, first received at) of the stored readings of ``frames``
    (device id, data time), any kind."""
    stmt = (
        select(Reading.device_id, Reading.data_time, func.min(Reading.received_at))
        .where(tuple_(Reading.device_id, Reading.data_time).in_(frames))
        .group_by(Reading.device_id, Reading.data_time)
    )
    return list(session.execute(stmt))


def touching_flag(
    session: Session,
    device_id: int,
    kind: str,
    metric: str | None,
    start: datetime,
    end: datetime,
    gap: timedelta,
) -> QualityFlagRow | None:
    """The device's oldest stored flag of ``kind`` × ``metric`` overlapping ``[start, end]``
    or less than ``gap`` away from it."""
    f = QualityFlagRow
    stmt = select(f).where(
        f.device_id == device_id,
        f.kind == kind,
        f.metric.is_(None) if metric is None else f.metric == metric,
        f.end_at >= start - gap,
        f.start_at <= end + gap,
    )
    return session.scalar(stmt.order_by(f.start_at).limit(1))


def site_flags_since(
    session: Session, site_id: int, kind: str, since: datetime
) -> list[QualityFlagRow]:
    """The site's flags of ``kind`` that end at or after ``since``, oldest first."""
    return list(
        session.scalars(
            select(QualityFlagRow)
            .where(
                QualityFlagRow.site_id == site_id,
                QualityFlagRow.kind == kind,
                QualityFlagRow.end_at >= since,
            )
            .order_by(QualityFlagRow.start_at)
        )
    )


def newest_flag_end(session: Session, site_id: int | None, kind: str) -> datetime | None:
    """When the site's newest flag of ``kind`` ends (None: it has none)."""
    return session.scalar(
        select(func.max(QualityFlagRow.end_at)).where(
            QualityFlagRow.site_id == site_id, QualityFlagRow.kind == kind
        )
    )
