"""The overview's API shape: figures only (labels are the page's business)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel


class DistrictRow(BaseModel):
    district_id: int
    name: str
    name_en: str
    sites: int
    grades: dict[str, int]
    compliance_rate: float | None  # (基本达标 + 完全达标) / graded sites
    monitors: int
    online: int
    online_rate: float | None
    open_cases: int
    lights: dict[str, int]
    received: int
    handling_rate: float | None
    closure_rate: float | None
    rank: int


class TrendPoint(BaseModel):
    day: date
    sites: float | None
    reference: float | None


class Overview(BaseModel):
    district_id: int | None
    generated_at: datetime
    month_start: date
    sites: int
    grades: dict[str, int]
    compliance_rate: float | None
    monitors: int
    online: int
    online_rate: float | None
    alerts_today: int
    alerts_open_today: int
    alerts_by_kind: dict[str, int]
    open_cases: int
    lights: dict[str, int]
    received: int
    handled: int
    closed: int
    handling_rate: float | None
    closure_rate: float | None
    districts: list[DistrictRow]
    trend: list[TrendPoint]
    refresh_seconds: int
