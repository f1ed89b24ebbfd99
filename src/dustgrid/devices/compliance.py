"""Mandatory devices in the database (003 附件6): facts, stream checks, the gate.

Gathers each site's :class:`~dustgrid.devices.mandatory.SiteDeviceFacts` for the pure check,
records the providers' camera stream checks (audited, scoped to the provider's own
cameras) and answers the connect-before-waste gate for the site page and the L2 score.
The daily job that opens the cases lives above the case workflow (``alerts.mandatory``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from dustgrid.audit import service as audit
from dustgrid.devices import repository as repo
from dustgrid.devices.mandatory import (
    DEFAULT_MANDATORY_DEVICE_POLICY,
    CameraFact,
    Gate,
    GateReason,
    MandatoryDevicePolicy,
    MonitorFact,
    SiteDeviceFacts,
    connect_gate,
)
from dustgrid.devices.models import CameraStreamCheck, Device, DeviceKind
from dustgrid.errors import Forbidden, Invalid, NotFound
from dustgrid.i18n import Msg
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Role
from dustgrid.models import utcnow
from dustgrid.sites.models import Site


def site_facts(session: Session, sites: Sequence[Site]) -> list[SiteDeviceFacts]:
    """The device facts of ``sites`` in three queries (sites, devices, latest checks)."""
    devices = repo.installed_devices(session, [s.id for s in sites])
    cams = [d.id for d in devices if d.kind == DeviceKind.video_camera]
    checks = repo.latest_stream_checks(session, cams)
    by_site: dict[int, list[Device]] = defaultdict(list)
    for d in devices:
        if d.site_id is not None:
            by_site[d.site_id].append(d)
    out = []
    for s in sites:
        mine = by_site.get(s.id, [])
        cameras = []
        for d in mine:
            if d.kind != DeviceKind.video_camera:
                continue
            c = checks.get(d.id)
            cameras.append(
                CameraFact(
                    d.id,
                    bool(d.online),
                    c.checked_at if c else None,
                    c.ok if c else None,
                )
            )
        monitors = [
            MonitorFact(d.id, bool(d.online)) for d in mine if d.kind == DeviceKind.dust_monitor
        ]
        out.append(
            SiteDeviceFacts(
                site_id=s.id,
                investment_yuan=s.investment_yuan,
                area_m2=s.area_m2,
                stage=s.stage.value,
                monitors=tuple(monitors),
                cameras=tuple(cameras),
            )
        )
    return out


def waste_sites(
    session: Session, policy: MandatoryDevicePolicy = DEFAULT_MANDATORY_DEVICE_POLICY
) -> list[Site]:
    return repo.mandatory_sites(session, policy.waste_stages)


def site_gate(
    session: Session, site: Site, policy: MandatoryDevicePolicy = DEFAULT_MANDATORY_DEVICE_POLICY
) -> Gate:
    """The connect-before-waste gate of one site (the caller has checked the site's scope)."""
    (facts,) = site_facts(session, [site])
    return connect_gate(facts, policy)


def site_gates(
    session: Session,
    sites: Sequence[Site],
    policy: MandatoryDevicePolicy = DEFAULT_MANDATORY_DEVICE_POLICY,
) -> dict[int, Gate]:
    """Gates of many sites at once (the L2 score asks for a unit's sites)."""
    return {f.site_id: connect_gate(f, policy) for f in site_facts(session, sites)}


Resolution = tuple[int, int]


_RESOLUTION_ERRORS = {
    "main": "devices.mandatory.error.main_resolution",
    "sub": "devices.mandatory.error.sub_resolution",
}


def _resolution(stream: str, width: int | None, height: int | None) -> Resolution | None:
    """A measured (width, height), or None when the check did not measure the stream;
    a width without a height (or the other way round), or a size below one pixel, is
    refused naming the stream."""
    if width is None and height is None:
        return None
    if width is None or height is None or width < 1 or height < 1:
        raise Invalid(Msg(_RESOLUTION_ERRORS[stream]))
    return width, height


def record_stream_check(
    session: Session,
    principal: Principal,
    device_id: int,
    *,
    ok: bool,
    checked_at: datetime | None = None,
    note: str = "",
    now: datetime | None = None,
    main_stream: tuple[int | None, int | None] = (None, None),
    sub_stream: tuple[int | None, int | None] = (None, None),
) -> CameraStreamCheck:
    """A provider records a stream check of one of its own cameras (audited), with the
    main and sub stream's resolution when it measured them (the provider's score takes
    the latest measured value, docs/assessments.md).

    404 when the device is not visible to the caller; 403 for anyone but the camera's own
    provider (or an L1 admin); 422 when the device is not a video camera, the check lies
    in the future or a resolution lacks its width or height.
    """
    device = repo.visible(session, principal, device_id)
    if device is None:
        raise NotFound(Msg("devices.mandatory.error.not_found", {"device_id": device_id}))
    own = principal.role == Role.provider and device.provider_id == principal.enterprise_id
    if not (own or principal.role == Role.city_admin):
        raise Forbidden(Msg("devices.mandatory.error.not_your_camera"))
    if device.kind != DeviceKind.video_camera:
        raise Invalid(Msg("devices.mandatory.error.not_a_camera", {"mn": device.mn}))
    now = now or utcnow()
    at = checked_at or now
    if at.tzinfo is None:
        raise Invalid(Msg("devices.mandatory.error.naive_time"))
    if at > now:
        raise Invalid(Msg("devices.mandatory.error.future", {"checked_at": at.isoformat()}))
    main = _resolution("main", *main_stream)
    sub = _resolution("sub", *sub_stream)
    row = repo.add_stream_check(
        session,
        CameraStreamCheck(
            device_id=device.id,
            checked_at=at,
            ok=ok,
            note=note[:255],
            main_stream_width=main[0] if main else None,
            main_stream_height=main[1] if main else None,
            sub_stream_width=sub[0] if sub else None,
            sub_stream_height=sub[1] if sub else None,
            checked_by_id=principal.user_id,
            recorded_at=now,
        ),
    )
    changes: dict[str, object] = {"stream_check": [None, row.id], "ok": [None, ok]}
    for name, res in (("main_stream", main), ("sub_stream", sub)):
        if res is not None:
            changes[name] = [None, f"{res[0]}x{res[1]}"]
    audit.record(
        session,
        actor=principal,
        action="device.stream_check",
        entity_type="device",
        entity_id=device.id,
        changes=changes,
        summary=f"视频流检查 {device.mn}：{'可查看' if ok else '无法查看'}",
    )
    return row


def site_facts_at(session: Session, sites: Sequence[Site], at: datetime) -> list[SiteDeviceFacts]:
    """The device facts of ``sites`` at the instant ``at``, from the records: a device in
    service then (activated, not yet removed) was connected unless an offline period
    covered ``at`` — the record the providers' offline rate is measured on. Stream checks
    are left out (the gate asks for connection only)."""
    devices = repo.devices_in_service_at(session, [s.id for s in sites], at)
    down = repo.offline_at(session, [d.id for d in devices], at)
    by_site: dict[int, list[Device]] = defaultdict(list)
    for d in devices:
        if d.site_id is not None:
            by_site[d.site_id].append(d)
    return [
        SiteDeviceFacts(
            site_id=s.id,
            investment_yuan=s.investment_yuan,
            area_m2=s.area_m2,
            stage=s.stage.value,
            monitors=tuple(
                MonitorFact(d.id, d.id not in down)
                for d in by_site.get(s.id, [])
                if d.kind == DeviceKind.dust_monitor
            ),
            cameras=tuple(
                CameraFact(d.id, d.id not in down)
                for d in by_site.get(s.id, [])
                if d.kind == DeviceKind.video_camera
            ),
        )  # fmt: skip
        for s in sites
    ]


def closed_gates_by_unit(
    session: Session,
    policy: MandatoryDevicePolicy = DEFAULT_MANDATORY_DEVICE_POLICY,
    at: datetime | None = None,
) -> dict[int, list[tuple[int, GateReason]]]:
    """For the L2 score: each L2 unit's sites producing waste with the gate closed (above
    the threshold, video or dust monitor not connected), as (site id, reason) in site order.

    Without ``at``: today's state (devices online now, as the site page shows it). With
    ``at``: the state at that instant from the records (:func:`site_facts_at`), so a month
    scored after its end, or re-run later, sees its own end. The site's stage, investment
    and area are the ledger's current values either way (the ledger keeps no history)."""
    if at is None:
        sites = waste_sites(session, policy)
        facts = site_facts(session, sites)
    else:
        sites = repo.mandatory_sites_at(session, policy.waste_stages, at)
        facts = site_facts_at(session, sites, at)
    gates = {f.site_id: connect_gate(f, policy) for f in facts}
    out: dict[int, list[tuple[int, GateReason]]] = defaultdict(list)
    for s in sites:
        gate = gates[s.id]
        if not gate.open:
            out[s.l2_unit_id].append((s.id, gate.reason))
    return dict(out)
