"""``POST /api/v1/telemetry``: integrators push batches of readings with a device API key.

Authentication: header ``X-API-Key`` carries the key issued for one device (``dgk_…``, see
``dustgrid.devices.keys``). A key writes its own device only: an item naming another MN
is refused on its own (code ``forbidden_device``), the rest of the batch is stored.

Answer (always ``200 OK`` once the key and the body's shape are accepted, whatever the
items' fate - an integrator reads ``errors``, not the status)::

    {"stored": 2, "duplicates": 1, "out_of_window": 0, "flagged": [],
     "errors": [{"index": 3, "code": "unknown_metric", "reason": "未知监测项 pm99", "msg": {…}}]}

``stored`` counts new readings, ``duplicates`` readings already stored (a resent batch
stores nothing twice), ``errors`` the refused items by index (``out_of_window`` counts
those refused for their data time, see ``telemetry.timewindow``), ``flagged`` the items
stored as invalid because their value is implausible (``telemetry.plausibility``). A
request with refused items leaves a dead letter holding those items for city admins
(``ingest.deadletter``). Other answers: ``401``
missing or unknown/revoked key, ``413`` more than ``DUSTGRID_TELEMETRY_HTTP_MAX_ITEMS``
readings, ``422`` a body that is not ``{"readings": [...]}``.
"""

from __future__ import annotations

import json
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Header, Request
from pydantic import BaseModel, Field

from dustgrid.auth.deps import AppSettings, DbSession
from dustgrid.devices.keys import verify_api_key
from dustgrid.errors import DomainError, Unauthenticated, error_responses
from dustgrid.i18n import accepted_locale
from dustgrid.ingest.deadletter import service as dead_letters
from dustgrid.ingest.deadletter.policy import dead_letter_policy_from_settings
from dustgrid.ingest.items import IntakeResult, ReadingItem, store_items
from dustgrid.models import utcnow
from dustgrid.routing import Router
from dustgrid.telemetry.timewindow import time_window_from_settings

router = Router(prefix="/api/v1/telemetry", tags=["telemetry"], responses=error_responses())
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
    request: Request,
    session: DbSession,
    settings: AppSettings,
    body: TelemetryBatch,
    x_api_key: Annotated[str | None, Header(description="The device's API key")] = None,
) -> IntakeResult:
    device = verify_api_key(session, x_api_key or "") if x_api_key else None
    if device is None:
        raise Unauthenticated("ingest.error.missing_unknown_or_revoked_x_api")
    limit = settings.telemetry_http_max_items
    if len(body.readings) > limit:
        raise TooLarge("ingest.error.most_readings_per_request", limit=limit)
    now = utcnow()
    result = store_items(
        session,
        body.readings,
        device=device,
        source=SOURCE_HTTP,
        tz=ZoneInfo(settings.timezone),
        now=now,
        window=time_window_from_settings(
            settings.telemetry_future_tolerance_s, settings.telemetry_max_age_days
        ),
    )
    locale = accepted_locale(request.headers.get("accept-language"))
    if locale is not None:  # the reasons in the caller's language (zh-CN otherwise)
        result.errors = [e.in_language(locale) for e in result.errors]
        result.flagged = [e.in_language(locale) for e in result.flagged]
    if result.errors:
        refused = {str(e.index): body.readings[e.index] for e in result.errors}
        dead_letters.record(
            session,
            channel=dead_letters.CHANNEL_HTTP,
            status=dead_letters.ITEMS_REFUSED,
            reason=f"{len(result.errors)} of {len(body.readings)} item(s) refused",
            payload=json.dumps(refused, ensure_ascii=False, default=str),
            at=now,
            policy=dead_letter_policy_from_settings(settings),
            topic=request.url.path,
            mn=device.mn,
            device_id=device.id,
            errors=result.errors,
        )
    return result
