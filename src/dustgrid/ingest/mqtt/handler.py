"""What one MQTT message means: resolve and authenticate the device, store its readings.

Kept apart from the paho client so it can be tested without a broker. :func:`handle`
never raises for anything a publisher got wrong (it returns an :class:`Outcome` saying
what); it raises only when the database fails, and then the message must not be
acknowledged. It never commits: the subscriber commits, then acknowledges.

Every message that is acknowledged without being stored whole (bad topic or payload,
unknown device, wrong key, refused items) leaves a dead letter (``ingest.deadletter``) in
the same transaction, so an admin sees what arrived and why it was refused. Data times
go through the reading time window every channel shares (``telemetry.timewindow``);
values through the plausible ranges (``telemetry.plausibility``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from math import isfinite
from typing import Any, Final

from sqlalchemy.orm import Session

from dustgrid.devices import service as device_service
from dustgrid.devices.keys import verify_api_key
from dustgrid.devices.models import CrcVariant, Device, Lifecycle
from dustgrid.devices.online import mark_seen
from dustgrid.ingest.deadletter import service as dead_letters
from dustgrid.ingest.deadletter.policy import DEFAULT_DEAD_LETTER_POLICY, DeadLetterPolicy
from dustgrid.ingest.hj212 import HJ212Error, decode
from dustgrid.ingest.hj212.codec import Frame
from dustgrid.ingest.hj212.codes import DATA_CNS
from dustgrid.ingest.hj212.envelope import CRC_MODBUS
from dustgrid.ingest.hj212.rows import KIND_PREFIX
from dustgrid.ingest.items import SEEN_KINDS, WINDOW_CODES, ItemError, store_items
from dustgrid.telemetry.plausibility import (
    DEFAULT_PLAUSIBLE_RANGES,
    IMPLAUSIBLE,
    IMPLAUSIBLE_FLAG,
    PlausibleRanges,
)
from dustgrid.telemetry.store import ReadingRow, to_canonical, write_readings
from dustgrid.telemetry.timewindow import UNREPRESENTABLE, ReadingTimeWindow

from .topics import CHANNEL_HJ212, parse_topic

SOURCE_JSON: Final = "mqtt"
SOURCE_HJ212: Final = "mqtt212"
CLOSED: Final = frozenset({Lifecycle.removed, Lifecycle.rejected})
QUARANTINE_PEER: Final = "mqtt"

# Outcome.status values (also the subscriber's counters).
OK: Final = "stored"
BAD_TOPIC: Final = "bad_topic"
BAD_PAYLOAD: Final = "bad_payload"
UNKNOWN_DEVICE: Final = "unknown_device"
UNAUTHORIZED: Final = "unauthorized"
NOT_DATA: Final = "not_data"
#: Outcomes that are normal traffic, not a dead letter.
NOT_DEAD: Final = frozenset({OK, NOT_DATA})


@dataclass(frozen=True, slots=True)
class Config:
    prefix: str
    tz: tzinfo
    trust_broker_acl: bool
    max_items: int
    window: ReadingTimeWindow
    ranges: PlausibleRanges = DEFAULT_PLAUSIBLE_RANGES
    dead_letters: DeadLetterPolicy = DEFAULT_DEAD_LETTER_POLICY


@dataclass(slots=True)
class Outcome:
    status: str
    reason: str = ""
    stored: int = 0
    duplicates: int = 0
    errors: list[ItemError] = field(default_factory=list)
    flagged: list[ItemError] = field(default_factory=list)  # stored as invalid (flag X)
    device_id: int | None = None

    @property
    def out_of_window(self) -> int:
        return sum(1 for e in self.errors if e.code in WINDOW_CODES)


def handle(session: Session, topic: str, payload: bytes, *, cfg: Config, now: datetime) -> Outcome:
    """What ``payload`` on ``topic`` means; stored rows and dead letter are flushed, not
    committed."""
    parsed = parse_topic(cfg.prefix, topic)
    if parsed is None:
        outcome = Outcome(BAD_TOPIC, f"topic {topic!r} is not {cfg.prefix}/devices/<MN>/<channel>")
    elif parsed.channel == CHANNEL_HJ212:
        outcome = _hj212(session, parsed.mn, payload, cfg=cfg, now=now)
    else:
        outcome = _json(session, parsed.mn, payload, cfg=cfg, now=now)
    if outcome.status not in NOT_DEAD or outcome.errors:
        record_dead_letter(
            session, topic, payload, outcome, cfg=cfg, now=now, mn=parsed.mn if parsed else None
        )
    return outcome


def record_dead_letter(
    session: Session,
    topic: str,
    payload: bytes,
    outcome: Outcome,
    *,
    cfg: Config,
    now: datetime,
    mn: str | None = None,
) -> None:
    """Keep what ``outcome`` refused for an admin (the whole payload, secrets masked)."""
    if mn is None:
        parsed = parse_topic(cfg.prefix, topic)
        mn = parsed.mn if parsed else None
    status = outcome.status if outcome.status not in NOT_DEAD else dead_letters.ITEMS_REFUSED
    dead_letters.record(
        session,
        channel=dead_letters.CHANNEL_MQTT,
        status=status,
        reason=outcome.reason or f"{len(outcome.errors)} item(s) refused",
        payload=payload,
        at=now,
        policy=cfg.dead_letters,
        topic=topic,
        mn=mn,
        device_id=outcome.device_id,
        errors=outcome.errors,
    )


def _open_device(session: Session, mn: str) -> Device | None:
    device = device_service.resolve_device(session, mn)
    return None if device is None or device.lifecycle in CLOSED else device


def _json_body(payload: bytes, cfg: Config) -> tuple[Any, list[Any]] | Outcome:
    """The ``(key, readings)`` of a JSON message, or the outcome refusing its shape: an object
    with a key, or (only when the broker authenticates) a bare list of readings."""
    try:
        body: Any = json.loads(payload)
    except (UnicodeDecodeError, ValueError) as exc:
        return Outcome(BAD_PAYLOAD, f"not JSON: {exc}")
    key: Any = None
    if isinstance(body, dict):
        key, items = body.get("key"), body.get("readings")
    elif isinstance(body, list) and cfg.trust_broker_acl:
        items = body  # a bare list: only when the broker authenticates (see subscriber doc)
    elif isinstance(body, list):
        return Outcome(
            BAD_PAYLOAD,
            "a JSON array is accepted only with DUSTGRID_MQTT_TRUST_BROKER_ACL; "
            'want {"key": "…", "readings": [...]}',
        )
    else:
        kind = type(body).__name__
        return Outcome(BAD_PAYLOAD, f'JSON {kind}; want {{"key": "…", "readings": [...]}}')
    if not isinstance(items, list):
        return Outcome(BAD_PAYLOAD, 'want {"key": "…", "readings": [...]}')
    if len(items) > cfg.max_items:
        return Outcome(BAD_PAYLOAD, f"{len(items)} readings; at most {cfg.max_items} a message")
    return key, items


def _json_device(session: Session, mn: str, key: Any, *, cfg: Config) -> Device | Outcome:
    """The device a JSON message is for: the one its API key belongs to (which must be the
    topic's MN), else, when the broker authenticates, the active device of the topic's MN."""
    if isinstance(key, str) and key:
        device = verify_api_key(session, key)
        if device is None or device.mn != mn:
            return Outcome(UNAUTHORIZED, f"the key is not a live key of device {mn}")
        return device
    if cfg.trust_broker_acl:
        device = _open_device(session, mn)
        if device is None:
            return Outcome(UNKNOWN_DEVICE, f"no active device {mn}")
        return device
    return Outcome(UNAUTHORIZED, 'missing "key" (the device API key)')


def _json(session: Session, mn: str, payload: bytes, *, cfg: Config, now: datetime) -> Outcome:
    parsed = _json_body(payload, cfg)
    if isinstance(parsed, Outcome):
        return parsed
    key, items = parsed
    device = _json_device(session, mn, key, cfg=cfg)
    if isinstance(device, Outcome):
        return device
    result = store_items(
        session,
        items,
        device=device,
        source=SOURCE_JSON,
        tz=cfg.tz,
        now=now,
        window=cfg.window,
        ranges=cfg.ranges,
    )
    return Outcome(
        OK, "", result.stored, result.duplicates, result.errors, result.flagged, device.id
    )


def _hj212(session: Session, mn: str, payload: bytes, *, cfg: Config, now: datetime) -> Outcome:
    device = device_service.resolve_device(session, mn)
    text = payload.decode("ascii", "backslashreplace")
    if device is None:  # kept for an admin to adopt, like the TCP server does
        device_service.record_quarantine(
            session, mn=mn, reason="unknown_mn", peer=QUARANTINE_PEER, frame_text=text, at=now
        )
        return Outcome(UNKNOWN_DEVICE, f"unknown MN {mn} (quarantined)")
    if device.lifecycle in CLOSED:
        return Outcome(UNKNOWN_DEVICE, f"device {mn} is removed or rejected")
    try:
        frame = decode(payload, allow_modbus=device.crc_variant == CrcVariant.modbus)
    except HJ212Error as exc:
        return Outcome(BAD_PAYLOAD, f"HJ 212: {exc.message}")
    if frame.mn != mn:
        return Outcome(UNAUTHORIZED, f"frame MN {frame.mn} published on the topic of {mn}")
    if frame.pw != device.password:
        device_service.record_quarantine(
            session, mn=mn, reason="bad_password", peer=QUARANTINE_PEER, frame_text=text, at=now
        )
        return Outcome(UNAUTHORIZED, f"wrong HJ 212 password for {mn}")
    if frame.cn not in DATA_CNS:
        return Outcome(NOT_DATA, f"CN {frame.cn} carries no readings")
    rows, seen, errors, flagged = frame_rows(frame, device, cfg=cfg, now=now)
    stored = write_readings(session.connection(), rows) if rows else 0
    if rows:  # a frame outside the time window does not move last-seen
        mark_seen(session, device_id=device.id, at=now, metrics=seen)
    return Outcome(OK, "", stored, len(rows) - stored, errors, flagged, device.id)


def frame_rows(
    frame: Frame, device: Device, *, cfg: Config, now: datetime
) -> tuple[
    list[ReadingRow], dict[str, tuple[datetime, float | None]], list[ItemError], list[ItemError]
]:
    """Rows of a data frame, as the HJ 212 TCP server stores them (same kinds, units);
    then the latest valid values, the refused items and the items stored as implausible."""
    rows: list[ReadingRow] = []
    seen: dict[str, tuple[datetime, float | None]] = {}
    errors: list[ItemError] = []
    flagged: list[ItemError] = []
    if frame.data_time is None:
        return rows, seen, errors, flagged
    data_time = cfg.window.to_utc(frame.data_time, cfg.tz)
    verdict = UNREPRESENTABLE if data_time is None else cfg.window.judge(data_time, now)
    if data_time is None or verdict is not None:
        when = frame.data_time.strftime("%Y%m%d%H%M%S")
        reason = f"DataTime {when} is outside the reading time window ({verdict})"
        errors.append(ItemError(index=0, code=verdict or UNREPRESENTABLE, reason=reason))
        return rows, seen, errors, flagged
    prefix = KIND_PREFIX.get(frame.cn, "")
    source = SOURCE_HJ212 + ("m" if frame.crc == CRC_MODBUS else "")  # ≤ 8 characters
    taken: set[tuple[str, str]] = set()
    for index, item in enumerate(frame.items):
        if item.metric is None:
            continue  # a code the platform does not map
        kind = prefix + item.kind
        if (item.metric, kind) in taken:  # LA and Leq both feed "noise": the first wins
            continue
        taken.add((item.metric, kind))
        value = item.value
        if value is not None:
            try:
                value = to_canonical(value, item.metric, device.particulate_unit)
            except ValueError as exc:
                errors.append(ItemError(index=index, code="unit", reason=str(exc)))
                continue
        flag = item.flag[:2]
        valid = item.valid and value is not None
        why = None if value is None else cfg.ranges.check(item.metric, kind, value)
        if why is not None:
            flag, valid = IMPLAUSIBLE_FLAG, False
            value = value if isfinite(value) else None  # type: ignore[arg-type]
            flagged.append(ItemError(index=index, code=IMPLAUSIBLE, reason=why))
        rows.append(
            ReadingRow(
                device_id=device.id,
                metric=item.metric,
                kind=kind,
                data_time=data_time,
                value=value,
                flag=flag,
                valid=valid,
                source=source,
                received_at=now,
            )
        )
        if valid and kind in SEEN_KINDS:
            seen[item.metric] = (data_time, value)
    return rows, seen, errors, flagged
