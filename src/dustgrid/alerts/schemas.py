"""API shapes of alerts, rule settings, dry runs and quality counts."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from dustgrid.bounds import Day, Id
from dustgrid.text import MultilineText

StateFilter = Literal["active", "acknowledged", "cleared", "open"]
KindFilter = Literal["exceedance", "offline", "stale_key", "quality"]
SeverityFilter = Literal["low", "medium", "high"]


class AlertFilterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: StateFilter | None = None
    kind: KindFilter | None = None
    site_id: int | None = None
    district_id: int | None = None
    severity: SeverityFilter | None = None
    held: bool | None = None
    date_from: date | None = Field(default=None, description="started on or after (local day)")
    date_to: date | None = Field(default=None, description="started on or before (local day)")


class AlertOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    rule_key: str
    rule_version: str
    policy_version: str
    site_id: int | None
    site_name: str | None = None
    district_id: int | None
    device_id: int | None
    device_mn: str | None = None
    metric: str | None
    severity: str
    state: str
    held: bool
    started_at: datetime
    ended_at: datetime | None
    raised_at: datetime
    acknowledged_by_id: int | None
    acknowledged_at: datetime | None
    ack_note: str
    cleared_at: datetime | None
    clear_reason: str
    peak_value: float | None
    peak_excess: float | None
    limit_value: float | None
    windows_exceeded: int
    case_id: int | None


class AlertDetail(AlertOut):
    evidence: dict[str, Any]


class AlertPage(BaseModel):
    items: list[AlertOut]
    total: int
    page: int
    size: int


class AckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: MultilineText = Field(default="", max_length=2000)


class ProfileSettingIn(BaseModel):
    """A new version of the city's setting of a standards profile."""

    model_config = ConfigDict(extra="forbid")

    profile_id: str = Field(min_length=1, max_length=64)
    tuning: dict[str, Any] = Field(default_factory=dict)
    enabled: bool = True
    note: MultilineText = Field(default="", max_length=2000)


class ProfileSettingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    profile_id: str
    version: int
    enabled: bool
    tuning: dict[str, Any]
    note: str
    active: bool
    created_by_id: int | None
    created_at: datetime
    effective: dict[str, Any]


class ProfilesOut(BaseModel):
    builtin: list[dict[str, Any]]
    tunable: list[str]
    settings: list[ProfileSettingOut]
    history: list[ProfileSettingOut]
    in_force: list[dict[str, Any]]
    defaults_in_force: bool


class DryRunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    profile_id: str = Field(min_length=1, max_length=64)
    tuning: dict[str, Any] = Field(default_factory=dict)
    start: Day
    end: Day
    site_id: Id | None = None


class QualityCount(BaseModel):
    key_id: int | None
    name: str | None
    counts: dict[str, int]
    total: int


class QualityOut(BaseModel):
    start: datetime
    end: datetime
    per_site: list[QualityCount]
    per_provider: list[QualityCount]
