"""Video-AI events from site cameras → cases, one per site and kind within the window.

Every event is recorded (``VideoAiEvent``) whatever comes of it, so a vendor's accuracy
can be checked and the threshold tuned. An event at or above
``IntakePolicy.video_min_confidence`` from a camera attached to a site goes through
``cases.service.open_case`` as the system with ``dedup_key = "video:{site}:{kind}"``: the
case core merges it into the open case with that key opened within
``DedupPolicy.video_ai_window`` (a camera re-detecting the same uncovered soil every
minute yields one case), and opens a new case after the window.

The event's own time is the case's ``now``: deduplication compares what the camera saw,
not when a retry happened to arrive. Events older than ``video_max_age`` are refused so
no case starts a clock that ran out long ago. The vendor's event id makes a resend
harmless (answered with the first outcome). Never commits.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dustgrid.audit import service as audit
from dustgrid.cases import service as cases
from dustgrid.cases.attachments import AttachmentIn, sniff
from dustgrid.cases.states import CaseSource
from dustgrid.config import Settings, get_settings
from dustgrid.devices.models import Device, DeviceKind
from dustgrid.errors import Forbidden, Invalid, Unauthenticated
from dustgrid.i18n import Msg, localize
from dustgrid.intake import repository as repo
from dustgrid.intake.hotline import aware
from dustgrid.intake.models import VideoAiEvent, VideoOutcome
from dustgrid.intake.policy import (
    VIDEO_CATEGORY,
    VIDEO_KIND_LABELS,
    IntakePolicy,
    VideoEventKind,
    intake_policy,
    snapshot_limit,
)
from dustgrid.intake.schemas import VideoEventIn, VideoEventOut
from dustgrid.models import utcnow

CAMERAS = frozenset({DeviceKind.video_camera, DeviceKind.plate_camera})
SNAPSHOT_MIMES = {"image/jpeg": "jpg", "image/png": "png"}


@dataclass(frozen=True, slots=True)
class Snapshot:
    content: bytes
    mime: str


def check_snapshot(content: bytes | None, settings: Settings, policy: IntakePolicy
                   ) -> Snapshot | None:  # fmt: skip
    """A JPEG or PNG within the size limit, proven by its bytes; 422 naming ``snapshot``."""
    if content is None:
        return None
    limit = snapshot_limit(settings, policy)
    if len(content) > limit:
        raise Invalid(
            "intake.error.snapshot_too_large_bytes_limit",
            content=len(content),
            limit=limit,
            details={"field": "snapshot", "size": len(content), "limit": limit},
        )
    mime = sniff(content)
    if not content or mime not in SNAPSHOT_MIMES:
        raise Invalid("intake.error.snapshot_not_jpeg_or_png_image",
                      details={"field": "snapshot"})  # fmt: skip
    return Snapshot(content, mime)


def camera_for(device: Device | None, mn: str) -> Device:
    """The key's device must be the camera named in the body."""
    if device is None or device.mn != mn:
        raise Unauthenticated("intake.error.unknown_device_or_api_key")
    if device.kind not in CAMERAS:
        raise Forbidden("intake.error.device_not_camera", mn=device.mn)
    return device


def _out(ev: VideoAiEvent, *, created: bool, duplicate: bool) -> VideoEventOut:
    return VideoEventOut(event_id=ev.id, outcome=ev.outcome, case_id=ev.case_id,
                         created=created, duplicate=duplicate,
                         policy_version=ev.policy_version)  # fmt: skip


def _known(session: Session, device_id: int, vendor_id: str | None) -> VideoAiEvent | None:
    if not vendor_id:
        return None
    return repo.video_event(session, device_id, vendor_id)


def record_event(
    session: Session,
    *,
    device: Device,
    event: VideoEventIn,
    snapshot: bytes | None,
    now: datetime | None = None,
    settings: Settings | None = None,
    policy: IntakePolicy | None = None,
) -> VideoEventOut:
    settings = settings or get_settings()
    policy = policy or intake_policy(settings)
    received = now or utcnow()
    device = camera_for(device, event.device_mn)
    at = aware(event.time, settings)
    if at > received + policy.video_max_skew:
        raise Invalid("intake.error.event_time_future",
                      details={"field": "time"})  # fmt: skip
    if at < received - policy.video_max_age:
        raise Invalid("intake.error.event_too_old_open_case",
                      details={"field": "time", "max_age_hours":
                               policy.video_max_age.total_seconds() / 3600})  # fmt: skip
    shot = check_snapshot(snapshot, settings, policy)
    vendor_id = (event.event_id or "").strip() or None
    known = _known(session, device.id, vendor_id)
    if known is not None:
        return _out(known, created=False, duplicate=True)
    kind = VideoEventKind(event.kind)
    ev = VideoAiEvent(
        device_id=device.id, site_id=device.site_id, vendor_event_id=vendor_id, kind=kind.value,
        occurred_at=at, received_at=received, confidence=event.confidence,
        snapshot_sha256="", snapshot_size=len(shot.content) if shot else 0,
        outcome=VideoOutcome.below_threshold.value, policy_version=policy.version,
    )  # fmt: skip
    try:
        with session.begin_nested():  # claims the vendor id before the case is written
            session.add(ev)
            session.flush()
    except IntegrityError:
        known = _known(session, device.id, vendor_id)
        if known is None:
            raise
        return _out(known, created=False, duplicate=True)
    created = False
    if device.site_id is None:
        ev.outcome = VideoOutcome.no_site.value
    elif event.confidence >= policy.video_min_confidence:
        category, severity = VIDEO_CATEGORY[kind]
        zh, en = VIDEO_KIND_LABELS[kind]
        files = []
        if shot is not None:
            name = f"{device.mn}-{at:%Y%m%d%H%M%S}.{SNAPSHOT_MIMES[shot.mime]}"
            files.append(AttachmentIn(filename=name, content=shot.content))
        case, created = cases.open_case(
            session,
            actor=None,
            source=CaseSource.video_ai,
            site_id=device.site_id,
            location=None,
            category=category,
            description=localize(msg := Msg("intake.video.case", {
                "kind": {"zh-CN": zh, "en": en}, "confidence": f"{event.confidence:.0%}",
                "mn": device.mn})),
            description_msg=msg,
            severity=severity.value,
            attachments=files,
            dedup_key=f"video:{device.site_id}:{kind.value}",
            now=at,
            settings=settings,
        )  # fmt: skip
        ev.case_id = case.id
        ev.outcome = (VideoOutcome.opened if created else VideoOutcome.merged).value
    if shot is not None:
        ev.snapshot_sha256 = hashlib.sha256(shot.content).hexdigest()
    audit.record(session, actor=None, action="video_ai.event", entity_type="video_ai_event",
                 entity_id=ev.id, changes={"outcome": [None, ev.outcome],
                                           "case_id": [None, ev.case_id]},
                 summary=f"视频AI事件 {kind.value}（{device.mn}）→ {ev.outcome}")  # fmt: skip
    return _out(ev, created=created, duplicate=False)
