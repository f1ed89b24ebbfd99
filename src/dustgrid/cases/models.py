"""Cases (案件), their event timeline and attachments.

The table is named ``case_record`` because ``case`` is an SQL keyword. Everything the
inbox, the overdue board and the sweeps filter on is a plain column with an index, so
they answer from an index on a million rows (see ``__table_args__``):

* ``due_at`` / ``warn_at``: the running clock's deadline and its yellow threshold, so a
  traffic light is ``now > due_at`` (red) or ``now >= warn_at`` (yellow) in SQL, and an
  overdue case is escalated one level above ``level`` (derived, never stored);
* ``remind_at`` / ``review_remind_at``: when the sweeps act; each sweep handles the rows
  whose instant fell since its previous run (``CaseSweepMark``), so it only inserts
  events and notifications and never rewrites case rows.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ColumnElement,
    Date,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    bindparam,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from dustgrid.cases.states import CaseSource, CaseState
from dustgrid.models import Base, TimestampMixin, UTCDateTime, utcnow

OPEN_STATES = frozenset(
    {
        CaseState.reported,
        CaseState.dispatched,
        CaseState.accepted,
        CaseState.handling,
        CaseState.rectifying,
        CaseState.penalizing,
        CaseState.verifying,
        CaseState.returned,
    }
)  # a clock runs in each of these; suspended and closed have none

# The open states as the partial index ``ix_case_record_open_unit_due`` spells them; a query
# that should use that index says ``open_clause()``, which renders exactly this list inline
# (a planner can only match a partial index against literal values). Changing
# ``OPEN_STATES`` means a migration recreating that index (tests/cases check they agree).
OPEN_STATE_VALUES: tuple[str, ...] = tuple(sorted(s.value for s in OPEN_STATES))
OPEN_INDEX_WHERE = "state IN ({})".format(", ".join(f"'{v}'" for v in OPEN_STATE_VALUES))


class Case(Base, TimestampMixin):
    __tablename__ = "case_record"
    __table_args__ = (
        # inbox per L2 unit and the unit's overdue board (covering: lights from the index)
        Index("ix_case_record_unit_state_due", "assigned_unit_id", "state", "due_at", "warn_at"),
        # inbox per responsible person
        Index("ix_case_record_resp_state_due", "responsible_user_id", "state", "due_at"),
        # city-wide overdue board (covering)
        Index("ix_case_record_state_due_unit", "state", "due_at", "assigned_unit_id", "warn_at"),
        # open cases only (a quarter of the table): an L2 unit's overdue tab in due order,
        # and the sweeps' counts over every open case (covering on PostgreSQL)
        Index(
            "ix_case_record_open_unit_due",
            "assigned_unit_id",
            "due_at",
            postgresql_include=["warn_at", "level", "remind_at", "responsible_user_id"],
            postgresql_where=text(OPEN_INDEX_WHERE),
            sqlite_where=text(OPEN_INDEX_WHERE),
        ),
        # a site's history, and cases of the sites in a grid or of an enterprise
        Index("ix_case_record_site_state_due", "site_id", "state", "due_at"),
        Index("ix_case_record_reporter_opened", "reporter_id", "opened_at"),
        Index("ix_case_record_dedup_opened", "dedup_key", "opened_at"),
        Index("ix_case_record_source_ref", "source", "external_ref"),
        Index("ix_case_record_state_closed", "state", "closed_at"),
        Index("ix_case_record_remind_at", "remind_at"),
        Index("ix_case_record_review_remind_at", "review_remind_at"),
        Index("ix_case_record_look_back_due_at", "look_back_due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[CaseSource] = mapped_column(Enum(CaseSource, native_enum=False, length=32))
    state: Mapped[CaseState] = mapped_column(Enum(CaseState, native_enum=False, length=16))
    site_id: Mapped[int | None] = mapped_column(
        ForeignKey("site.id", ondelete="RESTRICT"), nullable=True
    )
    district_id: Mapped[int | None] = mapped_column(
        ForeignKey("district.id", ondelete="RESTRICT"), nullable=True, index=True
    )
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    category: Mapped[str] = mapped_column(String(48))
    description: Mapped[str] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(16))
    reporter_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True
    )
    external_ref: Mapped[str | None] = mapped_column(String(128), nullable=True)
    dedup_key: Mapped[str | None] = mapped_column(String(128), nullable=True)
    merged_count: Mapped[int] = mapped_column(Integer, default=0)
    # who holds it: the L2 unit it was dispatched to, and the person that unit named
    assigned_unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("org_unit.id", ondelete="RESTRICT"), nullable=True
    )
    responsible_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True
    )
    disposition: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # the running clock (stage): whose it is, when it started and when it is due
    level: Mapped[str | None] = mapped_column(String(4), nullable=True)
    clock: Mapped[str | None] = mapped_column(String(16), nullable=True)
    clock_working_time: Mapped[bool] = mapped_column(Boolean, default=True)
    clock_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    warn_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    remind_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # the case's overall deadline, set by L1 at dispatch
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    deadline_warn_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    rectify_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    penalty_case_number: Mapped[str] = mapped_column(String(64), default="")
    review_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    review_remind_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    rework_count: Mapped[int] = mapped_column(Integer, default=0)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    look_back_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    looked_back_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    policy_version: Mapped[str] = mapped_column(String(16), default="")
    # 网格现场处置: the reporting officer of the site's own enforcement grid handled it at
    # once (fixed on site or ordered rectification) without dispatch and acceptance
    grid_handled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))

    @property
    def location(self) -> tuple[float, float] | None:
        return (self.lat, self.lon) if self.lat is not None and self.lon is not None else None


def open_clause() -> ColumnElement[bool]:
    """``state IN (<the open states>)`` with the values inline, as the partial index has it."""
    return Case.state.in_(
        bindparam("open_states", OPEN_STATE_VALUES, expanding=True, literal_execute=True)
    )


class CaseEvent(Base):
    """One line of a case's timeline: who did what, when, from which state to which."""

    __tablename__ = "case_event"
    __table_args__ = (Index("ix_case_event_case_at", "case_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(48))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True
    )
    actor_name: Mapped[str] = mapped_column(String(64), default="system")
    actor_role: Mapped[str] = mapped_column(String(32), default="system")
    move: Mapped[str | None] = mapped_column(String(32), nullable=True)
    from_state: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_state: Mapped[str | None] = mapped_column(String(16), nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    policy_version: Mapped[str] = mapped_column(String(16), default="")


class CaseAttachment(Base):
    """A photo or document; the bytes live under ``var/attachments`` named by sha256."""

    __tablename__ = "case_attachment"
    __table_args__ = (Index("ix_case_attachment_case_event", "case_id", "event_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id", ondelete="CASCADE"))
    event_id: Mapped[int | None] = mapped_column(
        ForeignKey("case_event.id", ondelete="SET NULL"), nullable=True
    )
    kind: Mapped[str] = mapped_column(String(16), default="photo")
    filename: Mapped[str] = mapped_column(String(255))
    mime: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    uploaded_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CaseSweepMark(Base):
    """How far each periodic sweep got: the next run handles what fell due since then."""

    __tablename__ = "case_sweep_mark"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    swept_until: Mapped[datetime] = mapped_column(UTCDateTime())
