"""API shapes of inspections: check-in, answers, the visit, the checklist template."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from dustgrid.bounds import Id, Moment
from dustgrid.inspections.models import InspectionMode, ItemOutcome
from dustgrid.text import MultilineText, PlainText

KEY_PATTERN = r"^[A-Za-z0-9_.:-]{8,64}$"


class CheckInIn(BaseModel):
    """A check-in from the phone. ``idempotency_key`` is generated on the phone once per
    visit: sending the same check-in again returns the same visit."""

    model_config = ConfigDict(extra="forbid")

    site_id: Id
    mode: InspectionMode = InspectionMode.on_site
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    accuracy_m: float | None = Field(default=None, ge=0, le=100_000)
    idempotency_key: str = Field(pattern=KEY_PATTERN, description="8–64 letters, digits, _.:-")
    checked_in_at: Moment | None = Field(
        default=None, description="the phone's time of the check-in (a queued visit sent late)"
    )


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item_code: PlainText = Field(max_length=48)
    outcome: ItemOutcome
    note: MultilineText = Field(default="", max_length=1000)


class SubmitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answers: list[AnswerIn] = Field(max_length=60)
    note: MultilineText = Field(default="", max_length=2000)


class ChecklistItemOut(BaseModel):
    code: str
    label: str
    seasonal: bool
    defect: str
    defect_label: str


class ChecklistOut(BaseModel):
    version: str
    quarter: int
    items: list[ChecklistItemOut]


class PhotoOut(BaseModel):
    id: int
    item_code: str
    flags: list[str]
    flag_labels: list[str] = []
    exif_taken_at: datetime | None
    exif_lat: float | None
    exif_lon: float | None
    url: str = Field(description="the watermarked copy")
    original_url: str


class ItemOut(BaseModel):
    item_code: str
    label: str
    outcome: ItemOutcome
    note: str
    case_id: int | None


class CaseRef(BaseModel):
    id: int
    category: str
    category_label: str
    state: str


class InspectionOut(BaseModel):
    id: int
    idempotency_key: str
    site_id: int
    site_name: str = ""
    inspector_id: int
    inspector_name: str = ""
    group_id: int | None
    mode: InspectionMode
    result: str
    template_version: str
    checked_in_at: datetime
    submitted_at: datetime | None
    check_in_lat: float | None
    check_in_lon: float | None
    check_in_accuracy_m: float | None
    check_in_distance_m: float | None
    note: str


class InspectionDetail(InspectionOut):
    items: list[ItemOut] = []
    photos: list[PhotoOut] = []
    cases: list[CaseRef] = []


class InspectionPage(BaseModel):
    items: list[InspectionOut]
    total: int
    page: int
    size: int


class NearSiteOut(BaseModel):
    id: int
    name: str
    project_code: str
    address: str
    distance_m: float | None
