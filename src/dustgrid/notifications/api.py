"""The caller's own inbox under ``/api/v1/notifications`` (nobody reads another's)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends
from pydantic import BaseModel, Field

from dustgrid.bounds import Id
from dustgrid.errors import error_responses
from dustgrid.identity.deps import CurrentPrincipal, DbSession
from dustgrid.models import utcnow
from dustgrid.notifications import service
from dustgrid.pagination import PageParams, page_params
from dustgrid.routing import Router

router = Router(prefix="/api/v1/notifications", tags=["notifications"], responses=error_responses())


class NotificationOut(BaseModel):
    id: int
    kind: str
    title: str = Field(description="in the caller's language")
    body: str
    link: str
    case_id: int | None
    created_at: datetime
    read_at: datetime | None


class NotificationPage(BaseModel):
    items: list[NotificationOut]
    total: int
    unread: int


@router.get("", response_model=NotificationPage, summary="My notifications, newest first")
def inbox(
    session: DbSession,
    principal: CurrentPrincipal,
    paging: Annotated[PageParams, Depends(page_params)],
    unread_only: bool = False,
) -> NotificationPage:
    rows, total = service.inbox(
        session, principal.user_id, unread_only=unread_only, page=paging.page, size=paging.size
    )
    return NotificationPage(
        items=[
            NotificationOut(
                id=r.id,
                kind=r.kind,
                title=service.title_of(r, principal.locale),
                body=r.body,
                link=r.link,
                case_id=r.case_id,
                created_at=r.created_at,
                read_at=r.read_at,
            )
            for r in rows
        ],
        total=total,
        unread=service.unread_count(session, principal.user_id),
    )


@router.get("/unread-count", response_model=dict[str, int], summary="My unread count")
def unread(session: DbSession, principal: CurrentPrincipal) -> dict[str, int]:
    return {"unread": service.unread_count(session, principal.user_id)}


@router.post("/{notification_id}/read", status_code=204, summary="Mark one read")
def read_one(session: DbSession, principal: CurrentPrincipal, notification_id: Id) -> None:
    service.mark_read(session, principal.user_id, notification_id, now=utcnow())


@router.post("/read-all", response_model=dict[str, int], summary="Mark all read")
def read_all(session: DbSession, principal: CurrentPrincipal) -> dict[str, int]:
    return {"marked": service.mark_all_read(session, principal.user_id, now=utcnow())}
