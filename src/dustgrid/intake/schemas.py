"""API shapes of the intake channels (hotline, video-AI webhook, module-to-module intake)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, field_validator, model_validator

from dustgrid.bounds import Id, Moment
from dustgrid.cases.states import CaseSource
from dustgrid.i18n import Msg
from dustgrid.intake.models import Channel, ComplaintStatus
from dustgrid.intake.policy import VideoEventKind
from dustgrid.text import MultilineText, OptionalPlainText, PlainText

# --------------------------------------------------------------------------- hotline


class ComplaintIn(BaseModel):
    """A call taken by the 12319 desk. A place (text) or a point is needed, or both."""

    channel: Channel = Channel.phone_12319
    caller_name: PlainText = Field(default="", max_length=64)
    caller_phone: str = Field(default="", max_length=32, pattern=r"^[0-9+\-() ]*$")
    received_at: Moment | None = Field(default=None, description="when the call came in")
    place_text: PlainText = Field(default="", max_length=255)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    content: MultilineText = Field(min_length=2, max_length=4000)
    category: PlainText = Field(default="dust_complaint", max_length=48)

    @field_validator("caller_name", "caller_phone", "place_text", "content")
    @classmethod
    def _strip(cls, v: str) -> str:
        return v.strip()

    @model_validator(mode="after")
    def _place(self) -> ComplaintIn:
        if (self.lat is None) != (self.lon is None):
            raise ValueError(Msg("intake.error.lat_lon_both"))
        if self.lat is None and not self.place_text:
            raise ValueError(Msg("intake.error.place_or_point"))
        return self


class Open311RequestIn(ComplaintIn):
    """A request filed by an Open311 client: the spec makes ``description`` optional (the
    service code already says what the problem is), so ``content`` may be empty here; the
    desk's own form and API still need one."""

    channel: Channel = Channel.open311
    content: str = Field(default="", max_length=4000)


class ComplaintOut(BaseModel):
    id: int
    channel: str
    status: str
    caller_name: str
    caller_phone: str
    received_at: datetime
    place_text: str
    lat: float | None
    lon: float | None
    district_id: int | None
    content: str
    category: str
    site_id: int | None
    site_name: str | None = None
    case_id: int | None
    case_state: str | None = None
    linked_at: datetime | None
    response_at: datetime | None
    resolved_at: datetime | None
    satisfaction: int | None
    satisfied: bool | None
    feedback_note: str
    dismiss_reason: str


class ComplaintPage(BaseModel):
    items: list[ComplaintOut]
    total: int
    page: int
    size: int


class SiteSuggestion(BaseModel):
    site_id: int
    project_code: str
    name: str
    address: str
    distance_m: int | None = Field(description="from the complaint's point; None without one")
    score: float = Field(description="0–1: text, distance and district combined (hotline_match)")
    text_score: float | None = Field(
        description="weighted share of the place text found in name/address; None without text"
    )
    matched: list[str] = Field(
        default_factory=list, description="words of the place text found in name/address"
    )
    same_district: bool | None = Field(
        default=None, description="in the complaint's district; None when that is unknown"
    )


class ComplaintDuplicate(BaseModel):
    complaint_id: int
    status: str
    received_at: datetime
    place_text: str
    distance_m: int | None
    case_id: int | None
    rules: list[str] = Field(default_factory=list,
                             description="same_caller, similar_place, near, same_site")  # fmt: skip
    gap_minutes: int = Field(default=0, description="minutes between the two calls")
    place_similarity: float = Field(default=0.0, description="0–1, Dice of character pairs")
    content_similarity: float = Field(default=0.0, description="0–1, Dice of character pairs")


class CaseDuplicate(BaseModel):
    case_id: int
    state: str
    source: str
    category: str
    site_id: int | None
    opened_at: datetime
    distance_m: int


class Suggestions(BaseModel):
    sites: list[SiteSuggestion]
    complaints: list[ComplaintDuplicate]
    cases: list[CaseDuplicate]
    radius_m: float
    window_hours: float
    duplicate_window_hours: float = 0.0
    caller_window_hours: float = 0.0
    policy_version: str


class LinkIn(BaseModel):
    """Either merge into ``case_id``, or open a case (at ``site_id``, or at the point)."""

    site_id: Id | None = None
    case_id: Id | None = None
    category: OptionalPlainText = Field(default=None, max_length=48)
    severity: str = "medium"

    @model_validator(mode="after")
    def _one(self) -> LinkIn:
        if self.site_id is not None and self.case_id is not None:
            raise ValueError(Msg("intake.error.site_or_case"))
        return self


class DismissIn(BaseModel):
    reason: MultilineText = Field(min_length=2, max_length=2000)


class FeedbackIn(BaseModel):
    """The answer given to the caller; ``responded``/``resolved`` mean "now"."""

    response_at: Moment | None = None
    resolved_at: Moment | None = None
    responded: bool = False
    resolved: bool = False
    satisfaction: int | None = Field(default=None, ge=1, le=5)
    satisfied: bool | None = None
    note: MultilineText = Field(default="", max_length=2000)


class HotlineSettingsIn(BaseModel):
    district_opens_cases: bool = Field(
        description="a district admin (L2) may open a case from a complaint of their district"
    )


class HotlineSettingsOut(HotlineSettingsIn):
    updated_at: datetime | None = None


class HotlineStats(BaseModel):
    month: str
    received: int
    responded: int
    responded_in_time: int
    resolved: int
    rated: int
    satisfied: int
    response_rate: float | None = Field(description="answered within the limit / received")
    resolution_rate: float | None = Field(description="resolved / received")
    satisfaction_rate: float | None = Field(description="satisfied / rated")
    response_limit_hours: float
    policy_version: str


# --------------------------------------------------------------------------- video AI


class VideoEventIn(BaseModel):
    """One event as a vendor posts it (JSON with a base64 snapshot, or multipart)."""

    event_id: str | None = Field(default=None, max_length=128, description="vendor's id")
    kind: VideoEventKind
    device_mn: str = Field(min_length=1, max_length=24)
    time: Moment = Field(description="when the camera saw it (ISO 8601; local if no zone)")
    confidence: float = Field(ge=0, le=1)


class VideoEventOut(BaseModel):
    event_id: int
    outcome: str
    case_id: int | None
    created: bool = Field(description="a new case was opened")
    duplicate: bool = Field(description="the vendor's event id was seen before")
    policy_version: str


# --------------------------------------------------------------------------- intake


class IntakeIn(BaseModel):
    source: CaseSource
    site_id: Id | None = None
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    category: PlainText = Field(max_length=48)
    description: MultilineText = Field(min_length=2, max_length=4000)
    severity: str = "medium"
    dedup_key: str | None = Field(default=None, max_length=128)
    dedup: bool = Field(default=True, description="false: never merge into an open case")
    dedup_window_hours: float | None = Field(default=None, gt=0, le=24 * 366)
    external_ref: OptionalPlainText = Field(default=None, max_length=128)
    evidence: dict[str, Any] | None = Field(default=None, description="JSON kept on the case")

    @model_validator(mode="after")
    def _where(self) -> IntakeIn:
        if (self.lat is None) != (self.lon is None):
            raise ValueError(Msg("intake.error.lat_lon_both"))
        if self.site_id is None and self.lat is None:
            raise ValueError(Msg("intake.error.site_or_location"))
        return self


class IntakeOut(BaseModel):
    case_id: int
    created: bool
    state: str
    merged_count: int
    dedup_key: str | None


class SourceUpdateIn(BaseModel):
    source: CaseSource
    external_ref: PlainText = Field(min_length=1, max_length=128)
    text: MultilineText = Field(min_length=1, max_length=4000)
    evidence: dict[str, Any] | None = None


class SourceUpdateOut(BaseModel):
    case_id: int
    event_id: int


# --------------------------------------------------------------------------- Open311 keys


class KeyIn(BaseModel):
    name: PlainText = Field(min_length=2, max_length=128)


class KeyOut(BaseModel):
    id: int
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


class KeyIssued(KeyOut):
    api_key: str = Field(description="shown once; only a hash is stored")


STATUS_VALUES = tuple(s.value for s in ComplaintStatus)
