"""Device onboarding (domain.md §7, seed 003): application with a device list → review →
device test → installation → online. Never commits; every step is audited.

One function per step looks the step up in the state table (``devices/states.py``: 409
when the application is not in the state the step needs), moves the application and its
devices together as the table says, and sets the next due
date from ``OnboardingPolicy`` with the working-day calendar.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from dustgrid.audit import service as audit
from dustgrid.devices import repository as repo
from dustgrid.devices import service as devices
from dustgrid.devices import timeline
from dustgrid.devices.models import (
    ApplicationStatus,
    Device,
    DeviceKind,
    Lifecycle,
    OnboardingApplication,
)
from dustgrid.devices.policy import DEFAULT_ONBOARDING_POLICY, OnboardingPolicy, local_date
from dustgrid.devices.schemas import (
    ApplicationCreate,
    ApplicationOut,
    ApplicationPage,
    DeviceBrief,
    DeviceTestIn,
    ReviewIn,
)
from dustgrid.devices.states import (
    INITIAL_LIFECYCLE,
    INITIAL_STATUS,
    OnboardingMove,
    Step,
    plan_step,
)
from dustgrid.errors import Conflict, Forbidden, Invalid, NotFound
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Perm, Role
from dustgrid.models import utcnow
from dustgrid.sites import repository as sites_repo

APP_FIELDS = (
    "site_id",
    "provider_id",
    "status",
    "pre_approved_model",
    "reviewed_at",
    "review_note",
    "test_due_date",
    "tested_at",
    "test_note",
    "install_due_date",
    "installed_at",
)


def snapshot(app: OnboardingApplication) -> dict[str, Any]:
    return {name: getattr(app, name) for name in APP_FIELDS}


def _record(
    session: Session,
    principal: Principal,
    app: OnboardingApplication,
    action: str,
    before: dict[str, Any],
    summary: str,
) -> None:
    audit.record(
        session,
        actor=principal,
        action=action,
        entity_type="onboarding_application",
        entity_id=app.id,
        changes=audit.diff(before, snapshot(app)),
        summary=summary,
    )


def get_application(
    session: Session, principal: Principal, application_id: int
) -> OnboardingApplication:
    app = repo.visible_application(session, principal, application_id)
    if app is None:
        raise NotFound("devices.error.application_not_found", application_id=application_id)
    return app


def _reviewable(
    session: Session, principal: Principal, application_id: int
) -> OnboardingApplication:
    """404 outside scope, 403 for a role that may not review or a site it may not change."""
    app = get_application(session, principal, application_id)
    devices.require(principal, Perm.device_review)
    if not _site_writable(session, principal, app.site_id):
        raise Forbidden("devices.error.applications_own_area_only")
    return app


def _site_writable(session: Session, principal: Principal, site_id: int) -> bool:
    return sites_repo.is_writable(session, principal, site_id)


def _move_devices(
    session: Session,
    principal: Principal,
    app: OnboardingApplication,
    to: Lifecycle,
    *,
    at: datetime | None = None,
) -> list[Device]:
    moved = repo.application_devices(session, app.id)
    for device in moved:
        before = devices.snapshot(device)
        device.lifecycle = to
        if to == Lifecycle.active and device.activated_at is None:
            device.activated_at = at
        devices.record(
            session,
            principal,
            device,
            f"onboarding_{to.value}"[:32],
            audit.diff(before, devices.snapshot(device)),
            f"设备 {device.mn} 接入申请 {app.id}：{to.value}",
        )
    return moved


def _apply(
    session: Session,
    principal: Principal,
    app: OnboardingApplication,
    move: OnboardingMove,
    *,
    at: datetime | None = None,
) -> None:
    """Make a planned move: the application's status and its devices' lifecycle."""
    app.status = move.to_status
    _move_devices(session, principal, app, move.devices_to, at=at)


# --------------------------------------------------------------------------- steps


def create_application(
    session: Session,
    principal: Principal,
    data: ApplicationCreate,
    *,
    now: datetime | None = None,
) -> OnboardingApplication:
    """A contractor applies for its own site, an admin for a site of its area; every
    device of the list is registered at once in the ``applied`` state."""
    devices.require(principal, Perm.device_apply)
    now = now or utcnow()
    writable = principal.role in (Role.city_admin, Role.district_admin)
    site = devices.target_site(session, principal, data.site_id, writable=writable)
    devices.check_provider(session, data.provider_id)
    mns = [d.mn.strip() for d in data.devices]
    twice = sorted({m for m in mns if mns.count(m) > 1})
    if twice:
        raise Invalid("devices.error.duplicate_mns_list", twice=", ".join(twice))
    if any(d.kind == DeviceKind.reference_station for d in data.devices):
        raise Invalid("devices.error.reference_stations_are_not_site_devices")
    taken = sorted(m for m in mns if repo.by_mn(session, m) is not None)
    if taken:
        raise Conflict("devices.error.mn_already_registered", taken=", ".join(taken))
    app = OnboardingApplication(
        site_id=site.id,
        provider_id=data.provider_id,
        status=INITIAL_STATUS,
        pre_approved_model=data.pre_approved_model,
        submitted_at=now,
    )
    session.add(app)
    session.flush()
    for item, mn in zip(data.devices, mns, strict=True):
        devices.claim_mn(session, mn)
        device = Device(
            **item.model_dump(exclude={"mn"}),
            mn=mn,
            site_id=site.id,
            district_id=site.district_id,
            provider_id=data.provider_id,
            application_id=app.id,
            lifecycle=INITIAL_LIFECYCLE,
            online=False,
        )
        session.add(device)
        session.flush()
        devices.record(
            session,
            principal,
            device,
            "create",
            audit.diff({}, devices.snapshot(device)),
            f"接入申请 {app.id} 登记设备 {mn}",
        )
    audit.record(
        session,
        actor=principal,
        action="create",
        entity_type="onboarding_application",
        entity_id=app.id,
        changes={**audit.diff({}, snapshot(app)), "devices": [None, mns]},
        summary=f"工地 {site.name} 申请接入 {len(mns)} 台设备",
    )
    return app


def review(
    session: Session,
    principal: Principal,
    application_id: int,
    data: ReviewIn,
    *,
    now: datetime | None = None,
    policy: OnboardingPolicy = DEFAULT_ONBOARDING_POLICY,
) -> OnboardingApplication:
    """Approve (the test is then due in 3 or 10 working days) or reject the application."""
    app = _reviewable(session, principal, application_id)
    move = plan_step(app.status, Step.review, passed=data.approve)
    now = now or utcnow()
    before = snapshot(app)
    app.reviewed_at = now
    app.review_note = data.note.strip()
    if data.approve:
        app.test_due_date = policy.test_due(now, pre_approved=app.pre_approved_model)
    _apply(session, principal, app, move)
    _record(
        session,
        principal,
        app,
        "review",
        before,
        f"接入申请 {app.id} 审核{'通过' if data.approve else '驳回'}（规则 {policy.version}）",
    )
    return app


def record_test(
    session: Session,
    principal: Principal,
    application_id: int,
    data: DeviceTestIn,
    *,
    now: datetime | None = None,
    policy: OnboardingPolicy = DEFAULT_ONBOARDING_POLICY,
) -> OnboardingApplication:
    """The device test: passed → installation due in 5 working days; failed → the
    application ends and the devices are rejected (a new application is needed)."""
    app = _reviewable(session, principal, application_id)
    move = plan_step(app.status, Step.test, passed=data.passed)
    now = now or utcnow()
    before = snapshot(app)
    app.tested_at = now
    app.test_note = data.note.strip()
    if data.passed:
        app.install_due_date = policy.install_due(now)
    _apply(session, principal, app, move)
    _record(
        session,
        principal,
        app,
        "test",
        before,
        f"接入申请 {app.id} 设备检测{'通过' if data.passed else '未通过'}",
    )
    return app


def install(
    session: Session,
    principal: Principal,
    application_id: int,
    *,
    now: datetime | None = None,
) -> OnboardingApplication:
    """Installation confirmed: the devices become active (online once they report)."""
    app = _reviewable(session, principal, application_id)
    move = plan_step(app.status, Step.install)
    now = now or utcnow()
    before = snapshot(app)
    app.installed_at = now
    _apply(session, principal, app, move, at=now)
    _record(session, principal, app, "install", before, f"接入申请 {app.id} 安装完成")
    return app


# --------------------------------------------------------------------------- reads


def to_out(
    session: Session, app: OnboardingApplication, *, now: datetime | None = None
) -> ApplicationOut:
    devs = repo.application_devices(session, app.id)
    seen = bool(devs) and all(d.last_seen_at is not None for d in devs)
    steps = timeline.steps(app, today=local_date(now or utcnow()), online_seen=seen)
    return ApplicationOut(
        id=app.id,
        site_id=app.site_id,
        site_name=repo.site_name(session, app.site_id) or "",
        provider_id=app.provider_id,
        provider_name=repo.enterprise_name(session, app.provider_id),
        status=app.status,
        pre_approved_model=app.pre_approved_model,
        submitted_at=app.submitted_at,
        reviewed_at=app.reviewed_at,
        review_note=app.review_note,
        test_due_date=app.test_due_date,
        tested_at=app.tested_at,
        test_note=app.test_note,
        install_due_date=app.install_due_date,
        installed_at=app.installed_at,
        devices=[
            DeviceBrief(
                id=d.id,
                mn=d.mn,
                kind=d.kind,
                model=d.model,
                position=d.position,
                lifecycle=d.lifecycle,
                online=d.online,
                last_seen_at=d.last_seen_at,
            )
            for d in devs
        ],
        steps=devices.step_outs(steps),
    )


def list_applications(
    session: Session,
    principal: Principal,
    *,
    status: ApplicationStatus | None = None,
    site_id: int | None = None,
    page: int = 1,
    size: int = 50,
    now: datetime | None = None,
) -> ApplicationPage:
    rows, total = repo.application_rows(
        session,
        principal,
        status=status.value if status else None,
        site_id=site_id,
        offset=(page - 1) * size,
        limit=size,
    )
    return ApplicationPage(
        items=[to_out(session, a, now=now) for a in rows], total=total, page=page, size=size
    )


def may_review(session: Session, principal: Principal, app: OnboardingApplication) -> bool:
    """Whether the page should offer the review/test/install buttons."""
    return principal.can(Perm.device_review) and _site_writable(session, principal, app.site_id)
