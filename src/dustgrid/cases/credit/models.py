"""Penalty ladder and credit records: site problems, stop-work orders, bad-behaviour
records and blacklist entries (000 §5(四)1, domain.md §5)."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from dustgrid.models import Base, UTCDateTime, utcnow


class ProposalStatus(enum.StrEnum):
    proposed = "proposed"  # the platform's advice, waiting for an officer
    confirmed = "confirmed"
    rejected = "rejected"


class SiteProblem(Base):
    """A substantiated problem at a site (one per case) and the ladder step it proposes."""

    __tablename__ = "site_problem"
    __table_args__ = (Index("ix_site_problem_site_date", "site_id", "problem_date"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="RESTRICT"))
    case_id: Mapped[int] = mapped_column(
        ForeignKey("case_record.id", ondelete="CASCADE"), unique=True
    )
    problem_date: Mapped[date] = mapped_column(Date)
    nth: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(32))
    stop_work_days: Mapped[int] = mapped_column(Integer, default=0)
    stop_work_months: Mapped[int] = mapped_column(Integer, default=0)
    penalty: Mapped[bool] = mapped_column(Boolean, default=False)
    policy_version: Mapped[str] = mapped_column(String(16))
    status: Mapped[ProposalStatus] = mapped_column(
        Enum(ProposalStatus, native_enum=False, length=16), default=ProposalStatus.proposed
    )
    decided_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True
    )
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    decision_note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class StopWorkOrder(Base):
    """A confirmed stoppage: first and last day (inclusive), and when work may resume."""

    __tablename__ = "stop_work_order"
    __table_args__ = (Index("ix_stop_work_order_site_first", "site_id", "first_day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="RESTRICT"))
    problem_id: Mapped[int] = mapped_column(
        ForeignKey("site_problem.id", ondelete="CASCADE"), index=True
    )
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    resume_on: Mapped[date] = mapped_column(Date)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    lift_reason: Mapped[str] = mapped_column(Text, default="")


class BadBehaviourRecord(Base):
    """不良行为记录 of an enterprise, pushed to the credit system (诚信体系)."""

    __tablename__ = "bad_behaviour_record"
    __table_args__ = (UniqueConstraint("case_id", "enterprise_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(
        ForeignKey("enterprise.id", ondelete="RESTRICT"), index=True
    )
    site_id: Mapped[int | None] = mapped_column(
        ForeignKey("site.id", ondelete="RESTRICT"), nullable=True, index=True
    )
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("case_record.id", ondelete="SET NULL"), nullable=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text, default="")
    penalty_case_number: Mapped[str] = mapped_column(String(64), default="")
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    policy_version: Mapped[str] = mapped_column(String(16), default="")


class BlacklistEntry(Base):
    """A period on the blacklist (restricted from bidding), open until an admin lifts it."""

    __tablename__ = "blacklist_entry"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(
        ForeignKey("enterprise.id", ondelete="RESTRICT"), index=True
    )
    listed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    record_count: Mapped[int] = mapped_column(Integer)
    policy_version: Mapped[str] = mapped_column(String(16), default="")
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    lifted_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True
    )
    lift_reason: Mapped[str] = mapped_column(Text, default="")
    # The enterprise's record count at the lift: only later records count towards relisting.
    records_at_lift: Mapped[int | None] = mapped_column(Integer, nullable=True)
