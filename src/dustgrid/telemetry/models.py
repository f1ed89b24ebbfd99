"""Raw readings (stored once per device, metric, kind and data time) and roll-ups."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from dustgrid.models import Base, UTCDateTime, utcnow


class Reading(Base):
    """One value of one metric at one data time. Invalid flags are stored but not used."""

    __tablename__ = "reading"
    __table_args__ = (Index("ix_reading_metric_time", "device_id", "metric", "data_time"),)

    device_id: Mapped[int] = mapped_column(
        ForeignKey("device.id", ondelete="CASCADE"), primary_key=True
    )
    metric: Mapped[str] = mapped_column(String(24), primary_key=True)
    kind: Mapped[str] = mapped_column(String(4), primary_key=True)  # rtd avg min max cou
    data_time: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    flag: Mapped[str] = mapped_column(String(2), default="N")
    valid: Mapped[bool] = mapped_column(Boolean, default=True)
    source: Mapped[str] = mapped_column(String(8), default="hj212")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Rollup(Base):
    """15-minute, hourly and daily aggregates per device (site_id = 0 rows: none)."""

    __tablename__ = "rollup"
    __table_args__ = (Index("ix_rollup_site", "site_id", "metric", "period", "period_start"),)

    device_id: Mapped[int] = mapped_column(
        ForeignKey("device.id", ondelete="CASCADE"), primary_key=True
    )
    metric: Mapped[str] = mapped_column(String(24), primary_key=True)
    period: Mapped[str] = mapped_column(String(4), primary_key=True)  # 15m 1h 1d
    period_start: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    site_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    mean: Mapped[float | None] = mapped_column(Float, nullable=True)
    min: Mapped[float | None] = mapped_column(Float, nullable=True)
    max: Mapped[float | None] = mapped_column(Float, nullable=True)
    count_valid: Mapped[int] = mapped_column(Integer, default=0)
    count_total: Mapped[int] = mapped_column(Integer, default=0)
    expected: Mapped[int] = mapped_column(Integer, default=0)
    valid_rate: Mapped[float | None] = mapped_column(Float, nullable=True)
