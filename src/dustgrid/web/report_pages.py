"""The monthly notice pages (月通报): published notices for the officials, and L1's
preview and publish; the electronic archive pages (电子档案) of sites and grid members."""

from __future__ import annotations

from functools import partial
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from dustgrid.assessments.months import Month
from dustgrid.auth.deps import AppSettings, CurrentPrincipal, DbSession, check_csrf
from dustgrid.bounds import Id
from dustgrid.downloads import file_response
from dustgrid.errors import Forbidden, Invalid
from dustgrid.models import utcnow
from dustgrid.reports import archives
from dustgrid.reports import service as svc
from dustgrid.reports.notice import KINDS as NOTICE_KINDS
from dustgrid.routing import Router
from dustgrid.web.forms import attempt, flash, pop_flash
from dustgrid.web.history import local_time
from dustgrid.web.templating import render

router = Router(include_in_schema=False)
FLASH_KEY = "notices_flash"


def _month(text: str) -> tuple[Month, str]:
    default = Month.of(utcnow().date()).previous
    if not text.strip():
        return default, ""
    try:
        return Month.parse(text), ""
    except Invalid:
        return default, "reports.bad_month"


@router.get("/notices", response_class=HTMLResponse)
def notices_page(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    month: str = "",
) -> Response:
    rows = svc.published(session, principal)
    m, _ = _month(month)
    when = partial(local_time, tz=ZoneInfo(settings.timezone))
    return render(
        request, "reports/list.html", rows=rows, month=str(m), when=when,
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
    name, content = svc.draft_file(session, principal, settings, month, ext)
    return file_response(name, ext, content)


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
    return file_response(name, ext, content)


# ---------------------------------------------------------------------------- archives
# One page and one download for both kinds (``archives.KINDS``: sites, members).


@router.get("/archives/{kind}/{item_id}", response_class=HTMLResponse)
def archive_page(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    kind: str,
    item_id: Id,
) -> Response:
    archive = archives.archive_of(session, principal, settings, kind, item_id)
    return render(request, "reports/archive.html", archive=archive,
                  base=f"/archives/{kind}/{item_id}")  # fmt: skip


@router.get("/archives/{kind}/{item_id}/file.{ext}")
def archive_download(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    kind: str,
    item_id: Id,
    ext: str,
) -> Response:
    name, content = archives.archive_file(
        session, principal, settings, kind, item_id, ext, base_url=str(request.base_url)
    )
    return file_response(name, ext, content)
