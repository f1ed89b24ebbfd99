"""Device queries, always filtered by the caller's scope (``device_clause``)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    delete,
    exists,
    false,
    func,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.orm import Session

from dustgrid.devices.models import (
    CameraStreamCheck,
    Device,
    DeviceApiKey,
    DeviceChangeRequest,
    DeviceKind,
    Lifecycle,
    MetricState,
    OfflinePeriod,
    OnboardingApplication,
    QuarantinedMN,
    RequestStatus,
)
from dustgrid.devices.schemas import DeviceFilter
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Role
from dustgrid.sites.models import Enterprise, EnterpriseKind, Site
from dustgrid.sites.repository import SITES_OF_PROVIDER_DEVICES, site_clause, site_writable_clause


@SITES_OF_PROVIDER_DEVICES.provide
def _provider_sites(p: Principal) -> ColumnElement[bool]:
    """The sites where the provider's devices are (``site_clause`` checked the enterprise)."""
    return Site.id.in_(
        select(Device.site_id).where(
            Device.provider_id == p.enterprise_id, Device.site_id.is_not(None)
        )
    )


# Roles bound to a district unit, who also see the reference stations (国控/省控点) there.
_DISTRICT_STAFF = frozenset({Role.district_admin, Role.station_staff, Role.officer, Role.viewer})


def device_clause(p: Principal) -> ColumnElement[bool]:
    """WHERE clause limiting ``Device`` rows: city-wide all, a provider its own devices,
    everyone else the devices of the sites they see (plus their district's reference
    stations, which belong to no site)."""
    if p.is_city_wide:
        return true()
    if p.role == Role.provider:
        if p.enterprise_id is None:
            return false()
        return Device.provider_id == p.enterprise_id
    parts: list[ColumnElement[bool]] = [Device.site_id.in_(select(Site.id).where(site_clause(p)))]
    if p.role in _DISTRICT_STAFF and p.district_id is not None:
        parts.append(
            and_(
                Device.kind == DeviceKind.reference_station,
                Device.district_id == p.district_id,
            )
        )
    return or_(*parts)


def writable_clause(p: Principal) -> ColumnElement[bool]:
    """Devices ``p`` may change (the caller has checked the permission): the city admin
    all, a district admin those of the sites they may change and their reference stations."""
    if p.role == Role.city_admin:
        return true()
    if p.role != Role.district_admin:
        return false()
    parts: list[ColumnElement[bool]] = [
        Device.site_id.in_(select(Site.id).where(site_writable_clause(p)))
    ]
    if p.district_id is not None:
        parts.append(
            and_(
                Device.kind == DeviceKind.reference_station,
                Device.district_id == p.district_id,
            )
        )
    return or_(*parts)


def application_clause(p: Principal) -> ColumnElement[bool]:
    """Applications ``p`` may see: those of visible sites; a provider its own."""
    if p.is_city_wide:
        return true()
    if p.role == Role.provider:
        if p.enterprise_id is None:
            return false()
        return OnboardingApplication.provider_id == p.enterprise_id
    return OnboardingApplication.site_id.in_(select(Site.id).where(site_clause(p)))


def visible(session: Session, p: Principal, device_id: int) -> Device | None:
    return session.scalar(select(Device).where(Device.id == device_id, device_clause(p)))


def is_writable(session: Session, p: Principal, device_id: int) -> bool:
    stmt = select(Device.id).where(Device.id == device_id, writable_clause(p))
    return session.scalar(stmt) is not None


def by_mn(session: Session, mn: str) -> Device | None:
    return session.scalar(select(Device).where(Device.mn == mn))


def registered_mns(session: Session, p: Principal, mns: list[str]) -> dict[str, int]:
    """Visible devices already holding some of ``mns`` (quarantined for a wrong password,
    a CRC variant, or because the device was removed)."""
    if not mns:
        return {}
    stmt = select(Device.mn, Device.id).where(Device.mn.in_(mns), device_clause(p))
    return {mn: int(i) for mn, i in session.execute(stmt)}


def filtered(p: Principal, f: DeviceFilter) -> Select[Any]:
    stmt = select(Device.id).where(device_clause(p))
    if f.q:
        like = f"%{f.q.strip()}%"
        stmt = stmt.where(or_(Device.mn.ilike(like), Device.name.ilike(like)))
    if f.site_id is not None:
        stmt = stmt.where(Device.site_id == f.site_id)
    if f.district_id is not None:
        stmt = stmt.where(Device.district_id == f.district_id)
    if f.kind is not None:
        stmt = stmt.where(Device.kind == f.kind)
    if f.online is not None:
        stmt = stmt.where(Device.online.is_(f.online))
    if f.provider_id is not None:
        stmt = stmt.where(Device.provider_id == f.provider_id)
    if f.lifecycle is not None:
        stmt = stmt.where(Device.lifecycle == f.lifecycle)
    return stmt


def count(session: Session, p: Principal, f: DeviceFilter) -> int:
    sub = filtered(p, f).subquery()
    return int(session.scalar(select(func.count()).select_from(sub)) or 0)


def _light_columns() -> tuple[Any, ...]:
    return (
        Device.id,
        Device.mn,
        Device.name,
        Device.kind,
        Device.site_id,
        Site.name.label("site_name"),
        Device.district_id,
        Device.provider_id,
        Enterprise.name.label("provider_name"),
        Device.lifecycle,
        Device.online,
        Device.last_seen_at,
        Device.position,
        Device.model,
    )


def page_rows(
    session: Session, p: Principal, f: DeviceFilter, *, offset: int, limit: int
) -> list[Any]:
    """One page of devices as light rows with the site and provider names."""
    ids = filtered(p, f).order_by(Device.id).offset(offset).limit(limit).subquery()
    stmt = (
        select(*_light_columns())
        .join(ids, ids.c.id == Device.id)
        .outerjoin(Site, Site.id == Device.site_id)
        .outerjoin(Enterprise, Enterprise.id == Device.provider_id)
        .order_by(Device.id)
    )
    return list(session.execute(stmt))


def site_devices(session: Session, p: Principal, site_id: int) -> list[Any]:
    """The visible devices of one site, removed ones last."""
    stmt = (
        select(*_light_columns())
        .outerjoin(Site, Site.id == Device.site_id)
        .outerjoin(Enterprise, Enterprise.id == Device.provider_id)
        .where(Device.site_id == site_id, device_clause(p))
        .order_by(Device.removed_at.is_not(None), Device.kind, Device.mn)
    )
    return list(session.execute(stmt))


def site_name(session: Session, site_id: int | None) -> str | None:
    if site_id is None:
        return None
    return session.scalar(select(Site.name).where(Site.id == site_id))


def enterprise_name(session: Session, enterprise_id: int | None) -> str | None:
    if enterprise_id is None:
        return None
    return session.scalar(select(Enterprise.name).where(Enterprise.id == enterprise_id))


def enterprise_kind(session: Session, enterprise_id: int) -> EnterpriseKind | None:
    """The kind of an enterprise (None when there is none with this id)."""
    return session.scalar(select(Enterprise.kind).where(Enterprise.id == enterprise_id))


def providers(session: Session) -> list[Enterprise]:
    """Device service providers (names are public: they appear on every device)."""
    stmt = select(Enterprise).where(Enterprise.kind == EnterpriseKind.provider)
    return list(session.scalars(stmt.order_by(Enterprise.name)))


def visible_sites(session: Session, p: Principal, *, writable: bool = False) -> list[Any]:
    """Active sites offered by forms: visible ones, or those ``p`` may change."""
    clause = site_writable_clause(p) if writable else site_clause(p)
    stmt = (
        select(Site.id, Site.project_code, Site.name, Site.district_id)
        .where(clause, Site.retired_at.is_(None))
        .order_by(Site.project_code)
    )
    return list(session.execute(stmt))


def metric_states(session: Session, device_id: int) -> list[MetricState]:
    stmt = select(MetricState).where(MetricState.device_id == device_id)
    return list(session.scalars(stmt.order_by(MetricState.metric)))


def offline_periods(session: Session, device_id: int, *, limit: int = 100) -> list[OfflinePeriod]:
    stmt = (
        select(OfflinePeriod)
        .where(OfflinePeriod.device_id == device_id)
        .order_by(OfflinePeriod.started_at.desc(), OfflinePeriod.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def stream_checks(session: Session, device_id: int, *, limit: int = 50) -> list[CameraStreamCheck]:
    """A camera's stream checks, newest first."""
    stmt = (
        select(CameraStreamCheck)
        .where(CameraStreamCheck.device_id == device_id)
        .order_by(CameraStreamCheck.checked_at.desc(), CameraStreamCheck.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def open_period(session: Session, device_id: int) -> OfflinePeriod | None:
    stmt = select(OfflinePeriod).where(
        OfflinePeriod.device_id == device_id, OfflinePeriod.ended_at.is_(None)
    )
    return session.scalars(stmt.order_by(OfflinePeriod.id.desc())).first()


# -- online state (devices/online.py): the offline sweep and the offline rate --------------
# System work over every device, so no scope clause: nothing here answers a request.


def smallest_own_offline_limit(session: Session) -> int | None:
    """The smallest positive per-device offline limit (minutes), None when no device has one."""
    return session.scalar(
        select(func.min(Device.offline_after_minutes)).where(Device.offline_after_minutes > 0)
    )


def offline_candidates(
    session: Session, *, silent_before: datetime, under_test: Collection[Lifecycle]
) -> list[Any]:
    """Devices that may have gone offline, in id order: active ones without an open offline
    period, and online ones ``under_test``, whose last frame (else activation, else creation)
    is older than ``silent_before``. Rows of id, mn, lifecycle, online, last_seen_at,
    activated_at, created_at, offline_after_minutes."""
    since = func.coalesce(Device.last_seen_at, Device.activated_at, Device.created_at)
    has_open = exists().where(
        OfflinePeriod.device_id == Device.id, OfflinePeriod.ended_at.is_(None)
    )
    stmt = (
        select(
            Device.id,
            Device.mn,
            Device.lifecycle,
            Device.online,
            Device.last_seen_at,
            Device.activated_at,
            Device.created_at,
            Device.offline_after_minutes,
        )
        .where(
            or_(
                and_(Device.lifecycle == Lifecycle.active, ~has_open),
                and_(Device.lifecycle.in_(under_test), Device.online.is_(True)),
            ),
            since < silent_before,
        )
        # Rows are locked in id order, as the ingest writer should lock them (no deadlock).
        .order_by(Device.id)
    )
    return list(session.execute(stmt).all())


def set_offline_if_unseen(session: Session, device_id: int, last_seen_at: datetime | None) -> bool:
    """Turn the device offline unless a frame arrived since ``last_seen_at`` was read (its
    ``last_seen_at`` changed); whether it was turned offline."""
    unchanged = (
        Device.last_seen_at.is_(None)
        if last_seen_at is None
        else Device.last_seen_at == last_seen_at
    )
    result: Any = session.execute(
        update(Device)
        .where(Device.id == device_id, unchanged)
        .values(online=False)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount != 0)


def devices_reloaded(session: Session, device_ids: Collection[int]) -> list[Device]:
    """These devices in id order, their loaded objects refreshed from the database."""
    stmt = (
        select(Device)
        .where(Device.id.in_(device_ids))
        .order_by(Device.id)
        .execution_options(populate_existing=True)
    )
    return list(session.scalars(stmt))


def service_spans(
    session: Session, *, device_id: int | None = None, provider_id: int | None = None
) -> list[Any]:
    """``(id, activated_at, created_at, removed_at)`` of one device, or of every device of a
    provider, that has been in service: activated, or active without an activation time."""
    stmt = select(Device.id, Device.activated_at, Device.created_at, Device.removed_at).where(
        or_(Device.activated_at.is_not(None), Device.lifecycle == Lifecycle.active)
    )
    stmt = stmt.where(
        Device.id == device_id if device_id is not None else Device.provider_id == provider_id
    )
    return list(session.execute(stmt).all())


def periods_overlapping(
    session: Session, device_ids: Collection[int], start: datetime, end: datetime
) -> list[Any]:
    """``(device_id, started_at, ended_at)`` of these devices' offline periods that overlap
    ``[start, end)`` (an open period has no ``ended_at``)."""
    stmt = select(OfflinePeriod.device_id, OfflinePeriod.started_at, OfflinePeriod.ended_at).where(
        OfflinePeriod.device_id.in_(list(device_ids)),
        OfflinePeriod.started_at < end,
        or_(OfflinePeriod.ended_at.is_(None), OfflinePeriod.ended_at > start),
    )
    return list(session.execute(stmt).all())


def keys(session: Session, device_id: int) -> list[DeviceApiKey]:
    stmt = select(DeviceApiKey).where(DeviceApiKey.device_id == device_id)
    return list(session.scalars(stmt.order_by(DeviceApiKey.id.desc())))


def change_requests(session: Session, device_id: int) -> list[DeviceChangeRequest]:
    stmt = select(DeviceChangeRequest).where(DeviceChangeRequest.device_id == device_id)
    return list(session.scalars(stmt.order_by(DeviceChangeRequest.id.desc())))


def application_devices(session: Session, application_id: int) -> list[Device]:
    stmt = select(Device).where(Device.application_id == application_id)
    return list(session.scalars(stmt.order_by(Device.id)))


def visible_application(
    session: Session, p: Principal, application_id: int
) -> OnboardingApplication | None:
    stmt = select(OnboardingApplication).where(
        OnboardingApplication.id == application_id, application_clause(p)
    )
    return session.scalar(stmt)


def application_rows(
    session: Session,
    p: Principal,
    *,
    status: str | None,
    site_id: int | None,
    offset: int,
    limit: int,
) -> tuple[list[OnboardingApplication], int]:
    base = select(OnboardingApplication.id).where(application_clause(p))
    if status:
        base = base.where(OnboardingApplication.status == status)
    if site_id is not None:
        base = base.where(OnboardingApplication.site_id == site_id)
    total = int(session.scalar(select(func.count()).select_from(base.subquery())) or 0)
    ids = base.order_by(OnboardingApplication.id.desc()).offset(offset).limit(limit)
    stmt = (
        select(OnboardingApplication)
        .where(OnboardingApplication.id.in_(ids.scalar_subquery()))
        .order_by(OnboardingApplication.id.desc())
    )
    return list(session.scalars(stmt)), total


def pending_request(session: Session, device_id: int) -> int | None:
    """The id of the device's change request awaiting a decision, if any."""
    stmt = select(DeviceChangeRequest.id).where(
        DeviceChangeRequest.device_id == device_id,
        DeviceChangeRequest.status == RequestStatus.pending,
    )
    return session.scalar(stmt)


def visible_site(session: Session, p: Principal, site_id: int) -> Site | None:
    """The site, if ``p`` may see it (a device may be requested there)."""
    return session.scalar(select(Site).where(Site.id == site_id, site_clause(p)))


def writable_site(session: Session, p: Principal, site_id: int) -> Site | None:
    """The site, if ``p`` may change it (a device may be moved there)."""
    return session.scalar(select(Site).where(Site.id == site_id, site_writable_clause(p)))


def live_keys(session: Session, device_id: int) -> list[DeviceApiKey]:
    """A device's API keys that are not revoked."""
    stmt = select(DeviceApiKey).where(
        DeviceApiKey.device_id == device_id, DeviceApiKey.revoked_at.is_(None)
    )
    return list(session.scalars(stmt))


def live_key_hashes(session: Session, prefix: str) -> list[Any]:
    """``(key_hash, device_id)`` of the unrevoked keys with this prefix (ingest, per request)."""
    stmt = select(DeviceApiKey.key_hash, DeviceApiKey.device_id).where(
        DeviceApiKey.prefix == prefix, DeviceApiKey.revoked_at.is_(None)
    )
    return list(session.execute(stmt).all())


def quarantine_entry(session: Session, mn: str, reason: str) -> QuarantinedMN | None:
    """The quarantine row of this MN and refusal reason (system work: no scope)."""
    stmt = select(QuarantinedMN).where(QuarantinedMN.mn == mn, QuarantinedMN.reason == reason)
    return session.scalar(stmt)


def end_quarantine(session: Session, mn: str) -> None:
    """Delete every quarantine row of this MN (it was registered)."""
    session.execute(delete(QuarantinedMN).where(QuarantinedMN.mn == mn))


def quarantine_clause(p: Principal) -> ColumnElement[bool]:
    """Quarantine rows ``p`` may see: all for city-wide roles, else those of its devices."""
    if p.is_city_wide:
        return true()
    return QuarantinedMN.mn.in_(select(Device.mn).where(device_clause(p)))


def quarantined(
    session: Session, p: Principal, *, registered: bool, limit: int
) -> list[QuarantinedMN]:
    """Quarantine rows in scope, latest first: of MNs no device holds, or (``registered``)
    of MNs a device holds."""
    held = exists(select(Device.id).where(Device.mn == QuarantinedMN.mn))
    stmt = (
        select(QuarantinedMN)
        .where(quarantine_clause(p), held if registered else ~held)
        .order_by(QuarantinedMN.last_seen_at.desc(), QuarantinedMN.id)
    )
    return list(session.scalars(stmt.limit(limit)))


def quarantined_row(session: Session, p: Principal, quarantine_id: int) -> QuarantinedMN | None:
    stmt = select(QuarantinedMN).where(QuarantinedMN.id == quarantine_id, quarantine_clause(p))
    return session.scalar(stmt)


def map_rows(session: Session, p: Principal, *, limit: int) -> list[Any]:
    """Installed devices with a position (their own, else their site's), WGS-84:
    ``(id, mn, kind, online, lat, lon, site_id)``."""
    lat = func.coalesce(Device.lat, Site.lat)
    lon = func.coalesce(Device.lon, Site.lon)
    stmt = (
        select(Device.id, Device.mn, Device.kind, Device.online, lat, lon, Device.site_id)
        .outerjoin(Site, Site.id == Device.site_id)
        .where(device_clause(p), Device.lifecycle == Lifecycle.active, lat.is_not(None))
        .order_by(Device.id)
        .limit(limit)
    )
    return list(session.execute(stmt))


# --------------------------------------------------------------------------- mandatory devices


def add_stream_check(session: Session, row: CameraStreamCheck) -> CameraStreamCheck:
    session.add(row)
    session.flush()
    return row


def mandatory_sites(session: Session, stages: Collection[str]) -> list[Site]:
    """Sites in one of ``stages`` (the waste-producing ones), in id order."""
    return list(
        session.scalars(
            select(Site).where(Site.stage.in_(stages), Site.retired_at.is_(None)).order_by(Site.id)
        )
    )


def installed_devices(session: Session, site_ids: Collection[int]) -> list[Device]:
    """Active (installed and connected once) dust monitors and video cameras of the sites."""
    if not site_ids:
        return []
    stmt = (
        select(Device)
        .where(
            Device.site_id.in_(site_ids),
            Device.lifecycle == Lifecycle.active,
            Device.kind.in_((DeviceKind.dust_monitor, DeviceKind.video_camera)),
        )
        .order_by(Device.id)
    )
    return list(session.scalars(stmt))


def latest_stream_checks(
    session: Session, device_ids: Collection[int], *where: ColumnElement[bool]
) -> dict[int, CameraStreamCheck]:
    """The latest stream check of each camera (by the time it was made) among the checks
    that meet ``where`` (all of them without); of two made at one instant, the later row."""
    if not device_ids:
        return {}
    kept = and_(CameraStreamCheck.device_id.in_(device_ids), *where)
    last = (
        select(CameraStreamCheck.device_id, func.max(CameraStreamCheck.checked_at).label("at"))
        .where(kept)
        .group_by(CameraStreamCheck.device_id)
        .subquery()
    )
    stmt = (
        select(CameraStreamCheck)
        .join(
            last,
            and_(
                CameraStreamCheck.device_id == last.c.device_id,
                CameraStreamCheck.checked_at == last.c.at,
            ),
        )
        .where(kept)
        .order_by(CameraStreamCheck.id)
    )
    return {row.device_id: row for row in session.scalars(stmt)}


def mandatory_sites_at(session: Session, stages: Collection[str], at: datetime) -> list[Site]:
    """Sites in one of ``stages`` not retired by ``at``, in id order (the stage is the
    ledger's current one: the ledger keeps no stage history)."""
    stmt = (
        select(Site)
        .where(Site.stage.in_(stages), or_(Site.retired_at.is_(None), Site.retired_at > at))
        .order_by(Site.id)
    )
    return list(session.scalars(stmt))


def devices_in_service_at(
    session: Session, site_ids: Collection[int], at: datetime
) -> list[Device]:
    """Dust monitors and video cameras of the sites in service at ``at``: activated by then
    and not yet removed."""
    if not site_ids:
        return []
    stmt = (
        select(Device)
        .where(
            Device.site_id.in_(site_ids),
            Device.kind.in_((DeviceKind.dust_monitor, DeviceKind.video_camera)),
            Device.activated_at.is_not(None),
            Device.activated_at <= at,
            or_(Device.removed_at.is_(None), Device.removed_at > at),
        )
        .order_by(Device.id)
    )
    return list(session.scalars(stmt))


def offline_at(session: Session, device_ids: Collection[int], at: datetime) -> set[int]:
    """The devices among ``device_ids`` inside an offline period at ``at``."""
    if not device_ids:
        return set()
    stmt = select(OfflinePeriod.device_id).where(
        OfflinePeriod.device_id.in_(device_ids),
        OfflinePeriod.started_at <= at,
        or_(OfflinePeriod.ended_at.is_(None), OfflinePeriod.ended_at > at),
    )
    return set(session.scalars(stmt))
