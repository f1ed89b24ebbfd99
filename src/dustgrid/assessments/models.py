"""Stored monthly scores, their versions and the appeals against them.

A month (``assessment_month``) is open until it is closed (the monthly job closes the
previous month). Every computation that changes anything writes a new version
(``assessment_run``: why — computed, closed, a documented re-run, an appeal decision —
by whom, under which rule set) holding every party's score (``assessment_score``, with
the facts it was computed from, so an appeal on a closed month re-scores those facts and
nothing else moves). Old versions stay: they are the history.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dustgrid.models import Base, UTCDateTime, utcnow

__all__ = ["AssessmentAppeal", "AssessmentMonth", "AssessmentRun", "AssessmentScore"]


class AssessmentMonth(Base):
    __tablename__ = "assessment_month"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    month: Mapped[str] = mapped_column(String(7), unique=True)  # YYYY-MM
    state: Mapped[str] = mapped_column(String(8), default="open")  # open | closed
    version: Mapped[int] = mapped_column(Integer, default=0)  # the current version
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    closed_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True
    )


class AssessmentRun(Base):
    """One version of a month's scores."""

    __tablename__ = "assessment_run"
    __table_args__ = (UniqueConstraint("month", "version", name="uq_assessment_run_month_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    month: Mapped[str] = mapped_column(String(7))
    version: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(16))  # computed | closed | rerun | appeal
    note: Mapped[str] = mapped_column(Text, default="")
    appeal_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    policy_version: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AssessmentScore(Base):
    """One party's score in one version; ``unit_id``/``district_id``/``grid_id`` say who
    may read it (the L2 unit answering for it, its district, its grid)."""

    __tablename__ = "assessment_score"
    __table_args__ = (
        Index("ix_assessment_score_month_version", "month", "version"),
        Index("ix_assessment_score_party", "kind", "party_id", "month"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("assessment_run.id", ondelete="CASCADE"))
    month: Mapped[str] = mapped_column(String(7))
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    party_id: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    score: Mapped[float] = mapped_column(Float)
    consequence: Mapped[str] = mapped_column(String(16), default="")
    policy_version: Mapped[str] = mapped_column(String(16))
    unit_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    district_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    grid_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    facts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class AssessmentAppeal(Base):
    """A party's appeal against one deduction (a whole item, or one record of it)."""

    __tablename__ = "assessment_appeal"
    __table_args__ = (Index("ix_assessment_appeal_month_party", "month", "kind", "party_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    month: Mapped[str] = mapped_column(String(7))
    kind: Mapped[str] = mapped_column(String(16))
    party_id: Mapped[int] = mapped_column(Integer)
    rule: Mapped[str] = mapped_column(String(32))
    period: Mapped[str] = mapped_column(String(16), default="")
    ref_key: Mapped[str] = mapped_column(String(64), default="")  # empty: the whole item
    reason: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(10), default="pending")  # accepted | rejected
    filed_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True
    )
    filed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True
    )
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    score_before: Mapped[float] = mapped_column(Float)
    score_after: Mapped[float | None] = mapped_column(Float, nullable=True)
    version_after: Mapped[int | None] = mapped_column(Integer, nullable=True)
