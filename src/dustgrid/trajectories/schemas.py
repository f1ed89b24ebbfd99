"""Request and response bodies of the trajectories API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from dustgrid.bounds import Id
from dustgrid.sites.models import SiteKind, Stage
from dustgrid.text import PlainText
from dustgrid.trajectories.models import DismissReason, PlaceKind, SuspectStatus


class TruckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plate: PlainText = Field(min_length=2, max_length=16)
    company: PlainText = Field(default="", max_length=128)
    terminal_id: PlainText = Field(min_length=1, max_length=64)
    active: bool = True


class TruckOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    plate: str
    company: str
    terminal_id: str
    active: bool


class PlaceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    """A circle (``lat``, ``lon``, ``radius_m``) or a drawn ``boundary`` (GeoJSON Polygon or
    MultiPolygon, WGS-84: its centre and covering radius are then computed)."""

    name: PlainText = Field(min_length=1, max_length=128)
    kind: PlaceKind
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    radius_m: float = Field(default=150.0, gt=0, le=5000)
    boundary: dict[str, Any] | None = None
    note: PlainText = Field(default="", max_length=500)


class PlaceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    kind: PlaceKind
    lat: float
    lon: float
    radius_m: float
    boundary: dict[str, Any] | None
    district_id: int | None
    note: str
    suspect_id: int | None
    active: bool


class ImportResult(BaseModel):
    created: int
    updated: int
    errors: list[dict[str, Any]]


class BatchOut(BaseModel):
    batch_id: str
    duplicate: bool
    crs: str
    rows: int
    stored: int
    bad: int
    errors: list[dict[str, Any]]


class Evidence(BaseModel):
    trucks: int
    visits: int
    days: int
    dwell_minutes: float
    night_share: float
    first_seen: datetime
    last_seen: datetime
    companies: list[str]
    plates: list[str]
    nearest_known: str | None
    known_clearance_m: float | None


class SuspectOut(BaseModel):
    id: int
    ref: str
    status: SuspectStatus
    score: float
    lat: float
    lon: float
    district_id: int | None
    district_name: str
    # The L2 unit the push was routed to (who gives the verdict): the district bureau, or
    # the city safety station inside its metro and municipal grids.
    unit_id: int | None
    unit_name: str
    grid_id: int | None
    case_id: int | None
    detected_on: date
    last_detected_on: date
    pushed_at: datetime
    due_at: datetime
    overdue: bool
    evidence: Evidence
    verdict_at: datetime | None
    verdict_by: str
    dismiss_reason: DismissReason | None
    verdict_text: str
    site_id: int | None
    known_place_id: int | None


class ConfirmIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: PlainText = Field(default="", max_length=200)
    # None: the deciding unit's default (municipal for the city safety station, else other)
    kind: SiteKind | None = None
    stage: Stage = Stage.earthwork
    note: PlainText = Field(default="", max_length=1000)
    responsible_id: Id | None = None


class DismissIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: DismissReason
    text: PlainText = Field(default="", max_length=1000)


class FeedbackItem(BaseModel):
    suspect_id: int
    ref: str
    case_id: int | None
    verdict: SuspectStatus
    reason: DismissReason | None
    text: str
    person: str
    at: datetime
    lat: float
    lon: float
    site_id: int | None
    evidence: Evidence


class FeedbackPage(BaseModel):
    items: list[FeedbackItem]
    next_since: datetime | None


class RunOut(BaseModel):
    day: date
    stays: int
    truck_days: int
    clusters: int
    suspects: int
    pushed: int
    refreshed: int
    skipped_outside: int


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: PlainText = Field(min_length=1, max_length=128)
    scopes: list[str] = Field(default_factory=lambda: ["fixes:write", "feedback:read"])


class KeyIssued(BaseModel):
    id: int
    name: str
    key: str
    scopes: list[str]
