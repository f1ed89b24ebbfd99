"""API shapes of heavy-pollution emergencies and their orders."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from dustgrid.bounds import Id, Moment
from dustgrid.emergencies.policy import AreaKind, Level
from dustgrid.i18n import Msg
from dustgrid.text import MultilineText


class EmergencyCreate(BaseModel):
    """A heavy-pollution weather warning to declare (city admin).

    ``area_kind`` ``city``: every active site; ``districts``: the sites of ``district_ids``;
    ``polygon``: the sites inside ``polygon`` (GeoJSON Polygon or MultiPolygon, WGS-84).
    Times carry their offset (``2026-12-07T08:00:00+08:00``).
    """

    model_config = ConfigDict(extra="forbid")

    level: Level
    starts_at: Moment
    ends_at: Moment
    area_kind: AreaKind
    district_ids: list[Id] = Field(default_factory=list, max_length=100)
    polygon: dict[str, Any] | None = None
    note: MultilineText = Field(default="", max_length=2000)

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError(Msg("emergencies.error.needs_offset"))
        return value

    @model_validator(mode="after")
    def _area_matches_kind(self) -> EmergencyCreate:
        if self.area_kind == AreaKind.districts and not self.district_ids:
            raise ValueError("district_ids: choose at least one district for area_kind=districts")
        if self.area_kind == AreaKind.polygon and self.polygon is None:
            raise ValueError("polygon: draw the area for area_kind=polygon")
        return self


class EmergencyOut(BaseModel):
    id: int
    level: Level
    starts_at: datetime
    ends_at: datetime
    ended_at: datetime | None
    status: str = Field(description="upcoming | active | ended_early | over")
    area_kind: AreaKind
    district_ids: list[int]
    polygon: dict[str, Any] | None
    note: str
    policy_version: str
    measures: list[str] = Field(
        description="measure keys of the level (i18n emergencies.measure.*)"
    )
    sites: int = Field(description="orders at sites the caller sees")


class ReadingOut(BaseModel):
    at: datetime
    value: float


class ComplianceOut(BaseModel):
    site_id: int
    site_name: str
    project_code: str
    district_id: int
    level: Level
    measures: list[str]
    pm10: ReadingOut | None = Field(description="newest hourly PM10 mean in the episode, µg/m³")
    tsp: ReadingOut | None = Field(description="newest hourly TSP mean in the episode, µg/m³")
    alerts: int = Field(description="exceedance alerts overlapping the episode")
    alerts_open: int
    inspections: int = Field(description="inspections submitted during the episode")
    inspections_with_problems: int
    verdict: str = Field(description="breach | checked | unchecked")
