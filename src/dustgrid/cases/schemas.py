"""API shapes of cases, their timeline, the overdue board, penalties and credit."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

from dustgrid.bounds import Day
from dustgrid.text import MultilineText


class AttachmentOut(BaseModel):
    id: int
    event_id: int | None
    kind: str
    filename: str
    mime: str
    size: int
    sha256: str
    url: str


class EventOut(BaseModel):
    id: int
    kind: str
    at: datetime
    actor_name: str
    actor_id: int | None = None
    actor_role: str
    move: str | None
    from_state: str | None
    to_state: str | None
    reason: str
    data: dict[str, Any]
    policy_version: str


class CaseOut(BaseModel):
    id: int
    source: str
    state: str
    site_id: int | None
    site_name: str | None = None
    district_id: int | None
    lat: float | None
    lon: float | None
    category: str
    category_label: str = ""
    description: str
    severity: str
    assigned_unit_id: int | None
    assigned_unit_name: str | None = None
    responsible_user_id: int | None
    responsible_name: str | None = None
    disposition: str | None
    grid_handled: bool = Field(
        default=False,
        description="handled by the grid on the spot (网格现场处置): no dispatch, no acceptance",
    )
    clock: str | None
    level: str | None
    due_at: datetime | None
    light: str | None = Field(description="green / yellow / red for the running stage")
    deadline_at: datetime | None
    deadline_light: str | None = Field(description="light of the overall deadline")
    escalated_to: str | None
    rework_count: int
    merged_count: int
    opened_at: datetime
    closed_at: datetime | None
    external_ref: str | None


class CaseDetail(CaseOut):
    rectify_due_at: datetime | None
    penalty_case_number: str
    review_date: date | None
    look_back_due_at: datetime | None
    events: list[EventOut]
    attachments: list[AttachmentOut]
    allowed_moves: list[str]


class CasePage(BaseModel):
    items: list[CaseOut]
    total: int
    page: int
    size: int


class BoardRow(BaseModel):
    unit_id: int | None
    unit_name: str
    open: int
    yellow: int
    red: int
    oldest_due_at: datetime | None


class MapCase(BaseModel):
    id: int
    lat: float
    lon: float
    state: str
    light: str
    category: str
    site_id: int | None


class LookBackRequest(BaseModel):
    rate: float | None = Field(default=None, gt=0, le=1)


class LookBackResult(BaseModel):
    selected: list[int]


class ReasonIn(BaseModel):
    reason: MultilineText = Field(min_length=2, max_length=2000)


class ConfirmIn(BaseModel):
    start: Day | None = None
    note: MultilineText = ""


class ProblemOut(BaseModel):
    id: int
    site_id: int
    case_id: int
    problem_date: date
    nth: int
    action: str
    stop_work_days: int
    stop_work_months: int
    penalty: bool
    status: str
    policy_version: str
    decision_note: str


class StopWorkOut(BaseModel):
    id: int
    site_id: int
    problem_id: int
    first_day: date
    last_day: date
    resume_on: date
    lifted_at: datetime | None
    lift_reason: str


class CreditLists(BaseModel):
    red: list[dict[str, Any]]
    black: list[dict[str, Any]]
