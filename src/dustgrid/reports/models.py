"""Published monthly notices (月通报): each publication kept with its files."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from dustgrid.models import Base, UTCDateTime, utcnow


class MonthlyNotice(Base):
    """One publication of a month's notice; its files live under
    ``var_dir/notices/<id>/monthly-notice-YYYY-MM.{xlsx,pdf}``. A month may be published
    again (a re-run changed the scores): every publication stays."""

    __tablename__ = "monthly_notice"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    month: Mapped[str] = mapped_column(String(7), index=True)  # YYYY-MM
    assessment_version: Mapped[int] = mapped_column(Integer, default=0)
    assessment_state: Mapped[str] = mapped_column(String(8), default="open")
    published_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    published_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True
    )
    # What the notice said when published (``notice.notice_dict``: key figures, rankings,
    # red and black lists), so the API shows the published figures, not today's records.
    # None for publications made before it was kept (migration 0028): their files only.
    content: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
