"""The user's inbox page and the unread badge the header loads with HTMX."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from dustgrid.auth.deps import AppSettings, CurrentPrincipal, DbSession, check_csrf
from dustgrid.models import utcnow
from dustgrid.notifications import service
from dustgrid.notifications.models import Notification
from dustgrid.pagination import PageParams, page_params
from dustgrid.routing import Router
from dustgrid.web.case_common import back, show
from dustgrid.web.templating import request_locale

router = Router(include_in_schema=False)


@router.get("/notifications", response_class=HTMLResponse)
def inbox(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    paging: Annotated[PageParams, Depends(page_params)],
    unread: bool = False,
) -> Response:
    rows, total = service.inbox(
        session, principal.user_id, unread_only=unread, page=paging.page, size=paging.size
    )
    return show(
        request,
        settings,
        "notifications/inbox.html",
        items=rows,
        titles={r.id: service.title_of(r, request_locale(request)) for r in rows},
        total=total,
        page=paging.page,
        pages=max(1, -(-total // paging.size)),
        unread=unread,
    )


@router.get("/notifications/badge", response_class=HTMLResponse)
def badge(
    request: Request, session: DbSession, principal: CurrentPrincipal, settings: AppSettings
) -> Response:
    return show(
        request,
        settings,
        "notifications/_badge.html",
        count=service.unread_count(session, principal.user_id),
    )


@router.post("/notifications/read-all")
def read_all(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    service.mark_all_read(session, principal.user_id, now=utcnow())
    return back("/notifications")


@router.post("/notifications/{notification_id}/open")
def open_one(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    notification_id: int,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Mark read and follow the link (only same-site paths)."""
    check_csrf(request, csrf_token)
    service.mark_read(session, principal.user_id, notification_id, now=utcnow())
    row = session.get(Notification, notification_id)
    link = row.link if row and row.link.startswith("/") and not row.link.startswith("//") else ""
    return back(link or "/notifications")
