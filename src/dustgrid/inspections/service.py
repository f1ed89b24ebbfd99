"""Inspection visits: check in, add photos, submit the checklist (failed items open cases).

Takes a session and never commits (``db.get_session`` does). Every state change writes an
audit row. The phone's idempotency key makes a visit safe to send twice: the same check-in
returns the same visit, a photo already stored is not stored again, and a submitted visit
submitted again is returned as it is.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dustgrid.audit.service import record, record_change
from dustgrid.cases import attachments as files
from dustgrid.cases.attachments import AttachmentIn
from dustgrid.cases.categories import category_label
from dustgrid.cases.models import Case
from dustgrid.cases.service import open_case
from dustgrid.cases.states import CaseSource
from dustgrid.config import Settings
from dustgrid.errors import Conflict, Forbidden, Invalid, NotFound
from dustgrid.i18n import translate
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Perm, Role
from dustgrid.inspections import fence, photos
from dustgrid.inspections import repository as repo
from dustgrid.inspections.checklist import ChecklistItem, ChecklistTemplate, template_by_version
from dustgrid.inspections.checklist import template_for as checklist_for
from dustgrid.inspections.grading.service import regrade_site
from dustgrid.inspections.models import (
    Inspection,
    InspectionItem,
    InspectionMode,
    InspectionPhoto,
    InspectionResult,
    ItemOutcome,
)
from dustgrid.inspections.policy import (
    DEFAULT_CHECK_IN_POLICY,
    DEFAULT_PHOTO_CHECK_POLICY,
    CheckInPolicy,
    PhotoCheckPolicy,
)
from dustgrid.inspections.schemas import CheckInIn, SubmitIn
from dustgrid.models import utcnow
from dustgrid.sites.models import Site

CLOCK_SKEW = timedelta(minutes=5)  # a phone clock this far ahead is still "now"
CASE_SEVERITY = "medium"


@dataclass(frozen=True, slots=True)
class Visit:
    """A visit with everything its page and its API answer show."""

    inspection: Inspection
    site: Site
    inspector_name: str
    template: ChecklistTemplate | None
    items: list[InspectionItem] = field(default_factory=list)
    photos: list[InspectionPhoto] = field(default_factory=list)
    cases: list[Case] = field(default_factory=list)


def tz_of(settings: Settings) -> ZoneInfo:
    return ZoneInfo(settings.timezone)


def template_for(day_at: datetime, settings: Settings) -> ChecklistTemplate:
    """The checklist that applies at ``day_at`` (by the city's local date)."""
    return checklist_for(day_at.astimezone(tz_of(settings)).date())


def item_label(item_code: str, locale: str) -> str:
    return translate(f"inspections.item.{item_code}", locale)


def snapshot(row: Inspection) -> dict[str, Any]:
    return {
        "site_id": row.site_id,
        "inspector_id": row.inspector_id,
        "mode": row.mode,
        "result": row.result,
        "template_version": row.template_version,
        "checked_in_at": row.checked_in_at,
        "submitted_at": row.submitted_at,
        "check_in_distance_m": row.check_in_distance_m,
    }


# --------------------------------------------------------------------------- check-in


def _grid_of(site: Site, p: Principal) -> int | None:
    """The site's grid the principal belongs to: the enforcement grid for officers, the
    inspector grid for inspectors."""
    grid = site.enforcement_grid_id if p.role == Role.officer else site.inspector_grid_id
    return grid if grid is not None and grid in p.grid_ids else None


def _inspectable_site(session: Session, p: Principal, site_id: int) -> tuple[Site, int | None]:
    if not p.can(Perm.inspect):
        raise Forbidden("inspections.error.only_grid_officers_and_inspectors_inspect")
    site = repo.visible_site(session, p, site_id)
    if site is None:
        raise NotFound(
            "inspections.error.site_not_found", site_id=site_id, details={"site_id": site_id}
        )
    grid = _grid_of(site, p)
    if grid is None:
        raise Forbidden("inspections.error.site_not_grid", details={"site_id": site_id})
    if site.retired_at is not None:
        raise Conflict("inspections.error.site_retired", details={"site_id": site_id})
    return site, repo.group_in_grid(session, p.user_id, grid)


def _check_time(data: CheckInIn, now: datetime, policy: CheckInPolicy) -> datetime:
    at = data.checked_in_at
    if at is None:
        return now
    if at.tzinfo is None:
        raise Invalid("inspections.error.checked_needs_time_zone_offset")
    if at > now + CLOCK_SKEW or at < now - policy.max_client_age:
        hours = policy.max_client_age.total_seconds() / 3600
        raise Invalid(
            "inspections.error.checked_must_within_last_hours",
            hours=f"{hours:.0f}",
            details={"field": "checked_in_at"},
        )
    return at


def _fence(site: Site, data: CheckInIn, policy: CheckInPolicy) -> float:
    """The phone's distance from the site; refuses a fix that is missing, too coarse, or
    outside the fence (saying how far away the phone is)."""
    if data.lat is None or data.lon is None:
        raise Invalid(
            "inspections.error.on_site_check_needs_lat_and",
            details={"fields": ["lat", "lon"]},
        )
    if data.accuracy_m is not None and data.accuracy_m > policy.max_accuracy_m:
        raise Invalid(
            "inspections.error.location_accuracy_too_poor_m_try",
            accuracy_m=f"{data.accuracy_m:.0f}",
            details={"field": "accuracy_m", "accuracy_m": data.accuracy_m},
        )
    distance = fence.distance_to_site_m(
        data.lat, data.lon, site_lat=site.lat, site_lon=site.lon, boundary=site.boundary
    )
    if not fence.within(distance, policy.radius_m):
        said = {
            "zh-CN": fence.spoken_distance(distance),
            "en": fence.spoken_distance(distance, "en"),
        }
        raise Invalid(
            "inspections.error.too_far_from_site",
            distance=said,
            radius_m=f"{policy.radius_m:.0f}",
            details={
                "field": "location",
                "distance_m": round(distance, 1),
                "radius_m": policy.radius_m,
                "policy_version": policy.version,
            },
        )
    return distance


def _check_mode(p: Principal, data: CheckInIn, policy: CheckInPolicy) -> None:
    if data.mode == InspectionMode.video and p.role not in policy.video_roles:
        raise Forbidden(
            "inspections.error.only_enforcement_officers_may_record_video",
            details={"field": "mode"},
        )


def _known(session: Session, p: Principal, data: CheckInIn) -> Inspection | None:
    known = repo.by_key(session, data.idempotency_key)
    if known is not None and (known.inspector_id != p.user_id or known.site_id != data.site_id):
        raise Conflict(
            "inspections.error.idempotency_key_belongs_another_visit",
            details={"field": "idempotency_key"},
        )
    return known


def check_in(
    session: Session,
    p: Principal,
    data: CheckInIn,
    *,
    settings: Settings,
    now: datetime | None = None,
    policy: CheckInPolicy = DEFAULT_CHECK_IN_POLICY,
) -> tuple[Inspection, bool]:
    """Start a visit (on site inside the fence, or by video for officers). Returns
    (visit, created); the same idempotency key again returns the first visit."""
    now = now or utcnow()
    known = _known(session, p, data)
    if known is not None:
        return known, False
    site, group_id = _inspectable_site(session, p, data.site_id)
    _check_mode(p, data, policy)
    at = _check_time(data, now, policy)
    distance = _fence(site, data, policy) if data.mode == InspectionMode.on_site else None
    row = Inspection(
        idempotency_key=data.idempotency_key,
        site_id=site.id,
        inspector_id=p.user_id,
        group_id=group_id,
        mode=data.mode,
        result=InspectionResult.draft,
        template_version=template_for(at, settings).version,
        checked_in_at=at,
        check_in_lat=data.lat,
        check_in_lon=data.lon,
        check_in_accuracy_m=data.accuracy_m,
        check_in_distance_m=round(distance, 1) if distance is not None else None,
        note="",
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:  # the same key sent twice at once: the other one won
        raced = repo.by_key(session, data.idempotency_key)
        if raced is None:
            raise
        return raced, False
    record_change(
        session,
        actor=p,
        action="inspection.check_in",
        entity_type="inspection",
        entity_id=row.id,
        before={},
        after={**snapshot(row), "policy_version": policy.version},
        summary=f"巡查签到 #{row.id}（{site.name}）",
    )
    return row, True


# --------------------------------------------------------------------------- photos


def photo_root(settings: Settings) -> Path:
    return settings.var_dir / "inspections"


def photo_path(settings: Settings, relative: str) -> Path:
    return photo_root(settings) / relative


def _own_draft(session: Session, p: Principal, inspection_id: int) -> Inspection:
    row = repo.get_visible(session, p, inspection_id)
    if row is None:
        raise NotFound("inspections.error.inspection_not_found", inspection_id=inspection_id)
    if row.inspector_id != p.user_id:
        raise Forbidden("inspections.error.only_who_checked_may_change_visit")
    return row


def _check_item_code(row: Inspection, item_code: str) -> None:
    template = template_by_version(row.template_version)
    if item_code and (template is None or template.item(item_code) is None):
        raise Invalid(
            "inspections.error.not_item_checklist",
            item_code=item_code,
            details={"field": "item_code", "item_code": item_code},
        )


def _store(session: Session, settings: Settings, content: bytes, ext: str) -> tuple[str, str]:
    sha = hashlib.sha256(content).hexdigest()
    relative = f"{sha[:2]}/{sha}{ext}"
    files.write_file(session, photo_path(settings, relative), content)
    return relative, sha


def _stamped(
    row: Inspection, site: Site, p: Principal, content: bytes, tz: ZoneInfo, taken: datetime
) -> bytes:
    lat = row.check_in_lat if row.check_in_lat is not None else site.lat
    lon = row.check_in_lon if row.check_in_lon is not None else site.lon
    stamp = photos.stamp_for(
        taken=taken,
        tz=tz,
        site_name=site.name,
        site_code=site.project_code,
        lat=lat,
        lon=lon,
        inspector=p.display_name,
        inspector_login=p.username,
    )
    return photos.watermark(content, stamp)


def _read(content: bytes, tz: ZoneInfo, name: str) -> photos.ExifFacts:
    try:
        return photos.read_exif(content, tz)
    except photos.PhotoUnreadable as exc:
        raise Invalid(
            "inspections.error.photo_cannot_read_use_jpeg_png",
            name=name,
            details={"filename": name},
        ) from exc


def add_photo(
    session: Session,
    p: Principal,
    inspection_id: int,
    *,
    item_code: str,
    filename: str,
    content: bytes,
    settings: Settings,
    policy: PhotoCheckPolicy = DEFAULT_PHOTO_CHECK_POLICY,
) -> tuple[InspectionPhoto, bool]:
    """Check, stamp and store a photo of a draft visit. Returns (photo, created): the same
    bytes (sha256) for the same visit and item again return the stored photo, even once the
    visit is submitted, so that an offline queue's retry never stores a photo twice."""
    row = _own_draft(session, p, inspection_id)
    _check_item_code(row, item_code)
    checked = files.check([AttachmentIn(filename, content, files.PHOTO)], settings)[0]
    known = repo.same_photo(session, row.id, item_code, checked.sha256)
    if known is not None:
        return known, False
    if row.result != InspectionResult.draft:
        raise Conflict("inspections.error.visit_has_been_submitted")
    if repo.photo_count(session, row.id) >= policy.max_photos_per_visit:
        raise Invalid(
            "inspections.error.too_many_photos", max_photos_per_visit=policy.max_photos_per_visit
        )
    tz = tz_of(settings)
    facts = _read(content, tz, checked.filename)
    site = repo.site(session, row.site_id)
    assert site is not None
    flags = photos.check_flags(
        facts, site=(site.lat, site.lon), visit_at=row.checked_in_at, policy=policy
    )
    original, sha = _store(session, settings, content, files.EXTENSIONS[checked.mime])
    # The stamp's time: the camera's when it fits the visit, else the check-in's.
    taken = row.checked_in_at
    if facts.taken_at is not None and photos.TIME_OFF not in flags:
        taken = facts.taken_at
    stamped_bytes = _stamped(row, site, p, content, tz, taken)
    stamped, _ = _store(session, settings, stamped_bytes, ".jpg")
    photo = InspectionPhoto(
        inspection_id=row.id,
        item_code=item_code,
        original_path=original,
        stamped_path=stamped,
        content_type=checked.mime,
        sha256=sha,
        exif_taken_at=facts.taken_at,
        exif_lat=facts.lat,
        exif_lon=facts.lon,
        flags=" ".join(flags),
    )
    session.add(photo)
    session.flush()
    record(
        session,
        actor=p,
        action="inspection.photo",
        entity_type="inspection",
        entity_id=row.id,
        changes={"photo": [None, photo.id], "item_code": [None, item_code], "flags": [None, flags]},
        summary=f"巡查照片 #{photo.id}（巡查 #{row.id}）",
    )
    return photo, True


# --------------------------------------------------------------------------- submit


def _answers(template: ChecklistTemplate, data: SubmitIn) -> dict[str, tuple[ItemOutcome, str]]:
    """Every item of the template answered once, nothing else: 422 naming what is wrong."""
    answers: dict[str, tuple[ItemOutcome, str]] = {}
    for a in data.answers:
        if template.item(a.item_code) is None:
            raise Invalid(
                "inspections.error.not_item_checklist",
                item_code=a.item_code,
                details={"field": "answers", "item_code": a.item_code},
            )
        if a.item_code in answers:
            raise Invalid(
                "inspections.error.item_answered_twice",
                item_code=a.item_code,
                details={"field": "answers", "item_code": a.item_code},
            )
        answers[a.item_code] = (a.outcome, a.note.strip())
    missing = [c for c in template.codes() if c not in answers]
    if missing:
        labels = {
            "zh-CN": "、".join(item_label(c, "zh-CN") for c in missing),
            "en": ", ".join(item_label(c, "en") for c in missing),
        }
        raise Invalid(
            "inspections.error.not_answered",
            labels=labels,
            details={"field": "answers", "missing": missing},
        )
    return answers


def _require_photos(
    answers: dict[str, tuple[ItemOutcome, str]], by_item: dict[str, list[InspectionPhoto]]
) -> None:
    bare = [c for c, (o, _) in answers.items() if o == ItemOutcome.failed and not by_item.get(c)]
    if bare:
        labels = {
            "zh-CN": "、".join(item_label(c, "zh-CN") for c in bare),
            "en": ", ".join(item_label(c, "en") for c in bare),
        }
        raise Invalid(
            "inspections.error.failed_item_needs_photo",
            labels=labels,
            details={"field": "photos", "items": bare},
        )


def _source(p: Principal) -> CaseSource:
    if p.role == Role.inspector:
        return CaseSource.third_party_inspector
    return CaseSource.enforcement_officer


def _evidence(settings: Settings, shots: list[InspectionPhoto]) -> list[AttachmentIn]:
    out = []
    for n, ph in enumerate(shots, start=1):
        content = photo_path(settings, ph.stamped_path).read_bytes()
        out.append(AttachmentIn(f"inspection-{ph.inspection_id}-{n}.jpg", content, files.PHOTO))
    return out


def _open_case_for(
    session: Session,
    p: Principal,
    row: Inspection,
    item: ChecklistItem,
    note: str,
    shots: list[InspectionPhoto],
    *,
    settings: Settings,
    now: datetime,
) -> Case:
    label = item_label(item.code, "zh-CN")
    mode = "视频巡查" if row.mode == InspectionMode.video else "现场巡查"
    description = f"{mode}发现：{label}不符合要求（巡查 #{row.id}）" + (f"。{note}" if note else "")
    location = (
        (row.check_in_lat, row.check_in_lon)
        if row.check_in_lat is not None and row.check_in_lon is not None
        else None
    )
    case, _ = open_case(
        session,
        actor=p,
        source=_source(p),
        site_id=row.site_id,
        location=location,
        category=item.defect,
        description=description,
        severity=CASE_SEVERITY,
        attachments=_evidence(settings, shots[: settings.attachment_max_files]),
        external_ref=f"inspection:{row.id}:{item.code}",
        now=now,
        settings=settings,
    )
    return case


def submit(
    session: Session,
    p: Principal,
    inspection_id: int,
    data: SubmitIn,
    *,
    settings: Settings,
    now: datetime | None = None,
) -> tuple[Inspection, bool]:
    """Record the answers; each failed item opens a case with its photos as evidence.
    Returns (visit, submitted now); a visit already submitted is returned unchanged."""
    now = now or utcnow()
    row = _own_draft(session, p, inspection_id)
    if row.result != InspectionResult.draft:
        return row, False
    template = template_by_version(row.template_version)
    if template is None:
        raise Conflict(
            "inspections.error.unknown_checklist_version", template_version=row.template_version
        )
    answers = _answers(template, data)
    by_item: dict[str, list[InspectionPhoto]] = {}
    for ph in repo.photos_of(session, row.id):
        by_item.setdefault(ph.item_code, []).append(ph)
    _require_photos(answers, by_item)
    before = snapshot(row)
    failed = 0
    for item in template.items:
        outcome, note = answers[item.code]
        answer = InspectionItem(
            inspection_id=row.id, item_code=item.code, outcome=outcome, note=note
        )
        if outcome == ItemOutcome.failed:
            failed += 1
            shots = by_item[item.code]
            answer.case_id = _open_case_for(
                session, p, row, item, note, shots, settings=settings, now=now
            ).id
        session.add(answer)
    row.result = InspectionResult.problems if failed else InspectionResult.nothing_found
    row.submitted_at = now
    row.note = data.note.strip()
    session.flush()
    record_change(
        session,
        actor=p,
        action="inspection.submit",
        entity_type="inspection",
        entity_id=row.id,
        before=before,
        after=snapshot(row),
        summary=f"提交巡查 #{row.id}：" + (f"发现问题 {failed} 项" if failed else "未发现问题"),
    )
    regrade_site(session, row.site_id, now=now, actor=p)  # the grade follows the visit
    return row, True


# --------------------------------------------------------------------------- reads


def visit(session: Session, p: Principal, inspection_id: int) -> Visit:
    row = repo.get_visible(session, p, inspection_id)
    if row is None:
        raise NotFound("inspections.error.inspection_not_found", inspection_id=inspection_id)
    site = repo.site(session, row.site_id)
    assert site is not None
    items = repo.items_of(session, row.id)
    case_ids = [i.case_id for i in items if i.case_id is not None]
    return Visit(
        inspection=row,
        site=site,
        inspector_name=repo.user_names(session, [row.inspector_id]).get(row.inspector_id, ""),
        template=template_by_version(row.template_version),
        items=items,
        photos=repo.photos_of(session, row.id),
        cases=repo.cases_of(session, p, case_ids),
    )


@dataclass(frozen=True, slots=True)
class Listed:
    inspection: Inspection
    site_name: str
    site_code: str
    inspector_name: str


def list_visits(
    session: Session,
    p: Principal,
    *,
    site_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    inspector_id: int | None = None,
    page: int = 1,
    size: int = 50,
) -> tuple[list[Listed], int]:
    rows, total = repo.page_rows(
        session,
        p,
        site_id=site_id,
        since=since,
        until=until,
        inspector_id=inspector_id,
        offset=(page - 1) * size,
        limit=size,
    )
    sites = repo.site_names(session, [r.site_id for r in rows])
    users = repo.user_names(session, [r.inspector_id for r in rows])
    out = [Listed(r, *sites.get(r.site_id, ("", "")), users.get(r.inspector_id, "")) for r in rows]
    return out, total


def photo_file(
    session: Session, p: Principal, inspection_id: int, photo_id: int, *, original: bool
) -> tuple[InspectionPhoto, str]:
    """The photo row and the stored file's relative path, if the principal may see the visit."""
    row = repo.get_visible(session, p, inspection_id)
    photo = repo.photo_of(session, inspection_id, photo_id) if row is not None else None
    if photo is None:
        raise NotFound("inspections.error.photo_not_found", photo_id=photo_id)
    return photo, photo.original_path if original else photo.stamped_path


@dataclass(frozen=True, slots=True)
class NearSite:
    site: Site
    distance_m: float | None


def nearest_sites(
    session: Session,
    p: Principal,
    *,
    lat: float | None,
    lon: float | None,
    q: str = "",
    limit: int = 20,
) -> list[NearSite]:
    """Sites the principal may inspect, nearest first from (lat, lon) when given, filtered
    by name or project code."""
    sites = repo.candidate_sites(session, p, q.strip()[:64])
    if lat is None or lon is None:
        return [NearSite(s, None) for s in sites[:limit]]
    scored = [
        NearSite(
            s,
            fence.distance_to_site_m(lat, lon, site_lat=s.lat, site_lon=s.lon, boundary=s.boundary),
        )
        for s in sites
    ]
    scored.sort(key=lambda n: (n.distance_m or 0.0, n.site.id))
    return scored[:limit]


def may_inspect(p: Principal, site: Site) -> bool:
    """Whether the principal may start a visit at this site (a member of its grid)."""
    return p.can(Perm.inspect) and _grid_of(site, p) is not None and site.retired_at is None


def flag_label(flag: str, locale: str) -> str:
    return translate(f"inspections.flag.{flag}", locale)


def defect_label(item: ChecklistItem, locale: str) -> str:
    return category_label(item.defect, locale)
