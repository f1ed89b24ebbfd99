"""Trajectory tables (issue 14): trucks, known places, fix batches, the summaries of the
daily detection (truck-days, stays, clusters), suspected sites and their verdicts, and the
City Brain's API keys.

Fixes themselves are Parquet files (``store.FixStore``), never rows: a city-day is tens of
millions of them. The database keeps what people and the City Brain read.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from dustgrid.models import Base, TimestampMixin, UTCDateTime, utcnow


class PlaceKind(enum.StrEnum):
    """Where trucks legitimately stop. Permitted sites come from the ledger itself."""

    permitted_site = "permitted_site"  # a ledger site (never stored here: read from the ledger)
    disposal = "disposal"  # 消纳场
    landfill = "landfill"  # 填埋场
    depot = "depot"  # 车队停车场 / 车辆基地
    car_park = "car_park"
    fuel_station = "fuel_station"
    road_works = "road_works"  # a dismissed suspect: road works
    other = "other"


class SuspectStatus(enum.StrEnum):
    pushed = "pushed"  # a City Brain case is waiting for the district's verdict
    confirmed = "confirmed"  # 确认未批先建: in the ledger with an enforcement case
    dismissed = "dismissed"  # not an unpermitted site: now a known place


class DismissReason(enum.StrEnum):
    road_works = "road_works"
    depot = "depot"
    car_park = "car_park"
    other = "other"


class Crs(enum.StrEnum):
    wgs84 = "wgs84"
    gcj02 = "gcj02"


class Truck(Base, TimestampMixin):
    """A registered muck truck (渣土车) and the GPS terminal it carries."""

    __tablename__ = "traj_truck"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plate: Mapped[str] = mapped_column(String(16), unique=True)
    company: Mapped[str] = mapped_column(String(128), default="")
    terminal_id: Mapped[str] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class KnownPlace(Base, TimestampMixin):
    """A place trucks may stop at without it being a suspect: a circle (``radius_m``) or a
    drawn boundary (GeoJSON polygon, WGS-84; its centre and a covering radius are kept)."""

    __tablename__ = "traj_known_place"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[PlaceKind] = mapped_column(Enum(PlaceKind, native_enum=False, length=16))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    radius_m: Mapped[float] = mapped_column(Float, default=150.0)
    boundary: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    district_id: Mapped[int | None] = mapped_column(
        ForeignKey("district.id", ondelete="SET NULL"), nullable=True, index=True
    )
    note: Mapped[str] = mapped_column(Text, default="")
    # a dismissed suspect becomes a known place: the suspect it came from
    suspect_id: Mapped[int | None] = mapped_column(
        ForeignKey("traj_suspect.id", ondelete="SET NULL"), nullable=True
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class FixBatch(Base):
    """One batch of fixes received (HTTP or file); the same id again changes nothing."""

    __tablename__ = "traj_fix_batch"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[str] = mapped_column(String(64), unique=True)
    crs: Mapped[Crs] = mapped_column(Enum(Crs, native_enum=False, length=8))
    client: Mapped[str] = mapped_column(String(128), default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    rows: Mapped[int] = mapped_column(Integer, default=0)
    stored: Mapped[int] = mapped_column(Integer, default=0)
    bad: Mapped[int] = mapped_column(Integer, default=0)
    files: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[list[Any]] = mapped_column(JSON, default=list)  # first bad rows (line, why)


class TruckDay(Base):
    """One truck's day as the detection saw it."""

    __tablename__ = "traj_truck_day"
    __table_args__ = (UniqueConstraint("day", "terminal_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    terminal_id: Mapped[str] = mapped_column(String(64))
    stays: Mapped[int] = mapped_column(Integer, default=0)
    dwell_seconds: Mapped[int] = mapped_column(Integer, default=0)
    first_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class StayRecord(Base):
    """One stay point (for the heat map and a suspect's visits)."""

    __tablename__ = "traj_stay"
    __table_args__ = (Index("ix_traj_stay_day_lat_lon", "day", "lat", "lon"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    terminal_id: Mapped[str] = mapped_column(String(64), index=True)
    start_at: Mapped[datetime] = mapped_column(UTCDateTime())
    end_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    n_fixes: Mapped[int] = mapped_column(Integer, default=0)


class EvidenceMixin:
    """The evidence of a cluster (issue 14): trucks, visits, days, dwell, night share."""

    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    trucks: Mapped[int] = mapped_column(Integer)
    visits: Mapped[int] = mapped_column(Integer)
    days: Mapped[int] = mapped_column(Integer)
    dwell_seconds: Mapped[int] = mapped_column(Integer)
    night_share: Mapped[float] = mapped_column(Float)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    terminals: Mapped[list[str]] = mapped_column(JSON, default=list)
    companies: Mapped[list[str]] = mapped_column(JSON, default=list)
    nearest_known: Mapped[str | None] = mapped_column(String(128), nullable=True)
    known_clearance_m: Mapped[float | None] = mapped_column(Float, nullable=True)


class ClusterRecord(EvidenceMixin, Base):
    """A cluster of the detection run of ``day`` (over the window ending that day)."""

    __tablename__ = "traj_cluster"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    is_suspect: Mapped[bool] = mapped_column(Boolean, default=False)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    suspect_id: Mapped[int | None] = mapped_column(
        ForeignKey("traj_suspect.id", ondelete="SET NULL"), nullable=True
    )


class SuspectSite(EvidenceMixin, TimestampMixin, Base):
    """A suspected unpermitted site (疑似未批先建) pushed to a district grid, and its verdict.

    ``due_at`` is the district's 24-hour clock (the same instant as the case's feedback
    clock); the verdict columns are what goes back to the City Brain.
    """

    __tablename__ = "traj_suspect"
    __table_args__ = (
        Index("ix_traj_suspect_district_status", "district_id", "status"),
        Index("ix_traj_suspect_verdict_at", "verdict_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ref: Mapped[str] = mapped_column(String(32), unique=True)  # "CB-20260504-0001"
    status: Mapped[SuspectStatus] = mapped_column(
        Enum(SuspectStatus, native_enum=False, length=16), default=SuspectStatus.pushed
    )
    score: Mapped[float] = mapped_column(Float)
    detected_on: Mapped[date] = mapped_column(Date)
    last_detected_on: Mapped[date] = mapped_column(Date)
    district_id: Mapped[int | None] = mapped_column(
        ForeignKey("district.id", ondelete="RESTRICT"), nullable=True
    )
    unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("org_unit.id", ondelete="RESTRICT"), nullable=True
    )
    grid_id: Mapped[int | None] = mapped_column(
        ForeignKey("grid.id", ondelete="SET NULL"), nullable=True
    )
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("case_record.id", ondelete="SET NULL"), nullable=True
    )
    pushed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    policy_version: Mapped[str] = mapped_column(String(16), default="")
    verdict_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    verdict_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True
    )
    verdict_by_name: Mapped[str] = mapped_column(String(64), default="")
    dismiss_reason: Mapped[DismissReason | None] = mapped_column(
        Enum(DismissReason, native_enum=False, length=16), nullable=True
    )
    verdict_text: Mapped[str] = mapped_column(Text, default="")
    site_id: Mapped[int | None] = mapped_column(
        ForeignKey("site.id", ondelete="SET NULL"), nullable=True
    )
    known_place_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class CityBrainKey(Base):
    """An API client of the City Brain: only a SHA-256 of the key is stored; ``scopes``
    says what it may do (``fixes:write``, ``feedback:read``)."""

    __tablename__ = "traj_api_key"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    prefix: Mapped[str] = mapped_column(String(12), index=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True
    )
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class DetectionRun(Base):
    """One run of the daily detection for a local day (the scheduler runs each day once)."""

    __tablename__ = "traj_run"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    ran_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    report: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
