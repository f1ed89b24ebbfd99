"""API shapes of devices, onboarding applications, change requests, keys and quarantine."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from dustgrid.bounds import Id, Moment, reject_null
from dustgrid.devices.models import (
    ApplicationStatus,
    CrcVariant,
    DeviceKind,
    Lifecycle,
    RequestKind,
    RequestStatus,
)
from dustgrid.devices.protocol import HEADER_TEXT_CLASS, MAX_PW_LEN
from dustgrid.devices.timeline import Light, StepState
from dustgrid.text import MultilineText, OptionalPlainText, PlainText

# HJ 212 MN (设备唯一标识): up to 24 letters and digits.
MN_PATTERN = r"^[0-9A-Za-z_\-]{1,24}$"
Unit = Literal["ug/m3", "mg/m3"]
# HJ 212 PW: the one limit the listener and the reply builder apply too (codes.MAX_PW_LEN,
# docs/devices.md): printable ASCII without ';' or '&', empty for none.
PW_PATTERN = rf"^{HEADER_TEXT_CLASS}{{0,{MAX_PW_LEN}}}$"


class DeviceSettings(BaseModel):
    """Fields an admin may set on a device after registration (not MN, site or position:
    moving a device needs an approved request, domain.md §7)."""

    model_config = ConfigDict(extra="forbid")

    name: OptionalPlainText = Field(default=None, max_length=128)
    model: OptionalPlainText = Field(default=None, max_length=64)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    password: str | None = Field(
        default=None,
        max_length=MAX_PW_LEN,
        pattern=PW_PATTERN,
        description=f"HJ 212 PW: up to {MAX_PW_LEN} printable ASCII characters, no ';' or '&'",
    )
    particulate_unit: Unit | None = None
    crc_variant: CrcVariant | None = None
    main_stream_width: int | None = Field(default=None, ge=1, le=16384)
    main_stream_height: int | None = Field(default=None, ge=1, le=16384)
    sub_stream_width: int | None = Field(default=None, ge=1, le=16384)
    sub_stream_height: int | None = Field(default=None, ge=1, le=16384)
    offline_after_minutes: int | None = Field(default=None, ge=1, le=7 * 24 * 60)
    provider_id: Id | None = None


class DeviceUpdate(DeviceSettings):
    """Absent fields stay as they are; ``null`` clears only the columns that may be empty."""

    _not_null = reject_null("name", "model", "particulate_unit", "crc_variant")


class DeviceCreate(DeviceSettings):
    """Direct registration by an admin (existing devices, reference stations): active."""

    mn: str = Field(pattern=MN_PATTERN)
    kind: DeviceKind
    site_id: Id | None = None
    district_id: Id | None = Field(default=None, description="reference stations only")
    position: PlainText = Field(default="", max_length=128)


class DeviceFilter(BaseModel):
    q: str | None = None
    site_id: int | None = None
    district_id: int | None = None
    kind: DeviceKind | None = None
    online: bool | None = None
    provider_id: int | None = None
    lifecycle: Lifecycle | None = None


class DeviceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    mn: str
    kind: DeviceKind
    site_id: int | None
    district_id: int | None
    provider_id: int | None
    application_id: int | None
    name: str
    model: str
    position: str
    lat: float | None
    lon: float | None
    particulate_unit: str
    crc_variant: CrcVariant
    main_stream_width: int | None
    main_stream_height: int | None
    sub_stream_width: int | None
    sub_stream_height: int | None
    offline_after_minutes: int | None
    lifecycle: Lifecycle
    online: bool
    last_seen_at: datetime | None
    activated_at: datetime | None
    removed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class DeviceListItem(BaseModel):
    id: int
    mn: str
    name: str
    kind: DeviceKind
    site_id: int | None
    site_name: str | None
    district_id: int | None
    provider_id: int | None
    provider_name: str | None
    lifecycle: Lifecycle
    online: bool
    last_seen_at: datetime | None


class DevicePage(BaseModel):
    items: list[DeviceListItem]
    total: int
    page: int
    size: int


class MetricOut(BaseModel):
    metric: str
    last_seen_at: datetime
    last_data_time: datetime
    last_value: float | None
    stale: bool


class StepOut(BaseModel):
    key: str
    state: StepState
    light: Light
    due_date: date | None
    done_at: datetime | None
    late: bool


class DeviceDetail(DeviceOut):
    has_password: bool
    site_name: str | None
    provider_name: str | None
    offline_after_effective: int
    metrics: list[MetricOut]
    steps: list[StepOut]


class StreamCheckIn(BaseModel):
    """A provider's check whether a camera's video can be viewed (003 附件6)."""

    model_config = ConfigDict(extra="forbid")

    ok: bool = Field(description="true: the stream could be viewed")
    checked_at: Moment | None = Field(
        default=None, description="when the check was made (with time zone); default now"
    )
    note: PlainText = Field(default="", max_length=255, description="what was seen, e.g. black")
    main_stream_width: int | None = Field(
        default=None, ge=1, le=16384, description="the main stream's width as measured, pixels"
    )
    main_stream_height: int | None = Field(
        default=None, ge=1, le=16384, description="with main_stream_width"
    )
    sub_stream_width: int | None = Field(
        default=None, ge=1, le=16384, description="the sub stream's width as measured, pixels"
    )
    sub_stream_height: int | None = Field(
        default=None, ge=1, le=16384, description="with sub_stream_width"
    )


class StreamCheckOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    device_id: int
    checked_at: datetime
    ok: bool
    note: str
    main_stream_width: int | None
    main_stream_height: int | None
    sub_stream_width: int | None
    sub_stream_height: int | None


class OfflinePeriodOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    device_id: int
    started_at: datetime
    detected_at: datetime
    notified_at: datetime | None
    ended_at: datetime | None
    repair_seconds: int | None


# --------------------------------------------------------------------------- onboarding


class ApplicationDevice(BaseModel):
    """One device of an application's device list."""

    model_config = ConfigDict(extra="forbid")

    mn: str = Field(pattern=MN_PATTERN)
    kind: DeviceKind
    model: PlainText = Field(default="", max_length=64)
    position: PlainText = Field(default="", max_length=128)
    name: PlainText = Field(default="", max_length=128)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    particulate_unit: Unit = "ug/m3"
    crc_variant: CrcVariant = CrcVariant.hj212
    main_stream_width: int | None = Field(default=None, ge=1, le=16384)
    main_stream_height: int | None = Field(default=None, ge=1, le=16384)
    sub_stream_width: int | None = Field(default=None, ge=1, le=16384)
    sub_stream_height: int | None = Field(default=None, ge=1, le=16384)


class ApplicationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    site_id: Id
    provider_id: Id
    pre_approved_model: bool = False
    devices: list[ApplicationDevice] = Field(min_length=1, max_length=50)


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    approve: bool
    note: MultilineText = Field(default="", max_length=1000)


class DeviceTestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    passed: bool
    note: MultilineText = Field(default="", max_length=1000)


class DeviceBrief(BaseModel):
    id: int
    mn: str
    kind: DeviceKind
    model: str
    position: str
    lifecycle: Lifecycle
    online: bool
    last_seen_at: datetime | None


class ApplicationOut(BaseModel):
    id: int
    site_id: int
    site_name: str
    provider_id: int | None
    provider_name: str | None
    status: ApplicationStatus
    pre_approved_model: bool
    submitted_at: datetime
    reviewed_at: datetime | None
    review_note: str
    test_due_date: date | None
    tested_at: datetime | None
    test_note: str
    install_due_date: date | None
    installed_at: datetime | None
    devices: list[DeviceBrief]
    steps: list[StepOut]


class ApplicationPage(BaseModel):
    items: list[ApplicationOut]
    total: int
    page: int
    size: int


# --------------------------------------------------------------------------- requests


class ChangeRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: RequestKind
    reason: MultilineText = Field(min_length=2, max_length=1000)
    new_site_id: Id | None = Field(default=None, description="move: the target site")
    new_position: PlainText = Field(default="", max_length=128)


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    approve: bool
    note: MultilineText = Field(default="", max_length=1000)


class ChangeRequestOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    device_id: int
    kind: RequestKind
    status: RequestStatus
    reason: str
    new_site_id: int | None
    new_position: str
    decided_by_id: int | None
    decided_at: datetime | None
    decision_note: str
    created_at: datetime


# --------------------------------------------------------------------------- keys, quarantine


class KeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    device_id: int
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


class KeyIssued(KeyOut):
    key: str = Field(description="the key itself: shown once, only its hash is stored")


class QuarantineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    mn: str
    reason: str
    first_seen_at: datetime
    last_seen_at: datetime
    frames: int
    last_peer: str
    last_frame: str


class AdoptIn(BaseModel):
    """Turn a quarantined MN into an active device of a site (or a reference station)."""

    model_config = ConfigDict(extra="forbid")

    kind: DeviceKind = DeviceKind.dust_monitor
    site_id: Id | None = None
    district_id: Id | None = None
    provider_id: Id | None = None
    name: PlainText = Field(default="", max_length=128)
    model: PlainText = Field(default="", max_length=64)
    position: PlainText = Field(default="", max_length=128)
    particulate_unit: Unit = "ug/m3"
    crc_variant: CrcVariant = CrcVariant.hj212
