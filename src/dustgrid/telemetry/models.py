"""Raw readings (stored once per device, metric, kind and data time) and roll-ups.

Why the ``reading`` table looks the way it does (the write path must take ≥ 100,000 rows/s):

* the primary key leads with ``(device_id, data_time)``: roll-ups, "latest values" and a
  device's history all read one device over a time range, which is then one contiguous
  index range; per-metric reads filter inside that range. It is the only index - a second
  one cost about half of the insert throughput in measurements (see ``telemetry/store.py``);
* there is no foreign key to ``device``: PostgreSQL checks a foreign key with one trigger
  query per inserted row, which cut bulk inserts to about a third. Every writer resolves
  the device first (key, MN, password), so the id is known to exist; devices are retired
  (``lifecycle = removed``), never deleted, so nothing dangles.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, Index, Integer, PrimaryKeyConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from dustgrid.models import Base, UTCDateTime, utcnow


class Reading(Base):
    """One value of one metric at one data time. Invalid flags are stored but not used.

    ``kind``: ``rtd`` (real-time, CN 2011), ``avg``/``min``/``max``/``cou`` (minute data,
    CN 2051), ``h…``/``d…`` (hour and day statistics, CN 2061/2031, e.g. ``havg``).
    """

    __tablename__ = "reading"
    __table_args__ = (PrimaryKeyConstraint("device_id", "data_time", "metric", "kind"),)

    device_id: Mapped[int] = mapped_column(Integer, primary_key=True)  # no FK: see module doc
    metric: Mapped[str] = mapped_column(String(24), primary_key=True)
    kind: Mapped[str] = mapped_column(String(4), primary_key=True)  # rtd avg min max cou h* d*
    data_time: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    flag: Mapped[str] = mapped_column(String(2), default="N")
    valid: Mapped[bool] = mapped_column(Boolean, default=True)
    source: Mapped[str] = mapped_column(String(8), default="hj212")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Rollup(Base):
    """15-minute, hourly and daily aggregates per device.

    ``site_id`` is the device's site when the device is a dust monitor (None otherwise):
    site series are the mean over the site's dust monitors, queried through
    ``ix_rollup_site``. Windows are aligned in the city's local time; ``period_start`` is
    the UTC instant the local window starts. The key leads with ``(device_id, period,
    period_start)``: hours and days are recombined from a device's 15-minute rows over a
    time range. Derived data, rewritten on every refresh: no foreign key (as ``reading``).
    """

    __tablename__ = "rollup"
    __table_args__ = (
        PrimaryKeyConstraint("device_id", "period", "period_start", "metric"),
        Index("ix_rollup_site", "site_id", "metric", "period", "period_start"),
    )

    device_id: Mapped[int] = mapped_column(Integer, primary_key=True)
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


class RollupDirty(Base):
    """A device's 15-minute window that got new readings and needs its roll-ups redone.

    The write path upserts one row per (window, device) it touched, bumping ``version``;
    the refresher deletes a row only if ``version`` is still the one it computed from, so
    readings landing while it works are never forgotten. Local 15-minute windows coincide
    with UTC ones (every zone offset is a multiple of 15 minutes), so the write path needs
    no time zone; hours and days are derived in local time by the refresher.
    """

    __tablename__ = "rollup_dirty"
    __table_args__ = (PrimaryKeyConstraint("window_start", "device_id"),)

    window_start: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    device_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    window_end: Mapped[datetime] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer, default=1)
    marked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
