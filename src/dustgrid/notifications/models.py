"""In-app notifications: one row per recipient, read or not.

``msg_key`` and ``msg_params``, when set, are an i18n message key and its parameters: the
inbox renders them in the reader's language (``title`` keeps the zh-CN text for channels
and older readers).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from dustgrid.models import Base, UTCDateTime, utcnow


class Notification(Base):
    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_user_read", "user_id", "read_at", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(48))
    title: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str] = mapped_column(String(255), default="")
    msg_key: Mapped[str] = mapped_column(String(96), default="", server_default="")
    msg_params: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("case_record.id", ondelete="CASCADE"), nullable=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
