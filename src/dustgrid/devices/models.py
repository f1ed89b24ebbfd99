"""Devices (dust monitors, cameras, reference stations), onboarding, online state."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from dustgrid.devices.protocol import MAX_PW_LEN
from dustgrid.devices.states import ApplicationStatus as ApplicationStatus  # re-exported
from dustgrid.devices.states import Lifecycle as Lifecycle  # re-exported
from dustgrid.models import Base, TimestampMixin, UTCDateTime, utcnow


class DeviceKind(enum.StrEnum):
    dust_monitor = "dust_monitor"  # 扬尘监测仪
    video_camera = "video_camera"  # 视频监控
    plate_camera = "plate_camera"  # 车牌识别
    fog_cannon = "fog_cannon"  # 雾炮
    reference_station = "reference_station"  # 国控/省控点


class CrcVariant(enum.StrEnum):
    hj212 = "hj212"  # the standard's Appendix A CRC
    modbus = "modbus"  # some field devices; accepted only when configured


class Device(Base, TimestampMixin):
    __tablename__ = "device"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mn: Mapped[str] = mapped_column(String(24), unique=True)
    kind: Mapped[DeviceKind] = mapped_column(Enum(DeviceKind, native_enum=False, length=24))
    site_id: Mapped[int | None] = mapped_column(
        ForeignKey("site.id", ondelete="RESTRICT"), nullable=True, index=True
    )
    district_id: Mapped[int | None] = mapped_column(
        ForeignKey("district.id", ondelete="RESTRICT"), nullable=True, index=True
    )
    provider_id: Mapped[int | None] = mapped_column(
        ForeignKey("enterprise.id", ondelete="RESTRICT"), nullable=True, index=True
    )
    application_id: Mapped[int | None] = mapped_column(
        ForeignKey("onboarding_application.id", ondelete="SET NULL"), nullable=True, index=True
    )
    name: Mapped[str] = mapped_column(String(128), default="")
    model: Mapped[str] = mapped_column(String(64), default="")
    position: Mapped[str] = mapped_column(String(128), default="")
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    password: Mapped[str] = mapped_column(String(MAX_PW_LEN), default="")  # HJ 212 PW
    particulate_unit: Mapped[str] = mapped_column(String(8), default="ug/m3")  # or mg/m3
    crc_variant: Mapped[CrcVariant] = mapped_column(
        Enum(CrcVariant, native_enum=False, length=8), default=CrcVariant.hj212
    )
    main_stream_width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    main_stream_height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    sub_stream_width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    sub_stream_height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    offline_after_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    lifecycle: Mapped[Lifecycle] = mapped_column(
        Enum(Lifecycle, native_enum=False, length=16), default=Lifecycle.applied
    )
    online: Mapped[bool] = mapped_column(Boolean, default=False)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # In service from activation to removal: the offline rate of a provider is measured
    # only over that span (a device installed mid-month is not "offline" before it).
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class DeviceApiKey(Base):
    """Per-device keys for HTTP/MQTT integrators; only a hash is stored."""

    __tablename__ = "device_api_key"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("device.id", ondelete="CASCADE"), index=True)
    prefix: Mapped[str] = mapped_column(String(12), index=True)
    key_hash: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class OnboardingApplication(Base, TimestampMixin):
    """A site's application to connect devices (003): review → test → install → online."""

    __tablename__ = "onboarding_application"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="RESTRICT"), index=True)
    provider_id: Mapped[int | None] = mapped_column(
        ForeignKey("enterprise.id", ondelete="RESTRICT"), nullable=True, index=True
    )
    status: Mapped[ApplicationStatus] = mapped_column(
        Enum(ApplicationStatus, native_enum=False, length=16), default=ApplicationStatus.submitted
    )
    pre_approved_model: Mapped[bool] = mapped_column(Boolean, default=False)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    review_note: Mapped[str] = mapped_column(Text, default="")
    test_due_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    tested_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    test_note: Mapped[str] = mapped_column(Text, default="")
    install_due_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    installed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class RequestKind(enum.StrEnum):
    move = "move"
    remove = "remove"


class RequestStatus(enum.StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"


class DeviceChangeRequest(Base, TimestampMixin):
    """Moving or removing a device needs an approved request (003)."""

    __tablename__ = "device_change_request"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("device.id", ondelete="CASCADE"), index=True)
    kind: Mapped[RequestKind] = mapped_column(Enum(RequestKind, native_enum=False, length=8))
    status: Mapped[RequestStatus] = mapped_column(
        Enum(RequestStatus, native_enum=False, length=8), default=RequestStatus.pending
    )
    reason: Mapped[str] = mapped_column(Text, default="")
    new_site_id: Mapped[int | None] = mapped_column(
        ForeignKey("site.id", ondelete="RESTRICT"), nullable=True
    )
    new_position: Mapped[str] = mapped_column(String(128), default="")
    decided_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True
    )
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    decision_note: Mapped[str] = mapped_column(Text, default="")


class QuarantinedMN(Base):
    """Frames from an unknown MN (or with a wrong password) are kept here for an admin:
    one row per MN and reason, with counts, first and last seen and the latest frame."""

    __tablename__ = "quarantined_mn"
    __table_args__ = (UniqueConstraint("mn", "reason", name="uq_quarantined_mn_mn_reason"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mn: Mapped[str] = mapped_column(String(24))
    reason: Mapped[str] = mapped_column(String(32))  # unknown_mn, bad_password, crc_variant
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    frames: Mapped[int] = mapped_column(Integer, default=1)
    last_peer: Mapped[str] = mapped_column(String(64), default="")
    last_frame: Mapped[str] = mapped_column(Text, default="")


class OfflinePeriod(Base):
    """A silence longer than the device's setting: from start to repair (provider scoring)."""

    __tablename__ = "offline_period"
    __table_args__ = (Index("ix_offline_period_open", "device_id", "ended_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("device.id", ondelete="CASCADE"), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    repair_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)


class MetricState(Base):
    """Last time each metric of a device was seen (to find stale keys)."""

    __tablename__ = "metric_state"

    device_id: Mapped[int] = mapped_column(
        ForeignKey("device.id", ondelete="CASCADE"), primary_key=True
    )
    metric: Mapped[str] = mapped_column(String(24), primary_key=True)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_data_time: Mapped[datetime] = mapped_column(UTCDateTime())
    last_value: Mapped[float | None] = mapped_column(Float, nullable=True)


class CameraStreamCheck(Base):
    """One check whether a camera's video can be viewed (003 附件6 "视频无法查看").

    Providers post the results of their stream checks (``POST /api/v1/cameras/{id}/
    stream-checks``); the demo's simulated checker posts them too. The latest fresh check
    of each camera feeds the mandatory-device check (``devices.mandatory``). A check may
    also measure the main and sub stream's resolution; the provider's monthly score takes
    the latest measured value before the month's end over the typed one (003 附件7).
    """

    __tablename__ = "camera_stream_check"
    __table_args__ = (Index("ix_camera_stream_check_device_at", "device_id", "checked_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("device.id", ondelete="CASCADE"))
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ok: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str] = mapped_column(String(255), default="")
    # the resolution measured in the stream (None: not measured by this check)
    main_stream_width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    main_stream_height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    sub_stream_width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    sub_stream_height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    checked_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True
    )
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
