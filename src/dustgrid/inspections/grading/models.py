"""The grade history of a site: one row each time the grade or its reasons change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from dustgrid.models import Base, UTCDateTime, utcnow

__all__ = ["SiteGradeHistory"]


class SiteGradeHistory(Base):
    """A grade the rule gave a site, why (``reasons``: message keys with parameters), under
    which policy version, from which inspection, when and on whose action (``actor_id``
    empty: the system, e.g. a case opened by a sensor or the stale-inspection chore)."""

    __tablename__ = "site_grade_history"
    __table_args__ = (Index("ix_site_grade_history_site_changed", "site_id", "changed_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"))
    grade: Mapped[str] = mapped_column(String(16))
    previous_grade: Mapped[str | None] = mapped_column(String(16), nullable=True)
    policy_version: Mapped[str] = mapped_column(String(16))
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    inspection_id: Mapped[int | None] = mapped_column(
        ForeignKey("inspection.id", ondelete="SET NULL"), nullable=True
    )
    stale: Mapped[bool] = mapped_column(Boolean, default=False)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True
    )
