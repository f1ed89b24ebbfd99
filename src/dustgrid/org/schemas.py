"""API shapes of districts and the organisation unit tree."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from dustgrid.bounds import Id
from dustgrid.geo.shapes import GeometryError, validate_geometry
from dustgrid.i18n import Msg
from dustgrid.org.models import UnitKind
from dustgrid.text import OptionalPlainText, PlainText


def _boundary(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """Clean GeoJSON Polygon/MultiPolygon, or a 422 naming the first problem."""
    if value is None:
        return None
    try:
        return validate_geometry(value)
    except GeometryError as exc:
        raise ValueError(Msg("org.error.invalid_boundary", {"detail": str(exc)})) from exc


class DistrictFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: OptionalPlainText = Field(default=None, min_length=1, max_length=64)
    name_en: OptionalPlainText = Field(default=None, max_length=64)
    boundary: dict[str, Any] | None = None

    @field_validator("boundary")
    @classmethod
    def _check_boundary(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        return _boundary(v)


class DistrictCreate(DistrictFields):
    # Administrative division code (行政区划代码), six digits, longer codes allowed for towns.
    code: str = Field(pattern=r"^[0-9]{6,12}$")
    name: PlainText = Field(min_length=1, max_length=64)


class DistrictUpdate(DistrictFields):
    code: str | None = Field(default=None, pattern=r"^[0-9]{6,12}$")


class DistrictOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    name_en: str
    boundary: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime


class UnitCreate(BaseModel):
    """A new unit; ``level`` is optional and, when given, must match the kind."""

    model_config = ConfigDict(extra="forbid")

    name: PlainText = Field(min_length=1, max_length=128)
    name_en: PlainText = Field(default="", max_length=128)
    kind: UnitKind
    level: int | None = Field(default=None, ge=1, le=3)
    parent_id: Id | None = None
    district_id: Id | None = None


class UnitUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: OptionalPlainText = Field(default=None, min_length=1, max_length=128)
    name_en: OptionalPlainText = Field(default=None, max_length=128)
    kind: UnitKind | None = None
    level: int | None = Field(default=None, ge=1, le=3)
    parent_id: Id | None = None
    district_id: Id | None = None


class UnitOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    name_en: str
    kind: UnitKind
    level: int
    parent_id: int | None
    district_id: int | None


class UnitNode(UnitOut):
    """A unit with its district's name and its children, for the tree view."""

    district_name: str | None = None
    children: list[UnitNode] = Field(default_factory=list)
