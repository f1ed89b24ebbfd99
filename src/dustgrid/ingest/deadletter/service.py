"""Recording and listing dead letters. Never commits.

What is recorded (docs/telemetry.md, "Dead letters"):

* MQTT: every message that was acknowledged without storing all of it - a bad topic or
  payload, an unknown device, a wrong key, items refused, and a message whose handling
  failed (:data:`FAILED`) or whose storing kept failing (:data:`GAVE_UP`);
* HTTP: each accepted request with refused items (only the refused items are kept).

Payloads are kept as text, cut to ``ingest_dead_letter_max_bytes``, with device API keys
(all but their public prefix) and HJ 212 passwords (``PW=``) masked: the list is for city
admins, not a second copy of the devices' secrets.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dustgrid.devices.keys import PREFIX_CHARS
from dustgrid.errors import Forbidden
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Perm
from dustgrid.ingest.deadletter.models import DeadLetter

CHANNEL_MQTT: Final = "mqtt"
CHANNEL_HTTP: Final = "http"
#: Dead-letter statuses beyond the MQTT handler's outcomes.
ITEMS_REFUSED: Final = "items_refused"  # the message was stored in part
FAILED: Final = "failed"  # handling the message raised (a platform bug the message hit)
GAVE_UP: Final = "gave_up"  # storing failed ``mqtt_max_attempts`` times in a row
MASK: Final = "…"
LIST_LIMIT: Final = 200

_KEY_RE: Final = re.compile(rf"(dgk_[A-Za-z0-9_\-]{{{PREFIX_CHARS - 4}}})[A-Za-z0-9_\-]*")
_PW_RE: Final = re.compile(r"(PW=)[^;&]*")


def redact(text: str) -> str:
    """``text`` with API keys cut to their public prefix and HJ 212 passwords masked."""
    return _PW_RE.sub(r"\1" + MASK, _KEY_RE.sub(r"\1" + MASK, text))


def payload_text(payload: bytes | str, max_bytes: int) -> tuple[str, int]:
    """(redacted text of at most ``max_bytes`` bytes, original size in bytes)."""
    raw = payload.encode("utf-8", "backslashreplace") if isinstance(payload, str) else payload
    text = raw[:max_bytes].decode("utf-8", "backslashreplace")
    return redact(text), len(raw)


def record(
    session: Session,
    *,
    channel: str,
    status: str,
    reason: str,
    payload: bytes | str,
    at: datetime,
    max_bytes: int,
    topic: str = "",
    mn: str | None = None,
    device_id: int | None = None,
    errors: Sequence[Any] = (),
) -> DeadLetter:
    """Add one dead letter (``errors``: pydantic models or dicts with index/code/reason)."""
    text, size = payload_text(payload, max_bytes)
    letter = DeadLetter(
        received_at=at,
        channel=channel,
        topic=topic[:255],
        mn=mn[:64] if mn else None,
        device_id=device_id,
        status=status[:32],
        reason=redact(reason),
        errors=[e if isinstance(e, dict) else e.model_dump() for e in errors],
        payload=text,
        payload_bytes=size,
    )
    session.add(letter)
    session.flush()
    return letter


def _require(principal: Principal) -> None:
    if not principal.can(Perm.ingest_admin):
        raise Forbidden(f"无权执行此操作 / your role may not do this ({Perm.ingest_admin.value})")


def list_dead_letters(
    session: Session,
    principal: Principal,
    *,
    channel: str | None = None,
    status: str | None = None,
    mn: str | None = None,
    limit: int = LIST_LIMIT,
) -> list[DeadLetter]:
    """Newest first; city admins only (payloads of any device, city-wide)."""
    _require(principal)
    stmt = select(DeadLetter).order_by(DeadLetter.received_at.desc(), DeadLetter.id.desc())
    if channel:
        stmt = stmt.where(DeadLetter.channel == channel)
    if status:
        stmt = stmt.where(DeadLetter.status == status)
    if mn:
        stmt = stmt.where(DeadLetter.mn == mn)
    return list(session.scalars(stmt.limit(limit)))


def counts(session: Session, principal: Principal) -> dict[tuple[str, str], int]:
    """How many dead letters per (channel, status)."""
    _require(principal)
    stmt = select(DeadLetter.channel, DeadLetter.status, func.count()).group_by(
        DeadLetter.channel, DeadLetter.status
    )
    return {(c, s): int(n) for c, s, n in session.execute(stmt)}
