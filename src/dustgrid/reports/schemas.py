"""JSON shapes of the notice and archive routes (labels in the caller's language; times
in UTC, as everywhere in the API)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class FilesOut(BaseModel):
    pdf: str = Field(description="the PDF's address")
    xlsx: str = Field(description="the workbook's address")


# ---------------------------------------------------------------------------- notices


class FigureOut(BaseModel):
    key: str = Field(description="what the figure is (a message key)")
    label: str
    value: str = Field(description="as printed in the notice")


class RankOut(BaseModel):
    rank: int = Field(description="equal scores share a rank")
    name: str
    score: float
    lost: float = Field(description="the sum of deductions (0 or negative)")
    consequence: str = Field(description="'' | interview | suspended | blacklisted")
    consequence_label: str


class RankingOut(BaseModel):
    kind: str = Field(description="l2_unit | officer_group | inspector_group | provider")
    label: str
    rows: list[RankOut]


class BlackOut(BaseModel):
    name: str
    records: int = Field(description="bad-behaviour records")


class NoticeSummaryOut(BaseModel):
    id: int
    month: str = Field(description="YYYY-MM")
    assessment_version: int
    assessment_state: str = Field(description="open | closed, when published")
    published_at: datetime
    published_by: str = Field(description="who published it ('' when the account is gone)")
    files: FilesOut


class NoticeOut(BaseModel):
    """A published notice (``id`` set, what it said when published) or a draft (``id``
    null: the notice as the records stand now, L1 only)."""

    id: int | None
    draft: bool
    month: str
    assessment_version: int
    assessment_state: str = Field(description="open | closed")
    published_at: datetime | None
    published_by: str
    content_kept: bool = Field(
        description="false for a notice published before its content was kept: "
        "figures, rankings and lists are then empty; its files hold them"
    )
    title: str
    figures: list[FigureOut]
    rankings: list[RankingOut]
    red: list[str] = Field(description="the red list (红榜): enterprises")
    black: list[BlackOut] = Field(description="the blacklist (黑名单)")
    files: FilesOut


class PublishIn(BaseModel):
    month: str = Field(max_length=7, description="YYYY-MM")


class DraftMonthOut(BaseModel):
    month: str
    assessment_state: str = Field(description="open | closed")
    assessment_version: int = Field(description="the assessment's current version")
    published_id: int | None = Field(description="the month's latest publication")
    published_version: int | None = Field(description="the version it was made from")
    up_to_date: bool = Field(description="the latest publication is of the current version")
    draft: str = Field(description="the draft's address")


# ---------------------------------------------------------------------------- archives


class ArchivePhotoOut(BaseModel):
    id: int
    item_code: str = Field(description="the checklist item ('' for the visit as a whole)")
    item_label: str
    taken_at: datetime | None = Field(description="from the photo's EXIF, when it had one")
    url: str = Field(description="the watermarked copy")
    original_url: str


class ArchiveVisitOut(BaseModel):
    id: int
    checked_in_at: datetime
    submitted_at: datetime | None
    inspector_id: int
    inspector_name: str
    mode: str
    mode_label: str
    result: str
    result_label: str
    photos: list[ArchivePhotoOut]


class ArchiveCaseOut(BaseModel):
    id: int
    opened_at: datetime
    closed_at: datetime | None
    category: str
    description: str
    state: str
    state_label: str


class ArchiveGradeOut(BaseModel):
    changed_at: datetime
    previous_grade: str | None
    grade: str
    grade_label: str


class ArchiveAlertOut(BaseModel):
    id: int
    kind: str
    kind_label: str
    metric: str | None
    started_at: datetime
    ended_at: datetime | None


class ArchivePeriodOut(BaseModel):
    device_id: int
    device_name: str
    device_kind: str
    started_at: datetime
    ended_at: datetime | None
    repair_days: float | None = Field(description="from the notice to the repair")


class SensorMonthOut(BaseModel):
    month: str = Field(description="YYYY-MM, local time")
    metric: str
    mean: float | None = Field(description="the mean of the daily means")
    peak: float | None = Field(description="the highest daily maximum")
    days: int = Field(description="days with data")


class ArchiveSiteOut(BaseModel):
    id: int
    name: str
    project_code: str
    address: str
    grade: str
    grade_label: str


class SiteArchiveOut(BaseModel):
    site: ArchiveSiteOut
    inspections: list[ArchiveVisitOut] = Field(description="newest first, with photos")
    cases: list[ArchiveCaseOut]
    grades: list[ArchiveGradeOut] = Field(description="the grade history, newest first")
    alerts: list[ArchiveAlertOut]
    device_periods: list[ArchivePeriodOut] = Field(description="device offline periods")
    sensor_stats: list[SensorMonthOut] = Field(description="per month and metric")
    files: FilesOut


class ArchiveMemberOut(BaseModel):
    id: int
    display_name: str
    role: str
    role_label: str
    unit_id: int | None
    unit_name: str


class MemberVisitOut(BaseModel):
    id: int
    checked_in_at: datetime
    site_id: int
    site_name: str
    mode: str
    mode_label: str
    result: str
    result_label: str
    photo_count: int


class CoverageOut(BaseModel):
    month: str = Field(description="YYYY-MM, local time")
    visits: int
    sites: int = Field(description="distinct sites visited")
    days: int = Field(description="days in the field")


class GroupScoreOut(BaseModel):
    month: str
    kind: str = Field(description="officer_group | inspector_group")
    group_id: int
    group_name: str
    score: float
    consequence: str
    consequence_label: str


class MemberArchiveOut(BaseModel):
    member: ArchiveMemberOut
    visits: list[MemberVisitOut] = Field(description="newest first")
    coverage: list[CoverageOut] = Field(description="per month, newest first")
    cases: list[ArchiveCaseOut] = Field(description="reported by them or their responsibility")
    scores: list[GroupScoreOut] = Field(description="their groups' scores, every month")
    files: FilesOut
