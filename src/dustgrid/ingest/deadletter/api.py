"""``GET /api/v1/ingest/dead-letters``: what ingest could not store (city admins)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field

from dustgrid.auth.deps import CurrentPrincipal, DbSession
from dustgrid.errors import API_ERROR_CODES, error_responses
from dustgrid.ingest.deadletter import service
from dustgrid.ingest.items import ItemError
from dustgrid.routing import Router

router = Router(
    prefix="/api/v1/ingest", tags=["ingest"], responses=error_responses(*API_ERROR_CODES)
)


class DeadLetterOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    received_at: datetime
    channel: str
    topic: str
    mn: str | None
    device_id: int | None
    status: str
    reason: str
    errors: list[ItemError]
    payload: str
    payload_bytes: int
    repeats: int = Field(description="how many times this refusal arrived")
    last_at: datetime


@router.get(
    "/dead-letters",
    response_model=list[DeadLetterOut],
    summary="Messages and items ingest could not store, newest first (city admins)",
)
def list_dead_letters(
    session: DbSession,
    principal: CurrentPrincipal,
    channel: Annotated[str | None, Query(description="mqtt or http")] = None,
    status: Annotated[str | None, Query(description="bad_payload, items_refused, …")] = None,
    mn: Annotated[str | None, Query(description="Device MN")] = None,
    limit: Annotated[int, Query(ge=1, le=service.LIST_LIMIT)] = service.LIST_LIMIT,
) -> Any:
    return service.list_dead_letters(
        session, principal, channel=channel, status=status, mn=mn, limit=limit
    )
