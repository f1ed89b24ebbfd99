"""Tables of the intake channels: 12319 complaints, video-AI events, Open311 client keys.

A complaint is kept apart from the case it leads to: one case may gather several
complaints (duplicates merged), a complaint may lead to none (not a site's problem), and
the hotline's three rates (domain.md §8) are about complaints, not cases.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    Boolean,
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

from dustgrid.models import Base, TimestampMixin, UTCDateTime, utcnow


class Channel(enum.StrEnum):
    """How a complaint reached the platform."""

    phone_12319 = "phone_12319"  # 12319 热线电话
    open311 = "open311"  # a civic-reporting client (GeoReport v2)
    web = "web"  # 网站 / 公众号
    other = "other"  # letters, transfers from other hotlines (12345)


class ComplaintStatus(enum.StrEnum):
    received = "received"  # 已登记, not yet linked to a case
    linked = "linked"  # 已立案: opened a new case
    merged = "merged"  # 已并案: joined an existing case
    dismissed = "dismissed"  # 不予受理: not a construction-site problem


class Complaint(Base, TimestampMixin):
    """A 12319 (or other public) complaint and the answer given to the caller."""

    __tablename__ = "hotline_complaint"
    __table_args__ = (
        Index("ix_hotline_complaint_received_at", "received_at"),
        Index("ix_hotline_complaint_status_received", "status", "received_at"),
        Index("ix_hotline_complaint_district_received", "district_id", "received_at"),
        Index("ix_hotline_complaint_channel_received", "channel", "received_at"),
        Index("ix_hotline_complaint_lat_lon", "lat", "lon"),
        Index("ix_hotline_complaint_case_id", "case_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[Channel] = mapped_column(
        Enum(Channel, native_enum=False, length=16, name="complaint_channel")
    )
    status: Mapped[ComplaintStatus] = mapped_column(
        Enum(ComplaintStatus, native_enum=False, length=16), default=ComplaintStatus.received
    )
    caller_name: Mapped[str] = mapped_column(String(64), default="")
    caller_phone: Mapped[str] = mapped_column(String(32), default="")
    caller_email: Mapped[str] = mapped_column(String(128), default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    place_text: Mapped[str] = mapped_column(String(255), default="")
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    district_id: Mapped[int | None] = mapped_column(
        ForeignKey("district.id", ondelete="RESTRICT"), nullable=True
    )
    content: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(48), default="dust_complaint")
    media_url: Mapped[str] = mapped_column(String(512), default="")
    site_id: Mapped[int | None] = mapped_column(
        ForeignKey("site.id", ondelete="RESTRICT"), nullable=True, index=True
    )
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("case_record.id", ondelete="SET NULL"), nullable=True
    )
    linked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    dismiss_reason: Mapped[str] = mapped_column(Text, default="")
    # the caller's answer: responded (响应), resolved (解决), satisfied (满意)
    response_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    satisfaction: Mapped[int | None] = mapped_column(Integer, nullable=True)  # 1–5
    satisfied: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    feedback_note: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True
    )
    open311_key_id: Mapped[int | None] = mapped_column(
        ForeignKey("open311_api_key.id", ondelete="SET NULL"), nullable=True
    )


class VideoOutcome(enum.StrEnum):
    opened = "opened"  # a new case
    merged = "merged"  # joined the open case of the same site and kind
    below_threshold = "below_threshold"  # recorded only
    no_site = "no_site"  # the camera is not attached to a site: recorded only


class VideoAiEvent(Base):
    """One event from a camera's analyser, kept whatever came of it (audit, tuning)."""

    __tablename__ = "video_ai_event"
    __table_args__ = (
        UniqueConstraint("device_id", "vendor_event_id"),
        Index("ix_video_ai_event_site_occurred", "site_id", "occurred_at"),
        Index("ix_video_ai_event_case_id", "case_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("device.id", ondelete="CASCADE"))
    site_id: Mapped[int | None] = mapped_column(
        ForeignKey("site.id", ondelete="RESTRICT"), nullable=True
    )
    vendor_event_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    kind: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    confidence: Mapped[float] = mapped_column(Float)
    snapshot_sha256: Mapped[str] = mapped_column(String(64), default="")
    snapshot_size: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[str] = mapped_column(String(16))
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("case_record.id", ondelete="SET NULL"), nullable=True
    )
    policy_version: Mapped[str] = mapped_column(String(16), default="")


class Open311Key(Base):
    """An Open311 client allowed to POST requests; only a SHA-256 of the key is stored
    (same reasoning as device keys: 256 random bits need no slow hash)."""

    __tablename__ = "open311_api_key"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    prefix: Mapped[str] = mapped_column(String(12), index=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True
    )
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class HotlineSetting(Base):
    """The city's choices for its 12319 desk (one row, id 1; no row: the defaults).

    ``district_opens_cases``: a district admin (L2) may open a case from a complaint in
    their district; off (the default), only the city (L1) opens them and dispatches."""

    __tablename__ = "hotline_setting"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    district_opens_cases: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True
    )
