"""Patrol plans and their stops.

One ``patrol_plan`` per grid group and period (a week for inspector grids, a fortnight
for enforcement grids); its ``patrol_stop`` rows say who visits which site on which day
and in which order. ``member_user_id`` is empty when the group's members go together
(officers), else the member walking that route (inspectors).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dustgrid.models import Base, TimestampMixin

__all__ = ["PatrolPlan", "PatrolStop"]


class PatrolPlan(Base, TimestampMixin):
    __tablename__ = "patrol_plan"
    __table_args__ = (
        UniqueConstraint("group_id", "period_start", name="uq_patrol_plan_group_id_period_start"),
        Index("ix_patrol_plan_period", "period_start", "period_end"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grid.id", ondelete="CASCADE"), index=True)
    group_id: Mapped[int] = mapped_column(
        ForeignKey("grid_group.id", ondelete="CASCADE"), index=True
    )
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)  # inclusive
    kind: Mapped[str] = mapped_column(String(16))  # weekly | fortnightly
    policy_version: Mapped[str] = mapped_column(String(32))
    # Sites the quota could not fit into the period (count, and their ids in priority order).
    shortfall: Mapped[int] = mapped_column(Integer, default=0)
    shortfall_site_ids: Mapped[list[int]] = mapped_column(JSON, default=list)


class PatrolStop(Base):
    __tablename__ = "patrol_stop"
    __table_args__ = (
        Index("ix_patrol_stop_plan_day", "plan_id", "day", "seq"),
        Index("ix_patrol_stop_site_day", "site_id", "day"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("patrol_plan.id", ondelete="CASCADE"))
    member_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True, index=True
    )
    day: Mapped[date] = mapped_column(Date)
    seq: Mapped[int] = mapped_column(Integer)  # 1-based route order within the crew-day
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"))
