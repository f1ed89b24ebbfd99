"""The ``ingest_dead_letter`` table: a row per refusal of a message (MQTT) or request (HTTP)
that had something the platform could not store, with why and what arrived (secrets
redacted); the same refusal repeated soon after counts on the same row (``repeats``,
``last_at``: docs/telemetry.md, "Dead letters").

No foreign key to ``device`` (as ``reading``): a dead letter may name an MN nobody
registered, and it must be writable whatever state the device row is in.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from dustgrid.models import Base, UTCDateTime, utcnow


class DeadLetter(Base):
    __tablename__ = "ingest_dead_letter"
    __table_args__ = (
        Index("ix_ingest_dead_letter_received", "received_at"),
        Index("ix_ingest_dead_letter_repeat", "channel", "status", "mn", "last_at"),
        Index("ix_ingest_dead_letter_last", "last_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    channel: Mapped[str] = mapped_column(String(8))  # mqtt, http
    topic: Mapped[str] = mapped_column(String(255), default="")  # MQTT topic or HTTP path
    mn: Mapped[str | None] = mapped_column(String(64), nullable=True)
    device_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[str] = mapped_column(String(32))  # bad_payload, items_refused, failed…
    reason: Mapped[str] = mapped_column(Text, default="")
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    payload: Mapped[str] = mapped_column(Text, default="")
    payload_bytes: Mapped[int] = mapped_column(Integer, default=0)  # before cutting
    #: how many times this refusal arrived (the first one's payload is the sample)
    repeats: Mapped[int] = mapped_column(Integer, default=1)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
