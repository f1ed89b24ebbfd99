"""Device registry: look-ups, registration and settings, plus the two calls the ingest
layer makes (``resolve_device``, ``record_quarantine``). Never commits; every change by a
person is audited.

Access: a device outside the caller's scope answers 404; a visible device the caller's role
may not change answers 403 (as for sites and grids).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dustgrid.audit import service as audit
from dustgrid.devices import repository as repo
from dustgrid.devices import timeline
from dustgrid.devices.models import (
    CameraStreamCheck,
    Device,
    DeviceApiKey,
    DeviceChangeRequest,
    DeviceKind,
    Lifecycle,
    OfflinePeriod,
    OnboardingApplication,
    QuarantinedMN,
)
from dustgrid.devices.policy import DEFAULT_ONLINE_POLICY, OnlinePolicy, local_date
from dustgrid.devices.schemas import (
    DeviceCreate,
    DeviceDetail,
    DeviceFilter,
    DeviceOut,
    DeviceUpdate,
    MetricOut,
    StepOut,
)
from dustgrid.errors import Conflict, Forbidden, Invalid, NotFound
from dustgrid.geo.coords import to_map_datum
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Perm, Role
from dustgrid.models import utcnow
from dustgrid.org.models import District
from dustgrid.sites.models import Enterprise, EnterpriseKind, Site

AUDITED_FIELDS = (
    "mn",
    "kind",
    "site_id",
    "district_id",
    "provider_id",
    "application_id",
    "name",
    "model",
    "position",
    "lat",
    "lon",
    "particulate_unit",
    "crc_variant",
    "main_stream_width",
    "main_stream_height",
    "sub_stream_width",
    "sub_stream_height",
    "offline_after_minutes",
    "lifecycle",
    "activated_at",
    "removed_at",
)
# Quarantine rows keep a sample frame for the admin, not a log: bounded sizes.
FRAME_SAMPLE_CHARS = 4096
#: Control characters (NUL, which a PostgreSQL text column refuses, CR, LF ...) as escapes:
#: a sample shows what the device sent and can be stored on every backend.
_CONTROL_ESCAPES: Final = {
    **{c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F)},
    **{ord("\r"): "\\r", ord("\n"): "\\n", ord("\t"): "\\t"},
}
_QUARANTINE_TEXT_CHARS: Final = {"mn": 24, "reason": 32, "peer": 64}


def sample_text(text: str, limit: int = FRAME_SAMPLE_CHARS) -> str:
    """``text`` safe to store in any text column: control characters escaped (``\\x00``),
    anything that is not valid Unicode replaced, at most ``limit`` characters."""
    safe = text.translate(_CONTROL_ESCAPES)
    safe = safe.encode("utf-8", "replace").decode("utf-8")
    return safe[:limit]


def snapshot(device: Device) -> dict[str, Any]:
    """Audited fields (the HJ 212 password is never written to the audit trail)."""
    return {name: getattr(device, name) for name in AUDITED_FIELDS}


def record(
    session: Session,
    principal: Principal | None,
    device: Device,
    action: str,
    changes: dict[str, Any],
    summary: str,
) -> None:
    audit.record(
        session,
        actor=principal,
        action=action,
        entity_type="device",
        entity_id=device.id,
        changes=changes,
        summary=summary,
    )


# --------------------------------------------------------------------------- access


def get_device(session: Session, principal: Principal, device_id: int) -> Device:
    device = repo.visible(session, principal, device_id)
    if device is None:
        raise NotFound("devices.error.device_not_found", device_id=device_id)
    return device


def require(principal: Principal, perm: Perm) -> None:
    if not principal.can(perm):
        raise Forbidden("devices.error.role_may_not_do", details={"permission": perm.value})


def writable_device(
    session: Session, principal: Principal, device_id: int, perm: Perm = Perm.device_write
) -> Device:
    """404 when not visible (existence is not revealed), then 403 by role, then by area."""
    device = get_device(session, principal, device_id)
    require(principal, perm)
    if not repo.is_writable(session, principal, device.id):
        raise Forbidden("devices.error.you_may_only_manage_devices_own")
    return device


def check_provider(session: Session, provider_id: int | None) -> None:
    if provider_id is None:
        return
    kind = repo.enterprise_kind(session, provider_id)
    if kind != EnterpriseKind.provider:
        raise Invalid("devices.error.unknown_device_provider", provider_id=provider_id)


def target_site(session: Session, principal: Principal, site_id: int, *, writable: bool) -> Site:
    """A site the caller may put devices on (or only see, for requests): else 422, with the
    same message whether the site exists or not."""
    if writable:
        site = repo.writable_site(session, principal, site_id)
    else:
        site = repo.visible_site(session, principal, site_id)
    if site is None:
        raise Invalid("devices.error.site_not_found_or_outside_area", site_id=site_id)
    if site.retired_at is not None:
        raise Invalid("devices.error.site_retired", site_name=site.name)
    return site


def reference_district(session: Session, principal: Principal, district_id: int | None) -> int:
    """The district of a new reference station: the city admin any, a district admin theirs."""
    if district_id is None:
        raise Invalid("devices.error.reference_station_needs_district")
    if session.get(District, district_id) is None:
        raise Invalid("org.error.district_not_found_2", district_id=district_id)
    if principal.role != Role.city_admin and principal.district_id != district_id:
        raise Forbidden("devices.error.reference_stations_own_district_only")
    return district_id


def claim_mn(session: Session, mn: str) -> None:
    """An MN names one device for ever; registering it ends its quarantine."""
    existing = repo.by_mn(session, mn)
    if existing is not None:
        raise Conflict(f"设备编号 MN 已登记：{mn}（设备 {existing.id}）/ MN already registered")
    repo.end_quarantine(session, mn)


# --------------------------------------------------------------------------- writes


def place(
    session: Session,
    principal: Principal,
    *,
    kind: DeviceKind,
    site_id: int | None,
    district_id: int | None,
) -> tuple[int | None, int]:
    """(site_id, district_id) of a new device: reference stations belong to a district,
    every other device to a site the caller may change."""
    if kind == DeviceKind.reference_station:
        if site_id is not None:
            raise Invalid("devices.error.reference_station_belongs_no_site")
        return None, reference_district(session, principal, district_id)
    if site_id is None:
        raise Invalid("devices.error.site_required")
    site = target_site(session, principal, site_id, writable=True)
    return site.id, site.district_id


def create_device(
    session: Session, principal: Principal, data: DeviceCreate, *, now: datetime | None = None
) -> Device:
    """Direct registration by an admin (devices already connected, reference stations):
    the device is active at once; new connections go through an onboarding application."""
    require(principal, Perm.device_write)
    now = now or utcnow()
    mn = data.mn.strip()
    site_id, district_id = place(
        session, principal, kind=data.kind, site_id=data.site_id, district_id=data.district_id
    )
    check_provider(session, data.provider_id)
    claim_mn(session, mn)
    settings = data.model_dump(exclude_unset=True, exclude={"mn", "kind", "site_id", "district_id"})
    device = Device(
        mn=mn,
        kind=data.kind,
        site_id=site_id,
        district_id=district_id,
        lifecycle=Lifecycle.active,
        activated_at=now,
        online=False,
        **{k: v for k, v in settings.items() if v is not None},
    )
    session.add(device)
    session.flush()
    audit.record_change(
        session,
        actor=principal,
        action="create",
        entity_type="device",
        entity_id=device.id,
        before={},
        after=snapshot(device),
        summary=f"登记设备 {mn}",
    )
    return device


def update_device(
    session: Session, principal: Principal, device_id: int, data: DeviceUpdate
) -> Device:
    device = writable_device(session, principal, device_id)
    values = data.model_dump(exclude_unset=True)
    if values.get("provider_id") is not None:
        check_provider(session, values["provider_id"])
    before = snapshot(device)
    password_changed = "password" in values and values["password"] != device.password
    for key, value in values.items():
        if key == "password":
            value = value or ""
        setattr(device, key, value)
    session.flush()
    audit.record_change(
        session,
        actor=principal,
        action="update",
        entity_type="device",
        entity_id=device.id,
        before=before,
        after=snapshot(device),
        summary=f"修改设备 {device.mn}",
        extra={"password": ["***", "***"]} if password_changed else None,
    )
    return device


def notify_offline(
    session: Session, principal: Principal, device_id: int, *, now: datetime | None = None
) -> OfflinePeriod:
    """Record that the provider was told of the current offline period: the repair time
    of provider scoring runs from this notice (domain.md §7)."""
    from dustgrid.devices.online import record_notice

    device = writable_device(session, principal, device_id, Perm.device_review)
    at = now or utcnow()
    period = record_notice(session, device_id=device.id, at=at)
    if period is None:
        raise Conflict("devices.error.device_not_offline")
    record(
        session,
        principal,
        device,
        "offline_notice",
        {"offline_period": [None, period.id], "notified_at": [None, at.isoformat()]},
        f"通知服务商修复离线设备 {device.mn}",
    )
    return period


# --------------------------------------------------------------------------- reads


def list_page(
    session: Session, principal: Principal, f: DeviceFilter, *, page: int, size: int
) -> tuple[list[Any], int]:
    total = repo.count(session, principal, f)
    rows = repo.page_rows(session, principal, f, offset=(page - 1) * size, limit=size)
    return rows, total


EXPORT_LIMIT: Final = 10_000  # an export holds at most this many devices (a file bound)


def export_rows(session: Session, principal: Principal, f: DeviceFilter) -> list[Any]:
    """Every device of the filters in scope (up to ``EXPORT_LIMIT``), in the list's order."""
    return list(repo.page_rows(session, principal, f, offset=0, limit=EXPORT_LIMIT))


MAP_DEVICES_LIMIT: Final = 20000  # the map's device layer draws at most this many


def map_points(session: Session, principal: Principal, crs: str) -> dict[str, Any]:
    """The map's device layer: installed devices in scope, online or not, in ``crs``."""
    rows = []
    for did, mn, kind, online, lat, lon, site_id in repo.map_rows(
        session, principal, limit=MAP_DEVICES_LIMIT
    ):
        mlat, mlon = to_map_datum(lat, lon, crs)
        rows.append([did, round(mlat, 6), round(mlon, 6), bool(online), mn, str(kind), site_id])
    return {
        "crs": crs,
        "fields": ["id", "lat", "lon", "online", "mn", "kind", "site_id"],
        "rows": rows,
    }


def step_outs(steps: list[timeline.Step]) -> list[StepOut]:
    return [
        StepOut(
            key=s.key,
            state=s.state,
            light=s.light,
            due_date=s.due_date,
            done_at=s.done_at,
            late=s.late,
        )
        for s in steps
    ]


def detail(
    session: Session,
    principal: Principal,
    device_id: int,
    *,
    now: datetime | None = None,
    policy: OnlinePolicy = DEFAULT_ONLINE_POLICY,
) -> DeviceDetail:
    """The device with its per-metric state and, when onboarded, its onboarding steps."""
    device = get_device(session, principal, device_id)
    now = now or utcnow()
    limit = policy.threshold_minutes(device.offline_after_minutes)
    metrics = [
        MetricOut(
            metric=m.metric,
            last_seen_at=m.last_seen_at,
            last_data_time=m.last_data_time,
            last_value=m.last_value,
            stale=(now - m.last_seen_at).total_seconds() > limit * 60,
        )
        for m in repo.metric_states(session, device.id)
    ]
    steps: list[StepOut] = []
    if device.application_id is not None:
        app = session.get(OnboardingApplication, device.application_id)
        if app is not None:
            steps = step_outs(
                timeline.steps(
                    app, today=local_date(now), online_seen=device.last_seen_at is not None
                )
            )
    base = DeviceOut.model_validate(device).model_dump()
    return DeviceDetail(
        **base,
        has_password=bool(device.password),
        site_name=repo.site_name(session, device.site_id),
        provider_name=repo.enterprise_name(session, device.provider_id),
        offline_after_effective=limit,
        metrics=metrics,
        steps=steps,
    )


# --------------------------------------------------------------------------- ingest calls


def resolve_device(session: Session, mn: str) -> Device | None:
    """The device registered under ``mn``, whatever its lifecycle (the caller refuses data
    from removed or rejected devices), or None for an unknown MN."""
    return repo.by_mn(session, mn)


def record_quarantine(
    session: Session,
    *,
    mn: str,
    reason: str,
    peer: str,
    frame_text: str,
    at: datetime | None = None,
) -> QuarantinedMN:
    """Keep (or count) a frame the ingest layer refused, for an admin to adopt later.

    One row per MN and reason (a wrong password and then a wrong CRC variant are two
    rows): the first and last time seen, the number of frames, and the latest frame as a
    sample (control characters escaped: a NUL byte is stored as ``\\x00`` on every
    backend). A concurrent insert of the same row is absorbed by the unique constraint and
    turned into an update.
    """
    at = at or utcnow()
    mn = sample_text(mn.strip(), _QUARANTINE_TEXT_CHARS["mn"])
    reason = sample_text(reason, _QUARANTINE_TEXT_CHARS["reason"])
    peer = sample_text(peer, _QUARANTINE_TEXT_CHARS["peer"])
    frame_text = sample_text(frame_text)
    row = repo.quarantine_entry(session, mn, reason)
    if row is None:
        try:
            with session.begin_nested():
                row = QuarantinedMN(
                    mn=mn,
                    reason=reason,
                    first_seen_at=at,
                    last_seen_at=at,
                    frames=1,
                    last_peer=peer,
                    last_frame=frame_text,
                )
                session.add(row)
            return row
        except IntegrityError:
            row = repo.quarantine_entry(session, mn, reason)
            if row is None:  # pragma: no cover - deleted between the two statements
                raise
    row.frames += 1
    row.first_seen_at = min(row.first_seen_at, at)
    row.last_seen_at = max(row.last_seen_at, at)
    row.last_peer = peer
    row.last_frame = frame_text
    return row


# ----------------------------------------------------------------------------- reads for pages


def providers(session: Session) -> list[Enterprise]:
    """Device service providers (their names are public: they appear on every device)."""
    return repo.providers(session)


def site_choices(session: Session, principal: Principal, *, writable: bool = False) -> list[Any]:
    """Active sites a form offers: the visible ones, or those ``principal`` may change."""
    return repo.visible_sites(session, principal, writable=writable)


def registered_mns(session: Session, principal: Principal, mns: list[str]) -> dict[str, int]:
    """Visible devices already holding some of ``mns`` (MN -> device id)."""
    return repo.registered_mns(session, principal, mns)


def is_writable(session: Session, principal: Principal, device_id: int) -> bool:
    """Whether ``principal`` may change this device."""
    return repo.is_writable(session, principal, device_id)


def offline_periods(session: Session, device_id: int) -> list[OfflinePeriod]:
    """A device's offline periods, newest first (the caller has checked its scope)."""
    return repo.offline_periods(session, device_id)


def stream_checks(session: Session, device_id: int) -> list[CameraStreamCheck]:
    """A camera's stream checks, newest first: whether the video could be viewed and the
    resolution measured (the caller has checked its scope)."""
    return repo.stream_checks(session, device_id)


def change_requests(session: Session, device_id: int) -> list[DeviceChangeRequest]:
    """A device's change requests, newest first (the caller has checked its scope)."""
    return repo.change_requests(session, device_id)


def api_keys(session: Session, device_id: int) -> list[DeviceApiKey]:
    """A device's API keys, newest first (the caller has checked it may change the device)."""
    return repo.keys(session, device_id)


def site_devices(session: Session, principal: Principal, site_id: int) -> list[Any]:
    """The visible devices of one site, removed ones last."""
    return repo.site_devices(session, principal, site_id)
