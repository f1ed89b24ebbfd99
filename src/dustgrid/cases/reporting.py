"""Opening a case: the one entry of every intake channel (``open_case``).

Re-exported by ``cases.service``; its signature is a contract the intake channels build on
(docs/adr/0002-case-loop.md): keep it stable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from dustgrid.cases import attachments as files
from dustgrid.cases import deadlines, followups
from dustgrid.cases import repository as repo
from dustgrid.cases.attachments import AttachmentIn
from dustgrid.cases.categories import CATEGORIES, Severity
from dustgrid.cases.events import CaseAudit, record_event, role_of
from dustgrid.cases.models import Case
from dustgrid.cases.policy import CasePolicy
from dustgrid.cases.states import (
    PUBLIC_SOURCES,
    CaseSource,
    CaseState,
    TransitionPlan,
    plan_report,
)
from dustgrid.config import Settings, get_settings
from dustgrid.errors import Invalid
from dustgrid.geo.coords import haversine_m
from dustgrid.geo.shapes import point_in_geometry
from dustgrid.i18n import Msg
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Role
from dustgrid.models import utcnow
from dustgrid.org import repository as org_repo
from dustgrid.sites.models import Site
from dustgrid.text import check_field

SEVERITY_RANK = {Severity.low: 0, Severity.medium: 1, Severity.high: 2}


def _now(now: datetime | None) -> datetime:
    if now is None:
        return utcnow()
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now


def _district_of(session: Session, lat: float, lon: float) -> int | None:
    for d in org_repo.districts_with_boundary(session):
        if d.boundary and point_in_geometry(lat, lon, d.boundary):
            return d.id
    return None


def _check_location(location: tuple[float, float] | None) -> tuple[float, float] | None:
    if location is None:
        return None
    try:
        lat, lon = float(location[0]), float(location[1])
    except (TypeError, ValueError, IndexError) as exc:
        raise Invalid("cases.error.location_must_lat_lon") from exc
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise Invalid("cases.error.location_out_range", lat=lat, lon=lon)
    return lat, lon


def _merge(
    session: Session,
    case: Case,
    *,
    actor: Principal | None,
    description: str,
    severity: Severity,
    checked: list[files.CheckedFile],
    external_ref: str | None,
    source: CaseSource,
    now: datetime,
    settings: Settings,
    reason_msg: Msg | None = None,
) -> Case:
    """Append the duplicate report to the open case it repeats."""
    policy = deadlines.case_policy(settings)
    case.merged_count = (case.merged_count or 0) + 1
    if SEVERITY_RANK[severity] > SEVERITY_RANK.get(Severity(case.severity), 0):
        case.severity = severity.value
    data: dict[str, object] = {"source": source.value, "severity": severity.value}
    if external_ref:
        data["external_ref"] = external_ref
    if reason_msg is not None:
        data["reason_msg"] = reason_msg.as_json()
    record_event(
        session,
        case,
        "case.merged",
        actor=actor,
        now=now,
        policy_version=policy.version,
        settings=settings,
        reason=description,
        data=data,
        from_state=case.state.value,
        checked=checked,
        audit_row=CaseAudit(
            action="case.merge",
            summary=f"重复上报并入案件 #{case.id}",
            changes={"merged_count": [case.merged_count - 1, case.merged_count]},
        ),
    )
    return case


def _checked_inputs(
    source: CaseSource | str, category: str, severity: str
) -> tuple[CaseSource, Severity]:
    try:
        src = CaseSource(source)
    except ValueError as exc:
        raise Invalid("cases.error.unknown_source", source=source) from exc
    if category not in CATEGORIES:
        raise Invalid(
            "cases.error.unknown_category", category=category, details={"category": category}
        )
    try:
        sev = Severity(severity)
    except ValueError as exc:
        raise Invalid("cases.error.unknown_severity", severity=severity) from exc
    return src, sev


def _site(session: Session, actor: Principal | None, site_id: int | None) -> Site | None:
    """The site named, if the reporter may see it (the system sees every site)."""
    if site_id is None:
        return None
    site = repo.reported_site(session, actor, site_id)
    if site is None:
        raise Invalid(
            "cases.error.unknown_site",
            site_id=site_id,
            details={"site_id": site_id},
        )
    return site


def _duplicate(
    session: Session,
    *,
    src: CaseSource,
    site: Site | None,
    loc: tuple[float, float],
    dedup_key: str | None,
    dedup_window: timedelta | None,
    policy: CasePolicy,
    now: datetime,
) -> Case | None:
    """The open case this report repeats: same key within the window, or for a public
    complaint (12319 or Open311) without a key, the nearest open case from either public
    channel within the policy's radius."""
    if dedup_key:
        window = dedup_window
        if window is None:
            window = {
                CaseSource.video_ai: policy.dedup.video_ai_window,
                CaseSource.hotline_12319: policy.dedup.hotline_window,
                CaseSource.open311: policy.dedup.hotline_window,
            }.get(src)
        return repo.open_duplicate(session, dedup_key, since=repo.recent_window(now, window))
    if src not in PUBLIC_SOURCES or site is not None:
        return None
    radius = policy.dedup.hotline_radius_m
    since = now - (dedup_window or policy.dedup.hotline_window)
    near = repo.nearby_open(session, PUBLIC_SOURCES, loc[0], loc[1], radius_m=radius, since=since)
    scored = sorted((haversine_m(loc[0], loc[1], c.lat or 0, c.lon or 0), c.id, c) for c in near)
    return scored[0][2] if scored and scored[0][0] <= radius else None


@dataclass(frozen=True)
class Report:
    """A report that passed every check that needs no database (``check_report``)."""

    source: CaseSource
    severity: Severity
    category: str
    description: str
    files: list[files.CheckedFile]
    plan: TransitionPlan
    external_ref: str | None


def check_report(
    *,
    actor: Principal | None,
    source: CaseSource | str,
    category: str,
    description: str,
    severity: str,
    attachments: Sequence[AttachmentIn],
    external_ref: str | None,
    settings: Settings,
    also_allowed: frozenset[Role] = frozenset(),
) -> Report:
    """Check a report before anything is read or written: source, category, severity,
    text, files and whether the reporter may report from this source."""
    src, sev = _checked_inputs(source, category, severity)
    text = (description or "").strip()
    check_field("description", text, multiline=True)
    check_field("category", category)
    check_field("external_ref", external_ref)
    checked = files.check(list(attachments), settings)
    plan = plan_report(src, role_of(actor), fields={"description": text, "evidence": checked},
                       also_allowed=also_allowed)  # fmt: skip
    return Report(
        source=src,
        severity=sev,
        category=category,
        description=text,
        files=checked,
        plan=plan,
        external_ref=external_ref.strip()[:128] if external_ref else external_ref,
    )


def _place(
    session: Session,
    actor: Principal | None,
    site_id: int | None,
    location: tuple[float, float] | None,
) -> tuple[Site | None, tuple[float, float]]:
    """The site reported (in the reporter's scope) and the point of the report."""
    site = _site(session, actor, site_id)
    loc = _check_location(location) or ((site.lat, site.lon) if site else None)
    if loc is None:
        raise Invalid("cases.error.give_site_or_location")
    return site, loc


def _create(
    session: Session,
    report: Report,
    *,
    actor: Principal | None,
    site: Site | None,
    loc: tuple[float, float],
    dedup_key: str | None,
    now: datetime,
    policy: CasePolicy,
    settings: Settings,
    reason_msg: Msg | None = None,
) -> Case:
    """Write the new case in ``reported``: its row, its clock, the first event with the
    report's files, the audit row and the follow-ups (who is told)."""
    src, category = report.source, report.category
    case = Case(
        source=src,
        state=CaseState.reported,
        site_id=site.id if site else None,
        district_id=site.district_id if site else _district_of(session, *loc),
        lat=loc[0],
        lon=loc[1],
        category=category,
        description=report.description,
        severity=report.severity.value,
        reporter_id=actor.user_id if actor else None,
        external_ref=report.external_ref or None,
        dedup_key=dedup_key or None,
        opened_at=now,
        policy_version=policy.version,
    )
    session.add(case)
    session.flush()
    assert report.plan.clock is not None
    times = deadlines.start_clock(
        report.plan.clock,
        start=now,
        category=category,
        source=src,
        disposition=None,
        responsible_level=None,
        policy=policy,
        calendar=deadlines.work_calendar(settings),
    )
    data: dict[str, object] = {
        "source": src.value,
        "category": category,
        "severity": report.severity.value,
        "clock": deadlines.apply_clock(case, times),
    }
    if report.external_ref:
        data["external_ref"] = report.external_ref
    if reason_msg is not None:
        data["reason_msg"] = reason_msg.as_json()
    ev = record_event(
        session,
        case,
        report.plan.event_kind,
        actor=actor,
        now=now,
        policy_version=policy.version,
        settings=settings,
        reason=report.description,
        data=data,
        checked=report.files,
        audit_row=CaseAudit(
            action="case.report",
            summary=f"上报案件 #{case.id}（{src.value}）",
            changes={
                "state": [None, "reported"],
                "source": [None, src.value],
                "site_id": [None, case.site_id],
                "category": [None, category],
            },
        ),
    )
    followups.run(
        session,
        case=case,
        event=ev,
        followups=report.plan.followups,
        actor=actor,
        policy=policy,
        settings=settings,
        now=now,
    )
    return case


def open_case(
    session: Session,
    *,
    actor: Principal | None,
    source: CaseSource,
    site_id: int | None,
    location: tuple[float, float] | None,
    category: str,
    description: str,
    severity: str,
    attachments: Sequence[AttachmentIn] = (),
    dedup_key: str | None = None,
    dedup_window: timedelta | None = None,
    external_ref: str | None = None,
    now: datetime | None = None,
    settings: Settings | None = None,
    description_msg: Msg | None = None,
    also_allowed: frozenset[Role] = frozenset(),
) -> tuple[Case, bool]:
    """Open a case in ``reported``, or merge into an open duplicate. Returns (case, created).

    * ``also_allowed``: roles the city's settings let report from ``source`` besides
      ``states.REPORTERS`` (the caller owns that setting; scope still applies).
    * ``description_msg``: a machine's description as a message key (``description`` is then
      its zh-CN text); the report event keeps it as ``data["reason_msg"]`` so pages show it
      in the reader's language.
    * ``actor`` None is the system (sensor, video AI, City Brain); people must be allowed
      to report from ``source`` (``states.REPORTERS``) and see the site.
    * The same ``(source, external_ref)`` twice returns the first case and writes nothing
      (a channel's retry is harmless).
    * ``dedup_key``: an open case with the same key opened within ``dedup_window`` (default
      by source from ``DedupPolicy``; none = any age) gets a ``case.merged`` event instead.
      A hotline report without a key merges with an open hotline case within the policy's
      radius and window.
    * Everything is validated (source, category, severity, files, site, location) before
      anything is written; errors are ``Invalid`` (422) or ``MoveNotAllowed`` (403).

    Three steps: check (``check_report``, then the site and location), deduplicate (the
    channel's retry, then ``_duplicate`` → ``_merge``), create (``_create``).
    """
    settings = settings or get_settings()
    now = _now(now)
    policy = deadlines.case_policy(settings)
    report = check_report(
        actor=actor,
        source=source,
        category=category,
        description=description,
        severity=severity,
        attachments=attachments,
        external_ref=external_ref,
        settings=settings,
        also_allowed=also_allowed,
    )
    if report.external_ref:
        known = repo.by_external_ref(session, report.source, report.external_ref)
        if known is not None:
            return known, False
    site, loc = _place(session, actor, site_id, location)
    dup = _duplicate(
        session,
        src=report.source,
        site=site,
        loc=loc,
        dedup_key=dedup_key,
        dedup_window=dedup_window,
        policy=policy,
        now=now,
    )
    if dup is not None:
        merged = _merge(
            session,
            dup,
            actor=actor,
            description=report.description,
            severity=report.severity,
            checked=report.files,
            external_ref=report.external_ref,
            source=report.source,
            now=now,
            settings=settings,
            reason_msg=description_msg,
        )
        return merged, False
    case = _create(
        session,
        report,
        actor=actor,
        site=site,
        loc=loc,
        dedup_key=dedup_key,
        now=now,
        policy=policy,
        settings=settings,
        reason_msg=description_msg,
    )
    return case, True
