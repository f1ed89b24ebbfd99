"""Inspection visits, their checklist answers and their photos.

A visit is one person's (or one group's) look at one site: checked in on the spot by
GPS or, for officers, by remote video (视频巡查). "Nothing found" is a result in its own
right and still counts as a visit for the patrol quotas and coverage.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dustgrid.models import Base, TimestampMixin, UTCDateTime

__all__ = [
    "Inspection",
    "InspectionItem",
    "InspectionMode",
    "InspectionPhoto",
    "InspectionResult",
    "ItemOutcome",
]


class InspectionMode(enum.StrEnum):
    on_site = "on_site"  # 现场巡查: GPS check-in within the fence
    video = "video"  # 视频巡查: officers' remote check, counted towards their quota


class InspectionResult(enum.StrEnum):
    draft = "draft"  # checked in, checklist not yet submitted
    nothing_found = "nothing_found"  # 未发现问题
    problems = "problems"  # 发现问题 (one or more items failed)


class ItemOutcome(enum.StrEnum):
    passed = "passed"  # 符合
    failed = "failed"  # 不符合 (a photo is required)
    not_applicable = "not_applicable"  # 不适用


class Inspection(Base, TimestampMixin):
    """One visit to one site by a grid member (with their group)."""

    __tablename__ = "inspection"
    __table_args__ = (
        UniqueConstraint("idempotency_key", name="uq_inspection_idempotency_key"),
        Index("ix_inspection_site_submitted", "site_id", "submitted_at"),
        Index("ix_inspection_inspector_checked_in", "inspector_id", "checked_in_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The phone's key for this visit: a queued visit sent twice is stored once.
    idempotency_key: Mapped[str] = mapped_column(String(64))
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="RESTRICT"))
    inspector_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("grid_group.id", ondelete="SET NULL"), nullable=True, index=True
    )
    mode: Mapped[InspectionMode] = mapped_column(Enum(InspectionMode, native_enum=False, length=16))
    result: Mapped[InspectionResult] = mapped_column(
        Enum(InspectionResult, native_enum=False, length=16), default=InspectionResult.draft
    )
    # The checklist template version the answers follow (templates are versioned).
    template_version: Mapped[str] = mapped_column(String(32))
    checked_in_at: Mapped[datetime] = mapped_column(UTCDateTime())
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Where the phone was at check-in (WGS-84), its reported accuracy and its distance to
    # the site's boundary or point; empty for video checks.
    check_in_lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    check_in_lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    check_in_accuracy_m: Mapped[float | None] = mapped_column(Float, nullable=True)
    check_in_distance_m: Mapped[float | None] = mapped_column(Float, nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")


class InspectionItem(Base):
    """One checklist answer of a visit; a failed item names the case it opened."""

    __tablename__ = "inspection_item"
    __table_args__ = (UniqueConstraint("inspection_id", "item_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    inspection_id: Mapped[int] = mapped_column(
        ForeignKey("inspection.id", ondelete="CASCADE"), index=True
    )
    item_code: Mapped[str] = mapped_column(String(48))
    outcome: Mapped[ItemOutcome] = mapped_column(Enum(ItemOutcome, native_enum=False, length=16))
    note: Mapped[str] = mapped_column(Text, default="")
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("case_record.id", ondelete="SET NULL"), nullable=True
    )


class InspectionPhoto(Base, TimestampMixin):
    """A photo of a visit: the original as taken and a watermarked copy.

    ``flags`` lists what the EXIF check found (e.g. ``exif_missing``, ``exif_far``,
    ``exif_time_off``), space-separated; empty when the photo matches the visit.
    """

    __tablename__ = "inspection_photo"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    inspection_id: Mapped[int] = mapped_column(
        ForeignKey("inspection.id", ondelete="CASCADE"), index=True
    )
    item_code: Mapped[str] = mapped_column(String(48), default="")
    original_path: Mapped[str] = mapped_column(String(255))
    stamped_path: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(64))
    sha256: Mapped[str] = mapped_column(String(64))
    exif_taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    exif_lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    exif_lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    flags: Mapped[str] = mapped_column(String(128), default="")
