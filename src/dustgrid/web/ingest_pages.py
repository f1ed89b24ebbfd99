"""The ingest dead-letter page (city admins): what MQTT and HTTP ingest could not store."""

from __future__ import annotations

from functools import partial
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, Response

from dustgrid.auth.deps import AppSettings, CurrentPrincipal, DbSession
from dustgrid.devices.forms import local_time
from dustgrid.ingest.deadletter import service
from dustgrid.routing import Router
from dustgrid.web.templating import render

router = Router(include_in_schema=False)


@router.get("/ingest/dead-letters", response_class=HTMLResponse)
def dead_letters_page(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    channel: Annotated[str | None, Query()] = None,
    mn: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    rows = service.list_dead_letters(session, principal, channel=channel or None, mn=mn or None)
    return render(
        request,
        "ingest/dead_letters.html",
        rows=rows,
        counts=sorted(service.counts(session, principal).items()),
        channel=channel or "",
        mn=mn or "",
        when=partial(local_time, tz=ZoneInfo(settings.timezone)),
    )
