"""``POST /api/v1/telemetry``: integrators push batches of readings with a device API key.

Authentication: header ``X-API-Key`` carries the key issued for one device (``dgk_…``, see
``dustgrid.devices.keys``). A key writes its own device only: an item naming another MN
is refused on its own (code ``forbidden_device``), the rest of the batch is stored.

Answer (always ``200 OK`` once the key and the body's shape are accepted, whatever the
items' fate - an integrator reads ``errors``, not the status)::

    {"stored": 2, "duplicates": 1, "errors": [{"index": 3, "code": "unknown_metric",
                                                "reason": "未知监测项 … / unknown metric …"}]}

``stored`` counts new readings, ``duplicates`` readings already stored (a resent batch
stores nothing twice), ``errors`` the refused items by index. Other answers: ``401``
missing or unknown/revoked key, ``413`` more than ``DUSTGRID_TELEMETRY_HTTP_MAX_ITEMS``
readings, ``422`` a body that is not ``{"readings": [...]}``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Header
from pydantic import BaseModel, Field

from dustgrid.auth.deps import AppSettings, DbSession
from dustgrid.devices.keys import verify_api_key
from dustgrid.errors import DomainError, Unauthenticated, error_responses
from dustgrid.models import utcnow
from dustgrid.telemetry.intake import IntakeResult, ReadingItem, store_items

router = APIRouter(prefix="/api/v1/telemetry", tags=["telemetry"], responses=error_responses())
SOURCE_HTTP = "http"


class TooLarge(DomainError):
    status_code = 413


class TelemetryBatch(BaseModel):
    """Items are checked one by one (a bad one is reported, not fatal), hence ``Any``."""

    readings: list[Any] = Field(
        description="Readings, each shaped like ReadingItem",
        json_schema_extra={"items": ReadingItem.model_json_schema()},
    )


@router.post(
    "",
    response_model=IntakeResult,
    summary="Push readings of one device (X-API-Key); bad items reported by index",
)
def push_readings(
    session: DbSession,
    settings: AppSettings,
    body: TelemetryBatch,
    x_api_key: Annotated[str | None, Header(description="The device's API key")] = None,
) -> IntakeResult:
    device = verify_api_key(session, x_api_key or "") if x_api_key else None
    if device is None:
        raise Unauthenticated("设备密钥无效或缺失 / missing, unknown or revoked X-API-Key")
    limit = settings.telemetry_http_max_items
    if len(body.readings) > limit:
        raise TooLarge(f"一次最多 {limit} 条读数 / at most {limit} readings per request")
    return store_items(
        session,
        body.readings,
        device=device,
        source=SOURCE_HTTP,
        tz=ZoneInfo(settings.timezone),
        now=utcnow(),
        future_tolerance=timedelta(seconds=settings.telemetry_future_tolerance_s),
    )
