"""Emergency tables.

* ``emergency``: one declared heavy-pollution weather warning: level, period (``ends_at``
  as declared; ``ended_at`` when it was ended early), area (whole city, chosen districts or
  a drawn polygon), the policy version it was declared under.
* ``emergency_order``: the emergency order (应急管控指令) one site received: the level and
  the measures copied from the policy at declaration, so later policy changes do not
  rewrite what a site was told.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dustgrid.emergencies.policy import AreaKind, Level
from dustgrid.models import Base, TimestampMixin, UTCDateTime


class Emergency(Base, TimestampMixin):
    __tablename__ = "emergency"
    __table_args__ = (Index("ix_emergency_period", "starts_at", "ends_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    level: Mapped[Level] = mapped_column(Enum(Level, native_enum=False, length=16))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    area_kind: Mapped[AreaKind] = mapped_column(Enum(AreaKind, native_enum=False, length=16))
    district_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    polygon: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    policy_version: Mapped[str] = mapped_column(String(16))
    declared_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True
    )
    ended_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True
    )

    @property
    def until(self) -> datetime:
        """When the warning stops: ended early, or as declared."""
        return self.ended_at or self.ends_at


class EmergencyOrder(Base):
    __tablename__ = "emergency_order"
    __table_args__ = (
        UniqueConstraint("emergency_id", "site_id"),
        Index("ix_emergency_order_site", "site_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    emergency_id: Mapped[int] = mapped_column(ForeignKey("emergency.id", ondelete="CASCADE"))
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"))
    level: Mapped[Level] = mapped_column(Enum(Level, native_enum=False, length=16))
    measures: Mapped[list[str]] = mapped_column(JSON, default=list)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
