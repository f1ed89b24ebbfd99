"""Sites (工地台账) and enterprises."""

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
    Numeric,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from dustgrid.models import Base, TimestampMixin, UTCDateTime


class PermitStatus(enum.StrEnum):
    permitted = "permitted"  # 已取得施工许可
    suspected_unpermitted = "suspected_unpermitted"  # 疑似未批先建
    confirmed_unpermitted = "confirmed_unpermitted"  # 确认未批先建


class SiteKind(enum.StrEnum):
    housing = "housing"  # 房建
    municipal = "municipal"  # 市政
    metro = "metro"  # 地铁
    demolition = "demolition"  # 拆除
    other = "other"


class Stage(enum.StrEnum):
    earthwork = "earthwork"  # 土方
    foundation = "foundation"  # 基础
    structure = "structure"  # 主体
    decoration = "decoration"  # 装修
    completed = "completed"  # 竣工
    suspended = "suspended"  # 停工


class Grade(enum.StrEnum):
    non_compliant = "non_compliant"  # 不达标
    basic = "basic"  # 基本达标
    full = "full"  # 完全达标
    ungraded = "ungraded"  # 未评定


class EnterpriseKind(enum.StrEnum):
    builder = "builder"  # 建设单位
    contractor = "contractor"  # 施工单位
    supervisor = "supervisor"  # 监理单位
    provider = "provider"  # 设备服务商
    inspection = "inspection"  # 第三方巡查服务单位
    other = "other"


class Enterprise(Base, TimestampMixin):
    __tablename__ = "enterprise"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    uscc: Mapped[str] = mapped_column(String(18), unique=True)
    kind: Mapped[EnterpriseKind] = mapped_column(Enum(EnterpriseKind, native_enum=False, length=16))
    bad_record_count: Mapped[int] = mapped_column(Integer, default=0)
    blacklisted: Mapped[bool] = mapped_column(Boolean, default=False)


class Site(Base, TimestampMixin):
    """A construction site. Location is WGS-84; conversions happen at the map edge."""

    __tablename__ = "site"
    __table_args__ = (
        Index("ix_site_district_grade", "district_id", "grade"),
        Index("ix_site_lat_lon", "lat", "lon"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    permit_no: Mapped[str] = mapped_column(String(64), default="")
    permit_status: Mapped[PermitStatus] = mapped_column(
        Enum(PermitStatus, native_enum=False, length=32), default=PermitStatus.permitted
    )
    kind: Mapped[SiteKind] = mapped_column(Enum(SiteKind, native_enum=False, length=16))
    district_id: Mapped[int] = mapped_column(
        ForeignKey("district.id", ondelete="RESTRICT"), index=True
    )
    l2_unit_id: Mapped[int] = mapped_column(
        ForeignKey("org_unit.id", ondelete="RESTRICT"), index=True
    )
    address: Mapped[str] = mapped_column(String(255), default="")
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    # GCJ-02 copy of the location, kept in step on every write, for base maps that need it.
    gcj_lat: Mapped[float] = mapped_column(Float)
    gcj_lon: Mapped[float] = mapped_column(Float)
    boundary: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    built_up_area: Mapped[bool] = mapped_column(Boolean, default=True)
    area_m2: Mapped[float] = mapped_column(Float, default=0)
    investment_yuan: Mapped[float] = mapped_column(Numeric(16, 2), default=0)
    stage: Mapped[Stage] = mapped_column(Enum(Stage, native_enum=False, length=16))
    planned_start_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    planned_end_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    actual_start_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    actual_end_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    builder_id: Mapped[int | None] = mapped_column(
        ForeignKey("enterprise.id", ondelete="RESTRICT"), nullable=True, index=True
    )
    contractor_id: Mapped[int | None] = mapped_column(
        ForeignKey("enterprise.id", ondelete="RESTRICT"), nullable=True, index=True
    )
    supervisor_id: Mapped[int | None] = mapped_column(
        ForeignKey("enterprise.id", ondelete="RESTRICT"), nullable=True, index=True
    )
    contact_name: Mapped[str] = mapped_column(String(64), default="")
    contact_phone: Mapped[str] = mapped_column(String(32), default="")
    monitors_required: Mapped[bool] = mapped_column(Boolean, default=False)
    grade: Mapped[Grade] = mapped_column(
        Enum(Grade, native_enum=False, length=16), default=Grade.ungraded
    )
    graded_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    control_measures: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    enforcement_grid_id: Mapped[int | None] = mapped_column(
        ForeignKey("grid.id", ondelete="SET NULL"), nullable=True, index=True
    )
    inspector_grid_id: Mapped[int | None] = mapped_column(
        ForeignKey("grid.id", ondelete="SET NULL"), nullable=True, index=True
    )
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    retire_reason: Mapped[str] = mapped_column(Text, default="")
