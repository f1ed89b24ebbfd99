"""JSON routes of the intake channels: the 12319 desk, the module-to-module intake, and the
management of Open311 client keys. (Open311 itself: ``open311.api``; video AI: ``video.api``.)

Permissions: the desk needs ``Perm.hotline`` (L1 and L2 admins); the intake API and the
keys need ``Perm.case_intake`` (L1, including service accounts given the L1 role).
Complaints outside the caller's scope answer 404.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Query

from dustgrid.bounds import Id, Month
from dustgrid.errors import error_responses
from dustgrid.identity.deps import AppSettings, DbSession, require
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Perm
from dustgrid.intake import hotline, hotline_settings, hotline_stats, hotline_suggest, views
from dustgrid.intake import service as intake
from dustgrid.intake.models import Channel, ComplaintStatus
from dustgrid.intake.open311 import service as keys
from dustgrid.intake.schemas import (
    ComplaintIn,
    ComplaintOut,
    ComplaintPage,
    DismissIn,
    FeedbackIn,
    HotlineSettingsIn,
    HotlineSettingsOut,
    HotlineStats,
    IntakeIn,
    IntakeOut,
    KeyIn,
    KeyIssued,
    KeyOut,
    LinkIn,
    SourceUpdateIn,
    SourceUpdateOut,
    Suggestions,
)
from dustgrid.models import utcnow
from dustgrid.pagination import PageParams, page_params
from dustgrid.routing import Router

router = Router(tags=["intake"], responses=error_responses())
Desk = Annotated[Principal, Depends(require(Perm.hotline))]
System = Annotated[Principal, Depends(require(Perm.case_intake))]
H = "/api/v1/hotline"

# --------------------------------------------------------------------------- hotline


@router.post(f"{H}/complaints", response_model=ComplaintOut, status_code=201,
             summary="Record a 12319 complaint")  # fmt: skip
def create_complaint(
    session: DbSession, principal: Desk, settings: AppSettings, body: ComplaintIn
) -> ComplaintOut:
    c = hotline.create(session, principal, body, settings=settings)
    return views.complaint_out(session, c)


@router.get(f"{H}/complaints", response_model=ComplaintPage,
            summary="Complaints in scope (callers masked)")  # fmt: skip
def list_complaints(
    session: DbSession,
    principal: Desk,
    paging: Annotated[PageParams, Depends(page_params)],
    status: ComplaintStatus | None = None,
    channel: Channel | None = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
) -> ComplaintPage:
    rows, total = hotline.list_complaints(session, principal, status=status, channel=channel,
                                          q=q, page=paging.page, size=paging.size)  # fmt: skip
    return ComplaintPage(items=views.complaint_rows(session, rows, masked=True), total=total,
                         page=paging.page, size=paging.size)  # fmt: skip


@router.get(f"{H}/complaints/{{complaint_id}}", response_model=ComplaintOut,
            summary="One complaint (caller shown in full)")  # fmt: skip
def get_complaint(session: DbSession, principal: Desk, complaint_id: Id) -> ComplaintOut:
    return views.complaint_out(session, hotline.get(session, principal, complaint_id))


@router.get(f"{H}/complaints/{{complaint_id}}/suggestions", response_model=Suggestions,
            summary="Nearest sites and possible duplicates")  # fmt: skip
def suggestions(
    session: DbSession, principal: Desk, settings: AppSettings, complaint_id: Id
) -> Suggestions:
    c = hotline.get(session, principal, complaint_id)
    return hotline_suggest.for_complaint(session, principal, c, settings=settings)


@router.post(f"{H}/complaints/{{complaint_id}}/link", response_model=ComplaintOut,
             summary="Open a case for the complaint, or merge it into one")  # fmt: skip
def link_complaint(
    session: DbSession, principal: Desk, settings: AppSettings, complaint_id: Id, body: LinkIn
) -> ComplaintOut:
    c, _case, _created = hotline.link(session, principal, complaint_id, body, settings=settings)
    return views.complaint_out(session, c)


@router.post(f"{H}/complaints/{{complaint_id}}/dismiss", response_model=ComplaintOut,
             summary="Close a complaint without a case")  # fmt: skip
def dismiss_complaint(
    session: DbSession, principal: Desk, complaint_id: Id, body: DismissIn
) -> ComplaintOut:
    return views.complaint_out(session, hotline.dismiss(session, principal, complaint_id,
                                                        body.reason))  # fmt: skip


@router.post(f"{H}/complaints/{{complaint_id}}/feedback", response_model=ComplaintOut,
             summary="Record response, resolution and satisfaction")  # fmt: skip
def complaint_feedback(
    session: DbSession, principal: Desk, settings: AppSettings, complaint_id: Id,
    body: FeedbackIn,
) -> ComplaintOut:  # fmt: skip
    c = hotline.feedback(session, principal, complaint_id, body, settings=settings)
    return views.complaint_out(session, c)


@router.get(f"{H}/stats", response_model=HotlineStats,
            summary="Response, resolution and satisfaction rates of a month")  # fmt: skip
def stats(
    session: DbSession,
    principal: Desk,
    settings: AppSettings,
    month: Annotated[Month | None, Query(description="YYYY-MM, default this month")] = None,
) -> HotlineStats:
    return hotline_stats.monthly(session, principal, month, settings=settings)


def _settings_out(session: DbSession) -> HotlineSettingsOut:
    row = hotline_settings.current(session)
    return HotlineSettingsOut(district_opens_cases=bool(row and row.district_opens_cases),
                              updated_at=row.updated_at if row else None)  # fmt: skip


@router.get(f"{H}/settings", response_model=HotlineSettingsOut,
            summary="The city's hotline settings")  # fmt: skip
def get_hotline_settings(session: DbSession, principal: Desk) -> HotlineSettingsOut:
    return _settings_out(session)


@router.put(f"{H}/settings", response_model=HotlineSettingsOut,
            summary="Change the city's hotline settings (city admin)")  # fmt: skip
def put_hotline_settings(
    session: DbSession, principal: Desk, body: HotlineSettingsIn
) -> HotlineSettingsOut:
    hotline_settings.set_district_opens_cases(session, principal, body.district_opens_cases)
    return _settings_out(session)


# --------------------------------------------------------------------------- intake


@router.post("/api/v1/cases/intake", response_model=IntakeOut,
             summary="Open a case or merge into its open duplicate (system callers)")  # fmt: skip
def intake_case(
    session: DbSession, principal: System, settings: AppSettings, body: IntakeIn
) -> IntakeOut:
    location = (body.lat, body.lon) if body.lat is not None and body.lon is not None else None
    window = timedelta(hours=body.dedup_window_hours) if body.dedup_window_hours else None
    case, created = intake.raise_case(
        session, source=body.source, category=body.category, description=body.description,
        severity=body.severity, site_id=body.site_id, location=location,
        dedup_key=body.dedup_key, dedup=body.dedup, dedup_window=window,
        evidence=body.evidence, external_ref=body.external_ref, caller=principal,
        now=utcnow(), settings=settings,
    )  # fmt: skip
    return IntakeOut(case_id=case.id, created=created, state=case.state.value,
                     merged_count=case.merged_count or 0, dedup_key=case.dedup_key)  # fmt: skip


@router.post("/api/v1/cases/intake/updates", response_model=SourceUpdateOut,
             summary="A channel adds to the case it opened (by its reference)")  # fmt: skip
def intake_update(
    session: DbSession, principal: System, settings: AppSettings, body: SourceUpdateIn
) -> SourceUpdateOut:
    ev = intake.update_case(session, source=body.source, external_ref=body.external_ref,
                            text=body.text, evidence=body.evidence, caller=principal,
                            settings=settings)  # fmt: skip
    return SourceUpdateOut(case_id=ev.case_id, event_id=ev.id)


# --------------------------------------------------------------------------- Open311 keys


def _key_out(row: object) -> KeyOut:
    return KeyOut.model_validate(row, from_attributes=True)


@router.get("/api/v1/open311/keys", response_model=list[KeyOut], summary="Open311 client keys")
def list_keys(session: DbSession, principal: System) -> list[KeyOut]:
    return [_key_out(r) for r in keys.list_keys(session)]


@router.post("/api/v1/open311/keys", response_model=KeyIssued, status_code=201,
             summary="Issue a key to an Open311 client (shown once)")  # fmt: skip
def issue_key(session: DbSession, principal: System, body: KeyIn) -> KeyIssued:
    row, plain = keys.issue_key(session, principal, body.name, now=utcnow())
    return KeyIssued(**_key_out(row).model_dump(), api_key=plain)


@router.post("/api/v1/open311/keys/{key_id}/revoke", response_model=KeyOut,
             summary="Revoke an Open311 client key")  # fmt: skip
def revoke_key(session: DbSession, principal: System, key_id: Id) -> KeyOut:
    return _key_out(keys.revoke_key(session, principal, key_id, now=utcnow()))
