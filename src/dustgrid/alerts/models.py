"""Alert tables: the city's rule settings, alerts, evaluated windows, offline watches, flags.

* ``alert_profile_setting``: a city's chosen standards profile and its tuned numbers. Every
  save is a new row with the next ``version``; ``active_key`` (the profile id on the current
  version, NULL on older ones) is unique, so exactly one version of a profile is in force
  and every old alert names the version it was judged by.
* ``alert``: one alert from raise to clear. ``open_key`` is set while the alert is not
  cleared and is unique: the database itself keeps one open alert per site × rule.
* ``alert_window`` and ``alert_window_state``: evaluated windows (with the raise/clear
  counters after each one) and per site × rule the evaluation watermark, so a restart
  resumes where it stopped and late data re-evaluates from the window it lands in. Derived
  data without foreign keys, like the roll-ups.
* ``offline_watch``: an offline period waiting for the device's history upload (backfill)
  before it becomes an alert.
* ``quality_flag``: data-quality findings per device (counted per site and provider).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from dustgrid.models import Base, TimestampMixin, UTCDateTime, utcnow


class AlertState(enum.StrEnum):
    active = "active"  # 告警中
    acknowledged = "acknowledged"  # 已确认 (still going on, someone is on it)
    cleared = "cleared"  # 已解除


class AlertKind(enum.StrEnum):
    exceedance = "exceedance"
    offline = "offline"
    stale_key = "stale_key"
    quality = "quality"  # stored as "quality:<flag kind>"


class AlertProfileSetting(Base):
    __tablename__ = "alert_profile_setting"
    __table_args__ = (UniqueConstraint("profile_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    profile_id: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    tuning: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    note: Mapped[str] = mapped_column(Text, default="")
    active_key: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Alert(Base, TimestampMixin):
    __tablename__ = "alert"
    __table_args__ = (
        Index("ix_alert_state_started", "state", "started_at"),
        Index("ix_alert_site_rule", "site_id", "rule_key", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))  # exceedance|offline|stale_key|quality:<k>
    rule_key: Mapped[str] = mapped_column(String(80))
    rule_version: Mapped[str] = mapped_column(String(80), default="")
    policy_version: Mapped[str] = mapped_column(String(16), default="")
    setting_id: Mapped[int | None] = mapped_column(
        ForeignKey("alert_profile_setting.id", ondelete="SET NULL"), nullable=True
    )
    site_id: Mapped[int | None] = mapped_column(
        ForeignKey("site.id", ondelete="RESTRICT"), nullable=True, index=True
    )
    district_id: Mapped[int | None] = mapped_column(
        ForeignKey("district.id", ondelete="RESTRICT"), nullable=True, index=True
    )
    device_id: Mapped[int | None] = mapped_column(
        ForeignKey("device.id", ondelete="RESTRICT"), nullable=True, index=True
    )
    metric: Mapped[str | None] = mapped_column(String(24), nullable=True)
    severity: Mapped[str] = mapped_column(String(8), default="low")
    state: Mapped[AlertState] = mapped_column(
        Enum(AlertState, native_enum=False, length=16), default=AlertState.active
    )
    held: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())  # data time
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)  # data
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)  # wall clock
    acknowledged_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True
    )
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ack_note: Mapped[str] = mapped_column(Text, default="")
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    clear_reason: Mapped[str] = mapped_column(String(32), default="")
    peak_value: Mapped[float | None] = mapped_column(Float, nullable=True)
    peak_excess: Mapped[float | None] = mapped_column(Float, nullable=True)
    limit_value: Mapped[float | None] = mapped_column(Float, nullable=True)
    windows_exceeded: Mapped[int] = mapped_column(Integer, default=0)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("case_record.id", ondelete="SET NULL"), nullable=True, index=True
    )
    case_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    open_key: Mapped[str | None] = mapped_column(String(128), unique=True, nullable=True)


class AlertWindow(Base):
    """One evaluated window of a site × rule, with the scan counters after it (``scan``)."""

    __tablename__ = "alert_window"
    __table_args__ = (PrimaryKeyConstraint("site_id", "rule_key", "window_start"),)

    site_id: Mapped[int] = mapped_column(Integer, primary_key=True)  # no FK: derived data
    rule_key: Mapped[str] = mapped_column(String(80), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    window_end: Mapped[datetime] = mapped_column(UTCDateTime())
    metric: Mapped[str] = mapped_column(String(24))
    value: Mapped[float] = mapped_column(Float)
    reference: Mapped[float | None] = mapped_column(Float, nullable=True)
    reference_used: Mapped[float | None] = mapped_column(Float, nullable=True)
    limit_value: Mapped[float] = mapped_column(Float)
    excess: Mapped[float] = mapped_column(Float)
    exceeded: Mapped[bool] = mapped_column(Boolean)
    held: Mapped[bool] = mapped_column(Boolean, default=False)
    count: Mapped[int] = mapped_column(Integer)
    rule_version: Mapped[str] = mapped_column(String(80), default="")
    scan: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class AlertWindowState(Base):
    """Per site × rule (``scope_key`` ``site:<id>``): how far evaluation got.

    ``watermark`` is the end of the last window judged; ``seen`` the hourly reading counts
    (from the roll-ups) the judged windows were computed from - a count that changed later
    means late or backfilled data; ``base`` the scan counters before the oldest window
    still stored; ``last`` the newest stored window's start and counters.
    """

    __tablename__ = "alert_window_state"
    __table_args__ = (PrimaryKeyConstraint("scope_key", "rule_key"),)

    scope_key: Mapped[str] = mapped_column(String(32), primary_key=True)
    rule_key: Mapped[str] = mapped_column(String(80), primary_key=True)
    site_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    setting_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    watermark: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    seen: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    base: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    last: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    late_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class OfflineWatch(Base):
    """An offline period on its way to an alert: backfill first, alert if that fails."""

    __tablename__ = "offline_watch"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("device.id", ondelete="CASCADE"), index=True)
    period_id: Mapped[int] = mapped_column(
        ForeignKey("offline_period.id", ondelete="CASCADE"), unique=True
    )
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime())
    deadline: Mapped[datetime] = mapped_column(UTCDateTime())
    backfill: Mapped[str] = mapped_column(String(16))  # pending not_applicable filled failed
    coverage: Mapped[float | None] = mapped_column(Float, nullable=True)
    state: Mapped[str] = mapped_column(String(16), default="waiting")  # waiting resolved alerted
    alert_id: Mapped[int | None] = mapped_column(
        ForeignKey("alert.id", ondelete="SET NULL"), nullable=True
    )
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class QualityFlagRow(Base, TimestampMixin):
    """A data-quality finding (``alerts.engine.quality``) on one device over ``[start_at, end_at]``.

    ``site_id`` and ``provider_id`` are copied at detection time, so a count per site or
    provider stays what it was when the device later moves.
    """

    __tablename__ = "quality_flag"
    __table_args__ = (
        Index("ix_quality_flag_device_kind", "device_id", "kind", "end_at"),
        Index("ix_quality_flag_site_start", "site_id", "start_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("device.id", ondelete="CASCADE"))
    site_id: Mapped[int | None] = mapped_column(
        ForeignKey("site.id", ondelete="SET NULL"), nullable=True
    )
    provider_id: Mapped[int | None] = mapped_column(
        ForeignKey("enterprise.id", ondelete="SET NULL"), nullable=True, index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    metric: Mapped[str | None] = mapped_column(String(24), nullable=True)
    start_at: Mapped[datetime] = mapped_column(UTCDateTime())
    end_at: Mapped[datetime] = mapped_column(UTCDateTime())
    detail: Mapped[str] = mapped_column(Text, default="")
    detector_version: Mapped[str] = mapped_column(String(16), default="")
