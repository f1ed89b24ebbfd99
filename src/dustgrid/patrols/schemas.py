"""JSON shapes of the patrol routes."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field


class StopOut(BaseModel):
    site_id: int
    name: str
    lat: float
    lon: float
    status: str = Field(description="visited | missed (day passed, not visited) | planned")


class MemberDayOut(BaseModel):
    date: date
    member: str | None = Field(description="username of the member; null: group has none")
    member_name: str
    sites: list[int] = Field(description="site ids in route order")
    stops: list[StopOut]


class PlanOut(BaseModel):
    grid: str
    grid_name: str
    group: str
    group_id: int
    kind: str = Field(description="weekly | fortnightly")
    period_start: date
    period_end: date
    policy_version: str
    shortfall: int = Field(description="sites the daily quota could not fit into the period")
    shortfall_site_ids: list[int]
    days: list[MemberDayOut]


class WeekPlansOut(BaseModel):
    week: str
    monday: date
    focus: list[str] = Field(description="seasonal focus item codes (quarter of the week)")
    plans: list[PlanOut]


class CoverageOut(BaseModel):
    level: str
    key: str
    label: str
    planned: int
    visited: int
    missed: int
    rate: float | None
