"""Recording and listing dead letters. Never commits.

What is recorded (docs/telemetry.md, "Dead letters"):

* MQTT: every message that was acknowledged without storing all of it - a bad topic or
  payload, an unknown device, a wrong key, items refused, and a message whose handling
  failed (:data:`FAILED`) or whose storing kept failing (:data:`GAVE_UP`);
* HTTP: each accepted request with refused items (only the refused items are kept).

Repeats of one refusal are counted on one row and old rows deleted
(:class:`~dustgrid.ingest.deadletter.policy.DeadLetterPolicy`), so a device stuck on a broken
payload cannot fill the database. Payloads are kept as text, cut to
``ingest_dead_letter_max_bytes``, with device API keys
(all but their public prefix) and HJ 212 passwords (``PW=``) masked: the list is for city
admins, not a second copy of the devices' secrets.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy.orm import Session

from dustgrid.devices.keys import PREFIX_CHARS
from dustgrid.errors import Forbidden
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Perm
from dustgrid.ingest.deadletter import repository
from dustgrid.ingest.deadletter.models import DeadLetter
from dustgrid.ingest.deadletter.policy import DEFAULT_DEAD_LETTER_POLICY, DeadLetterPolicy

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
    policy: DeadLetterPolicy = DEFAULT_DEAD_LETTER_POLICY,
    topic: str = "",
    mn: str | None = None,
    device_id: int | None = None,
    errors: Sequence[Any] = (),
) -> DeadLetter:
    """Add a dead letter, or count a repeat on the last one of the same refusal.

    ``errors``: pydantic models or dicts with index/code/reason. The same channel, MN (or,
    without one, topic) and status within ``policy.merge_window`` of the last time it was
    seen is a repeat: the row keeps its first payload as the sample and counts the rest.
    """
    _purge_now_and_then(session, at, policy)
    mn = mn[:64] if mn else None
    topic = topic[:255]
    status = status[:32]
    if policy.merge_window > timedelta(0):
        last = repository.last_repeatable(
            session,
            channel=channel,
            status=status,
            mn=mn,
            topic=topic,
            since=at - policy.merge_window,
        )
        if last is not None:
            last.repeats += 1
            last.last_at = max(last.last_at, at)
            session.flush()
            return last
    text, size = payload_text(payload, policy.max_bytes)
    letter = DeadLetter(
        received_at=at,
        last_at=at,
        repeats=1,
        channel=channel,
        topic=topic,
        mn=mn,
        device_id=device_id,
        status=status,
        reason=redact(reason),
        errors=[e if isinstance(e, dict) else e.model_dump() for e in errors],
        payload=text,
        payload_bytes=size,
    )
    session.add(letter)
    session.flush()
    return letter


class _PurgeClock:
    """When this process last deleted old dead letters (every process purges on its own:
    the delete is idempotent, so no shared state is needed)."""

    last: datetime | None = None


def _purge_now_and_then(session: Session, at: datetime, policy: DeadLetterPolicy) -> None:
    if _PurgeClock.last is not None and at - _PurgeClock.last < policy.purge_every:
        return
    _PurgeClock.last = at
    purge(session, at, policy)


def purge(
    session: Session, now: datetime, policy: DeadLetterPolicy = DEFAULT_DEAD_LETTER_POLICY
) -> int:
    """Delete dead letters last seen more than ``policy.retention`` ago; how many went."""
    return repository.delete_seen_before(session, now - policy.retention)


def _require(principal: Principal) -> None:
    if not principal.can(Perm.ingest_admin):
        raise Forbidden(
            "devices.error.role_may_not_do", details={"permission": Perm.ingest_admin.value}
        )


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
    return repository.newest(session, channel=channel, status=status, mn=mn, limit=limit)


def counts(session: Session, principal: Principal) -> dict[tuple[str, str], int]:
    """How many refused messages or requests per (channel, status), repeats included."""
    _require(principal)
    return repository.repeats_by_channel_status(session)
