"""``POST /api/v1/webhooks/video-ai``: a camera's analyser reports an event.

Authenticated by the camera's own API key (``X-API-Key``, issued in the device registry;
``devices.keys.verify_api_key``), checked before the body is read. The body is JSON with
the snapshot in base64 (``snapshot``, a data URL is accepted too), or multipart with the
same fields and the snapshot as a file part. The body is read with a cap, so an oversized
upload is refused without being held in memory.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from dustgrid.devices.keys import verify_api_key
from dustgrid.devices.models import Device
from dustgrid.errors import Invalid, Unauthenticated, error_responses
from dustgrid.identity.deps import AppSettings, DbSession
from dustgrid.intake.policy import VideoEventKind, intake_policy, snapshot_limit
from dustgrid.intake.schemas import VideoEventIn, VideoEventOut
from dustgrid.intake.video import service as video
from dustgrid.routing import Router

router = Router(prefix="/api/v1/webhooks", tags=["intake"], responses=error_responses())
FIELDS_OVERHEAD = 64 * 1024  # room for the JSON fields around the base64 snapshot


def _too_large(limit: int) -> Invalid:
    return Invalid("intake.error.snapshot_too_large_limit_bytes", limit=limit,
                   details={"field": "snapshot", "limit": limit})  # fmt: skip


def camera_device(session: DbSession, x_api_key: Annotated[str | None, Header()] = None
                  ) -> Device:  # fmt: skip
    device = verify_api_key(session, x_api_key or "") if x_api_key else None
    if device is None:
        raise Unauthenticated("intake.error.unknown_device_or_api_key")
    return device


@dataclass(frozen=True, slots=True)
class VideoPayload:
    event: VideoEventIn
    snapshot: bytes | None


def _validated(fields: dict[str, Any]) -> VideoEventIn:
    try:
        return VideoEventIn.model_validate(fields)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e.get("loc", ()))} for e in exc.errors(include_url=False)]
        ) from exc


def _b64(value: Any) -> bytes | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise Invalid("intake.error.snapshot_must_base64_string",
                      details={"field": "snapshot"})  # fmt: skip
    text = value.split(",", 1)[1] if value.startswith("data:") else value
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Invalid(
            "intake.error.snapshot_not_valid_base64",
            details={"field": "snapshot"},
        ) from exc


async def _read_capped(request: Request, cap: int, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > cap:
        raise _too_large(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def video_payload(request: Request, settings: AppSettings) -> VideoPayload:
    """The event from JSON (base64 snapshot) or multipart (snapshot file part)."""
    limit = snapshot_limit(settings, intake_policy(settings))
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("multipart/form-data"):
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit + FIELDS_OVERHEAD:
            raise _too_large(limit)
        form = await request.form(max_files=1, max_fields=20)
        fields: dict[str, Any] = {k: v for k, v in form.items() if isinstance(v, str)}
        part = form.get("snapshot")
        snapshot = None
        if isinstance(part, UploadFile):
            snapshot = await part.read(limit + 1)
        elif isinstance(part, str):
            snapshot = _b64(part)
        fields.pop("snapshot", None)
        return VideoPayload(_validated(fields), snapshot)
    body = await _read_capped(request, limit * 4 // 3 + 4 + FIELDS_OVERHEAD, limit)
    try:
        data = json.loads(body or b"null")
    except ValueError as exc:
        raise Invalid("intake.error.body_not_valid_json") from exc
    if not isinstance(data, dict):
        raise Invalid("intake.error.body_must_json_object")
    snapshot = _b64(data.pop("snapshot", None))
    return VideoPayload(_validated(data), snapshot)


_PROPS: dict[str, Any] = {
    "event_id": {"type": "string", "description": "vendor's id: a resend is answered once"},
    "kind": {"type": "string", "enum": [k.value for k in VideoEventKind]},
    "device_mn": {"type": "string", "description": "MN of the camera the key belongs to"},
    "time": {"type": "string", "format": "date-time", "description": "local if no zone"},
    "confidence": {"type": "number", "minimum": 0, "maximum": 1},
}
_REQUIRED = ["kind", "device_mn", "time", "confidence"]
_BODY_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"type": "object", "required": _REQUIRED,
                "properties": {**_PROPS, "snapshot": {
                    "type": "string", "description": "JPEG or PNG, base64 (or a data URL)"}}}},
            "multipart/form-data": {"schema": {"type": "object", "required": _REQUIRED,
                "properties": {**_PROPS, "snapshot": {"type": "string", "format": "binary"}}}},
        },
    }
}  # fmt: skip


@router.post(
    "/video-ai",
    response_model=VideoEventOut,
    summary="A video-AI event from a camera (opens or merges a case)",
    responses={201: {"model": VideoEventOut}},
    openapi_extra=_BODY_DOC,
)
def video_ai_webhook(
    session: DbSession,
    settings: AppSettings,
    device: Annotated[Device, Depends(camera_device)],
    payload: Annotated[VideoPayload, Depends(video_payload)],
) -> JSONResponse:
    out = video.record_event(session, device=device, event=payload.event,
                             snapshot=payload.snapshot, settings=settings)  # fmt: skip
    return JSONResponse(out.model_dump(mode="json"), status_code=201 if out.created else 200)
