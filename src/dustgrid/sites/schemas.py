"""API shapes of the site ledger."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from dustgrid.bounds import Day, Id, reject_null
from dustgrid.sites.models import EnterpriseKind, Grade, PermitStatus, SiteKind, Stage
from dustgrid.sites.uscc import USCCError, validate_uscc
from dustgrid.text import MultilineText, OptionalPlainText, PlainText


class EnterpriseRef(BaseModel):
    """An enterprise named by its unified social credit code (created when new)."""

    name: PlainText = Field(min_length=1, max_length=128)
    uscc: str

    @field_validator("uscc")
    @classmethod
    def _uscc(cls, v: str) -> str:
        try:
            return validate_uscc(v)
        except USCCError as exc:
            raise ValueError(exc.msg) from exc


class SiteFields(BaseModel):
    """Fields shared by create and update; all optional here, required ones in SiteCreate."""

    model_config = ConfigDict(extra="forbid")

    name: OptionalPlainText = Field(default=None, min_length=1, max_length=200)
    permit_no: OptionalPlainText = Field(default=None, max_length=64)
    permit_status: PermitStatus | None = None
    kind: SiteKind | None = None
    district_id: Id | None = None
    l2_unit_id: Id | None = None
    address: OptionalPlainText = Field(default=None, max_length=255)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    boundary: dict[str, Any] | None = None
    built_up_area: bool | None = None
    area_m2: float | None = Field(default=None, ge=0)
    investment_yuan: Decimal | None = Field(default=None, ge=0)
    stage: Stage | None = None
    planned_start_date: Day | None = None
    planned_end_date: Day | None = None
    actual_start_date: Day | None = None
    actual_end_date: Day | None = None
    builder: EnterpriseRef | None = None
    contractor: EnterpriseRef | None = None
    supervisor: EnterpriseRef | None = None
    contact_name: OptionalPlainText = Field(default=None, max_length=64)
    contact_phone: OptionalPlainText = Field(default=None, max_length=32)
    # No ``grade``: it follows from inspections and open cases (inspections.grading); a
    # posted grade is refused as an unknown field (422).
    control_measures: dict[str, Any] | None = None
    enforcement_grid_id: Id | None = None
    inspector_grid_id: Id | None = None


class SiteCreate(SiteFields):
    project_code: PlainText = Field(min_length=1, max_length=64)
    name: PlainText = Field(min_length=1, max_length=200)
    kind: SiteKind
    district_id: Id
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    stage: Stage


class SiteUpdate(SiteFields):
    """Absent fields stay as they are; ``null`` clears only the columns that may be empty
    (dates, boundary, enterprises, control measures) or are derived again (L2 unit, grids)."""

    _not_null = reject_null(
        "name", "permit_no", "permit_status", "kind", "district_id", "address", "lat", "lon",
        "built_up_area", "area_m2", "investment_yuan", "stage", "contact_name",
        "contact_phone",
    )  # fmt: skip


class SiteRetire(BaseModel):
    reason: MultilineText = Field(min_length=2, max_length=500)


class SitePick(BaseModel):
    """One match of the site picker: enough to tell sites of the same name apart."""

    id: int
    project_code: str
    name: str
    address: str
    permit_no: str
    district: str
    label: str = Field(description="what the picker's box shows once the site is chosen")


class EnterpriseOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    uscc: str
    kind: EnterpriseKind
    bad_record_count: int
    blacklisted: bool


class SiteOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    project_code: str
    name: str
    permit_no: str
    permit_status: PermitStatus
    kind: SiteKind
    district_id: int
    l2_unit_id: int
    address: str
    lat: float
    lon: float
    gcj_lat: float
    gcj_lon: float
    boundary: dict[str, Any] | None
    built_up_area: bool
    area_m2: float
    investment_yuan: Decimal
    stage: Stage
    planned_start_date: date | None
    planned_end_date: date | None
    actual_start_date: date | None
    actual_end_date: date | None
    builder_id: int | None
    contractor_id: int | None
    supervisor_id: int | None
    contact_name: str
    contact_phone: str
    monitors_required: bool
    grade: Grade
    graded_at: datetime | None
    control_measures: dict[str, Any] | None
    enforcement_grid_id: int | None
    inspector_grid_id: int | None
    retired_at: datetime | None
    retire_reason: str
    created_at: datetime
    updated_at: datetime


class SiteListItem(BaseModel):
    id: int
    project_code: str
    name: str
    district_id: int
    district_name: str
    kind: SiteKind
    stage: Stage
    grade: Grade
    permit_status: PermitStatus
    contractor_name: str | None
    monitors_required: bool
    retired: bool


class SitePage(BaseModel):
    items: list[SiteListItem]
    total: int
    page: int
    size: int


class SiteFilter(BaseModel):
    """Ledger filters shared by the list page, the API and the Excel export."""

    q: str | None = None
    district_id: int | None = None
    grade: Grade | None = None
    stage: Stage | None = None
    kind: SiteKind | None = None
    permit_status: PermitStatus | None = None
    grid_id: int | None = None
    monitors_required: bool | None = None
    include_retired: bool = False
