"""The monthly notice pages (月通报): published notices for the officials, and L1's
preview and publish."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from dustgrid.assessments.months import Month
from dustgrid.auth.deps import AppSettings, CurrentPrincipal, DbSession, check_csrf
from dustgrid.bounds import Id
from dustgrid.errors import Forbidden, Invalid, NotFound
from dustgrid.models import utcnow
from dustgrid.reports import archives
from dustgrid.reports import service as svc
from dustgrid.reports.archive import archive_pdf, archive_xlsx
from dustgrid.reports.notice import KINDS as NOTICE_KINDS
from dustgrid.reports.notice import notice_pdf, notice_xlsx
from dustgrid.web.forms import attempt, flash, pop_flash
from dustgrid.web.history import local_time
from dustgrid.web.templating import render

router = APIRouter(include_in_schema=False)
FLASH_KEY = "notices_flash"
MEDIA = {
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _month(text: str) -> tuple[Month, str]:
    default = Month.of(utcnow().date()).previous
    if not text.strip():
        return default, ""
    try:
        return Month.parse(text), ""
    except Invalid:
        return default, "reports.bad_month"


def _file(name: str, ext: str, content: bytes) -> Response:
    return Response(content, media_type=MEDIA[ext],
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip


@router.get("/notices", response_class=HTMLResponse)
def notices_page(
    request: Request, session: DbSession, principal: CurrentPrincipal, month: str = ""
) -> Response:
    rows = svc.published(session, principal)
    m, _ = _month(month)
    return render(
        request, "reports/list.html", rows=rows, month=str(m), when=local_time,
        can_publish=svc.may_publish(principal), flash=pop_flash(request, key=FLASH_KEY),
    )  # fmt: skip


@router.get("/notices/preview", response_class=HTMLResponse)
def preview_page(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    month: str = "",
) -> Response:
    if not svc.may_publish(principal):
        raise Forbidden("reports.error.l1_only")
    m, error = _month(month)
    notice = svc.monthly_notice(session, m, settings)
    return render(
        request, "reports/preview.html", notice=notice, month=str(m), error=error,
        kinds=NOTICE_KINDS,
    )  # fmt: skip


@router.get("/notices/preview/{month}.{ext}")
def preview_file(
    session: DbSession, principal: CurrentPrincipal, settings: AppSettings, month: str, ext: str
) -> Response:
    if not svc.may_publish(principal):
        raise Forbidden("reports.error.l1_only")
    if ext not in MEDIA:
        raise Invalid("reports.error.not_found")
    notice = svc.monthly_notice(session, Month.parse(month), settings)
    content = notice_pdf(notice) if ext == "pdf" else notice_xlsx(notice)
    return _file(f"monthly-notice-{notice.month}-draft.{ext}", ext, content)


@router.post("/notices/publish")
async def publish_post(
    request: Request, session: DbSession, principal: CurrentPrincipal, settings: AppSettings
) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token") or ""))
    month = str(form.get("month") or "")
    done = attempt(
        request, session,
        lambda: svc.publish(session, principal, Month.parse(month), settings),
        key=FLASH_KEY,
    )  # fmt: skip
    if done is None:
        return RedirectResponse(f"/notices/preview?month={month}", status_code=303)
    flash(request, ok="reports.published_ok", key=FLASH_KEY)
    return RedirectResponse("/notices", status_code=303)


@router.get("/notices/{notice_id}/file.{ext}")
def notice_download(
    session: DbSession, principal: CurrentPrincipal, settings: AppSettings, notice_id: Id, ext: str
) -> Response:
    name, content = svc.notice_file(session, principal, settings, notice_id, ext)
    return _file(name, ext, content)


# ---------------------------------------------------------------------------- archives


@router.get("/archives/sites/{site_id}", response_class=HTMLResponse)
def site_archive_page(
    request: Request, session: DbSession, principal: CurrentPrincipal, site_id: Id
) -> Response:
    archive = archives.site_archive(session, principal, site_id)
    return render(request, "reports/archive.html", archive=archive,
                  base=f"/archives/sites/{site_id}")  # fmt: skip


@router.get("/archives/sites/{site_id}/file.{ext}")
def site_archive_file(
    session: DbSession, principal: CurrentPrincipal, site_id: Id, ext: str
) -> Response:
    if ext not in MEDIA:
        raise NotFound("reports.error.not_found")
    archive = archives.site_archive(session, principal, site_id)
    content = archive_pdf(archive) if ext == "pdf" else archive_xlsx(archive)
    return _file(f"site-archive-{site_id}.{ext}", ext, content)


@router.get("/archives/members/{user_id}", response_class=HTMLResponse)
def member_archive_page(
    request: Request, session: DbSession, principal: CurrentPrincipal, user_id: Id
) -> Response:
    archive = archives.member_archive(session, principal, user_id)
    return render(request, "reports/archive.html", archive=archive,
                  base=f"/archives/members/{user_id}")  # fmt: skip


@router.get("/archives/members/{user_id}/file.{ext}")
def member_archive_file(
    session: DbSession, principal: CurrentPrincipal, user_id: Id, ext: str
) -> Response:
    if ext not in MEDIA:
        raise NotFound("reports.error.not_found")
    archive = archives.member_archive(session, principal, user_id)
    content = archive_pdf(archive) if ext == "pdf" else archive_xlsx(archive)
    return _file(f"member-archive-{user_id}.{ext}", ext, content)
