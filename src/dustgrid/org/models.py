"""Districts (with boundaries) and organisation units (L1 city bureau → L2 → L3 stations)."""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from dustgrid.models import Base, TimestampMixin


class UnitKind(enum.StrEnum):
    """What an organisation unit is; the level follows from it."""

    city_bureau = "city_bureau"  # 市建设局, L1
    district_bureau = "district_bureau"  # 区建设局, L2
    city_safety_station = "city_safety_station"  # 市安全监督站, L2 (metro, municipal works)
    supervision_station = "supervision_station"  # 区安全监督机构, L3
    third_party = "third_party"  # 第三方巡查服务单位 (inspector companies)


UNIT_LEVEL = {
    UnitKind.city_bureau: 1,
    UnitKind.district_bureau: 2,
    UnitKind.city_safety_station: 2,
    UnitKind.supervision_station: 3,
    UnitKind.third_party: 2,
}


class District(Base, TimestampMixin):
    """An administrative district (区) with its boundary as a GeoJSON geometry."""

    __tablename__ = "district"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    name_en: Mapped[str] = mapped_column(String(64), default="")
    boundary: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class OrgUnit(Base, TimestampMixin):
    """A node of the unit tree; ``district_id`` is set for district-bound units."""

    __tablename__ = "org_unit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    name_en: Mapped[str] = mapped_column(String(128), default="")
    kind: Mapped[UnitKind] = mapped_column(Enum(UnitKind, native_enum=False, length=32))
    level: Mapped[int] = mapped_column(Integer)
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("org_unit.id", ondelete="RESTRICT"), nullable=True, index=True
    )
    district_id: Mapped[int | None] = mapped_column(
        ForeignKey("district.id", ondelete="RESTRICT"), nullable=True, index=True
    )
