"""JSON routes of the monthly notice and the electronic archives (``/api/v1/notices``,
``/api/v1/archives``), scoped like their pages: published notices for the officials,
drafts for L1; a site's archive for those who see the site, a member's for L1, their
district and themself. Literal paths are declared before ``/{notice_id}``.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

from fastapi import Path, Request
from fastapi.responses import Response

from dustgrid.alerts.models import Alert
from dustgrid.bounds import Id
from dustgrid.cases.models import Case
from dustgrid.downloads import MEDIA_TYPES, Ext, file_response
from dustgrid.errors import error_responses
from dustgrid.i18n import translate
from dustgrid.identity.deps import AppSettings, CurrentPrincipal, DbSession
from dustgrid.identity.principal import Principal
from dustgrid.reports import archives
from dustgrid.reports import service as svc
from dustgrid.reports.archives import MemberRecords, SiteRecords, photo_href
from dustgrid.reports.models import MonthlyNotice
from dustgrid.reports.notice import KINDS, Notice, notice_of, title
from dustgrid.reports.schemas import (
    ArchiveAlertOut,
    ArchiveCaseOut,
    ArchiveGradeOut,
    ArchiveMemberOut,
    ArchivePeriodOut,
    ArchivePhotoOut,
    ArchiveSiteOut,
    ArchiveVisitOut,
    BlackOut,
    CoverageOut,
    DraftMonthOut,
    FigureOut,
    FilesOut,
    GroupScoreOut,
    MemberArchiveOut,
    MemberVisitOut,
    NoticeOut,
    NoticeSummaryOut,
    PublishIn,
    RankingOut,
    RankOut,
    SensorMonthOut,
    SiteArchiveOut,
)
from dustgrid.routing import Router

router = Router(prefix="/api/v1", tags=["reports"], responses=error_responses())

MonthPath = Annotated[str, Path(description="YYYY-MM", max_length=7)]
FILE_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    200: {"description": "the file", "content": {m: {} for m in MEDIA_TYPES.values()}}
}


def _label(key: str, locale: str) -> str:
    return translate(key, locale)


# ---------------------------------------------------------------------------- notices


def _content(n: Notice | None, locale: str) -> dict[str, Any]:
    """What a notice says, labels in ``locale``; empty when it was not kept."""
    if n is None:
        return {"content_kept": False, "title": "", "figures": [], "rankings": [], "red": [],
                "black": []}  # fmt: skip
    rankings = [
        RankingOut(kind=kind, label=_label(f"assessments.kind.{kind}", locale), rows=[
            RankOut(rank=r.rank, name=r.name, score=r.score, lost=r.lost,
                    consequence=r.consequence,
                    consequence_label=_label(f"assessments.consequence.{r.consequence}", locale)
                    if r.consequence else "")
            for r in n.rankings.get(kind, [])])
        for kind in KINDS
    ]  # fmt: skip
    return {
        "content_kept": True,
        "title": title(n),
        "figures": [FigureOut(key=k, label=_label(k, locale), value=v) for k, v in n.figures],
        "rankings": rankings,
        "red": list(n.red),
        "black": [BlackOut(name=name, records=k) for name, k in n.black],
    }


def _published_out(row: MonthlyNotice, n: Notice | None, locale: str, publisher: str) -> NoticeOut:
    base = f"/api/v1/notices/{row.id}"
    return NoticeOut(
        id=row.id, draft=False, month=row.month, assessment_version=row.assessment_version,
        assessment_state=row.assessment_state, published_at=row.published_at,
        published_by=publisher, files=FilesOut(pdf=f"{base}/file.pdf", xlsx=f"{base}/file.xlsx"),
        **_content(n, locale),
    )  # fmt: skip


def _draft_out(n: Notice, locale: str) -> NoticeOut:
    base = f"/api/v1/notices/drafts/{n.month}"
    return NoticeOut(
        id=None, draft=True, month=n.month, assessment_version=n.version,
        assessment_state=n.state, published_at=None, published_by="",
        files=FilesOut(pdf=f"{base}/file.pdf", xlsx=f"{base}/file.xlsx"), **_content(n, locale),
    )  # fmt: skip


@router.get(
    "/notices",
    response_model=list[NoticeSummaryOut],
    summary="Published monthly notices, newest month first (officials)",
)
def notices(session: DbSession, principal: CurrentPrincipal) -> list[NoticeSummaryOut]:
    rows = svc.published(session, principal)
    names = svc.publisher_names(session, rows)
    return [
        NoticeSummaryOut(
            id=r.id,
            month=r.month,
            assessment_version=r.assessment_version,
            assessment_state=r.assessment_state,
            published_at=r.published_at,
            published_by=names.get(r.published_by_id or 0, ""),
            files=FilesOut(
                pdf=f"/api/v1/notices/{r.id}/file.pdf", xlsx=f"/api/v1/notices/{r.id}/file.xlsx"
            ),
        )  # fmt: skip
        for r in rows
    ]


@router.post(
    "/notices",
    response_model=NoticeOut,
    status_code=201,
    summary="Publish a month's notice as the records stand now (L1); every publication is kept",
)
def publish(
    session: DbSession, principal: CurrentPrincipal, settings: AppSettings, body: PublishIn
) -> NoticeOut:
    row = svc.publish(session, principal, body.month, settings)
    content = notice_of(row.content) if row.content else None
    return _published_out(row, content, principal.locale, principal.display_name)


@router.get(
    "/notices/drafts",
    response_model=list[DraftMonthOut],
    summary="Assessed months and whether their notice is published (L1)",
)
def drafts(session: DbSession, principal: CurrentPrincipal) -> list[DraftMonthOut]:
    return [
        DraftMonthOut(
            month=d.month,
            assessment_state=d.state,
            assessment_version=d.version,
            published_id=d.published_id,
            published_version=d.published_version,
            up_to_date=d.up_to_date,
            draft=f"/api/v1/notices/drafts/{d.month}",
        )  # fmt: skip
        for d in svc.drafts(session, principal)
    ]


@router.get(
    "/notices/drafts/{month}",
    response_model=NoticeOut,
    summary="A month's notice as the records stand now, before publishing (L1)",
)
def draft(
    session: DbSession, principal: CurrentPrincipal, settings: AppSettings, month: MonthPath
) -> NoticeOut:
    return _draft_out(svc.draft(session, principal, month, settings), principal.locale)


@router.get(
    "/notices/drafts/{month}/file.{ext}",
    response_class=Response,
    responses=FILE_RESPONSES,
    summary="A draft notice's PDF or workbook (L1)",
)
def draft_file(
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    month: MonthPath,
    ext: Ext,
) -> Response:
    name, content = svc.draft_file(session, principal, settings, month, ext)
    return file_response(name, ext, content)


@router.get(
    "/notices/{notice_id}",
    response_model=NoticeOut,
    summary="A published notice: its key figures, rankings, red and black lists",
)
def notice(session: DbSession, principal: CurrentPrincipal, notice_id: Id) -> NoticeOut:
    row, content = svc.published_notice(session, principal, notice_id)
    names = svc.publisher_names(session, [row])
    return _published_out(row, content, principal.locale, names.get(row.published_by_id or 0, ""))


@router.get(
    "/notices/{notice_id}/file.{ext}",
    response_class=Response,
    responses=FILE_RESPONSES,
    summary="A published notice's kept PDF or workbook",
)
def notice_file(
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    notice_id: Id,
    ext: Ext,
) -> Response:
    name, content = svc.notice_file(session, principal, settings, notice_id, ext)
    return file_response(name, ext, content)


# ---------------------------------------------------------------------------- archives


def _case_out(c: Case, locale: str) -> ArchiveCaseOut:
    return ArchiveCaseOut(
        id=c.id, opened_at=c.opened_at, closed_at=c.closed_at, category=c.category,
        description=c.description, state=str(c.state),
        state_label=_label(f"case_state.{c.state}", locale),
    )  # fmt: skip


def _alert_out(a: Alert, locale: str) -> ArchiveAlertOut:
    return ArchiveAlertOut(
        id=a.id, kind=a.kind, kind_label=_label(f"alerts.kind.{a.kind.split(':', 1)[0]}", locale),
        metric=a.metric, started_at=a.started_at, ended_at=a.ended_at,
    )  # fmt: skip


def _num(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def site_archive_out(r: SiteRecords, p: Principal) -> SiteArchiveOut:
    loc = p.locale
    base = f"/api/v1/archives/sites/{r.site.id}"
    return SiteArchiveOut(
        site=ArchiveSiteOut(
            id=r.site.id, name=r.site.name, project_code=r.site.project_code,
            address=r.site.address or "", grade=str(r.site.grade),
            grade_label=_label(f"grade.{r.site.grade}", loc),
        ),
        inspections=[
            ArchiveVisitOut(
                id=v.inspection.id, checked_in_at=v.inspection.checked_in_at,
                submitted_at=v.inspection.submitted_at, inspector_id=v.inspection.inspector_id,
                inspector_name=v.inspector, mode=str(v.inspection.mode),
                mode_label=_label(f"inspections.mode.{v.inspection.mode}", loc),
                result=str(v.inspection.result),
                result_label=_label(f"inspections.result.{v.inspection.result}", loc),
                photos=[
                    ArchivePhotoOut(
                        id=ph.id, item_code=ph.item_code,
                        item_label=_label(f"inspections.item.{ph.item_code}", loc)
                        if ph.item_code else "",
                        taken_at=ph.exif_taken_at, url=photo_href(ph),
                        original_url=f"{photo_href(ph)}?original=true",
                    )
                    for ph in v.photos
                ],
            )
            for v in r.visits
        ],
        cases=[_case_out(c, loc) for c in r.cases],
        grades=[
            ArchiveGradeOut(changed_at=g.changed_at, previous_grade=g.previous_grade,
                            grade=g.grade, grade_label=_label(f"grade.{g.grade}", loc))
            for g in r.grades
        ],
        alerts=[_alert_out(a, loc) for a in r.alerts],
        device_periods=[
            ArchivePeriodOut(
                device_id=d.id, device_name=d.name or str(d.id), device_kind=str(d.kind),
                started_at=p.started_at, ended_at=p.ended_at,
                repair_days=round(p.repair_seconds / 86400, 1)
                if p.repair_seconds is not None else None,
            )
            for p, d in r.periods
        ],
        sensor_stats=[
            SensorMonthOut(month=str(s[0]), metric=str(s[1]), mean=_num(s[2]), peak=_num(s[3]),
                           days=int(str(s[4])))
            for s in r.stats
        ],
        files=FilesOut(pdf=f"{base}/file.pdf", xlsx=f"{base}/file.xlsx"),
    )  # fmt: skip


def member_archive_out(r: MemberRecords, p: Principal) -> MemberArchiveOut:
    loc = p.locale
    base = f"/api/v1/archives/members/{r.user.id}"
    return MemberArchiveOut(
        member=ArchiveMemberOut(
            id=r.user.id, display_name=r.user.display_name, role=str(r.user.role),
            role_label=_label(f"role.{r.user.role}", loc),
            unit_id=r.unit.id if r.unit else None, unit_name=r.unit.name if r.unit else "",
        ),
        visits=[
            MemberVisitOut(
                id=v.inspection.id, checked_in_at=v.inspection.checked_in_at,
                site_id=v.inspection.site_id, site_name=v.site_name,
                mode=str(v.inspection.mode),
                mode_label=_label(f"inspections.mode.{v.inspection.mode}", loc),
                result=str(v.inspection.result),
                result_label=_label(f"inspections.result.{v.inspection.result}", loc),
                photo_count=v.photo_count,
            )
            for v in r.visits
        ],
        coverage=[CoverageOut(month=str(c[0]), visits=int(str(c[1])), sites=int(str(c[2])),
                              days=int(str(c[3]))) for c in r.coverage],
        cases=[_case_out(c, loc) for c in r.cases],
        scores=[
            GroupScoreOut(
                month=s.month, kind=s.kind, group_id=s.party_id, group_name=s.name,
                score=s.score, consequence=s.consequence,
                consequence_label=_label(f"assessments.consequence.{s.consequence}", loc)
                if s.consequence else "",
            )
            for s in r.scores
        ],
        files=FilesOut(pdf=f"{base}/file.pdf", xlsx=f"{base}/file.xlsx"),
    )  # fmt: skip


@router.get(
    "/archives/sites/{site_id}",
    response_model=SiteArchiveOut,
    summary="A site's archive: visits with photos, cases, grades, alerts, device "
    "offline periods, monthly sensor statistics (scoped like the site)",
)
def site_archive(session: DbSession, principal: CurrentPrincipal, site_id: Id) -> SiteArchiveOut:
    return site_archive_out(archives.site_records(session, principal, site_id), principal)


@router.get(
    "/archives/members/{user_id}",
    response_model=MemberArchiveOut,
    summary="A grid member's archive: visits, coverage, cases, their groups' scores "
    "(L1, the member's district, the member)",
)
def member_archive(
    session: DbSession, principal: CurrentPrincipal, user_id: Id
) -> MemberArchiveOut:
    return member_archive_out(archives.member_records(session, principal, user_id), principal)


@router.get(
    "/archives/{kind}/{item_id}/file.{ext}",
    response_class=Response,
    responses=FILE_RESPONSES,
    summary="An archive's PDF or workbook",
)
def archive_file(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    kind: Literal["sites", "members"],
    item_id: Id,
    ext: Ext,
) -> Response:
    name, content = archives.archive_file(
        session, principal, settings, kind, item_id, ext, base_url=str(request.base_url)
    )
    return file_response(name, ext, content)
