"""In-app notifications: one row per recipient, read or not.

``message_key`` and ``params``, when set, are an i18n message key and its parameters: the
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
    # ``title`` is the text outbound channels send (zh-CN); a row with ``message_key`` is
    # shown in the reader's language: ``i18n`` key plus ``params`` (``service.render``).
    title: Mapped[str] = mapped_column(String(255))
    message_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    params: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str] = mapped_column(String(255), default="")
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("case_record.id", ondelete="CASCADE"), nullable=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
