"""Per-device API keys for HTTP/MQTT integrators: issued once, stored as a hash.

Why SHA-256 and not argon2 (which the platform uses for passwords): a key is 32 random
bytes (256 bits) from ``secrets``, so a stolen hash cannot be brute-forced whatever the
hash speed - slow hashes exist to protect guessable, human-chosen passwords. The key is
checked on every ingest request, where argon2's deliberate ~50 ms per check would cap a
listener at a few dozen requests per second per core. The first characters (``prefix``,
indexed) find the candidate rows; the hash is compared in constant time.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy.orm import Session

from dustgrid.devices import repository as repo
from dustgrid.devices.models import Device, DeviceApiKey, Lifecycle
from dustgrid.devices.service import record, writable_device
from dustgrid.errors import Conflict, NotFound
from dustgrid.identity.principal import Principal
from dustgrid.models import utcnow

KEY_SCHEME = "dgk_"  # recognisable in logs and secret scanners
PREFIX_CHARS = 12  # "dgk_" + 8 random characters: DeviceApiKey.prefix is String(12)
CLOSED = frozenset({Lifecycle.removed, Lifecycle.rejected})


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> str:
    return KEY_SCHEME + secrets.token_urlsafe(32)


def issue_key(
    session: Session, principal: Principal, device_id: int, *, now: datetime | None = None
) -> tuple[DeviceApiKey, str]:
    """A new key for the device: the row and the plaintext, which is never stored."""
    device = writable_device(session, principal, device_id)
    if device.lifecycle in CLOSED:
        raise Conflict("devices.error.device_removed_or_rejected_2")
    key = new_key()
    row = DeviceApiKey(
        device_id=device.id,
        prefix=key[:PREFIX_CHARS],
        key_hash=hash_key(key),
        created_at=now or utcnow(),
    )
    session.add(row)
    session.flush()
    record(
        session,
        principal,
        device,
        "key_issue",
        {"api_key": [None, row.prefix]},
        f"签发设备 {device.mn} 的接入密钥 {row.prefix}…",
    )
    return row, key


def revoke_key(
    session: Session,
    principal: Principal,
    device_id: int,
    key_id: int,
    *,
    now: datetime | None = None,
) -> DeviceApiKey:
    device = writable_device(session, principal, device_id)
    row = session.get(DeviceApiKey, key_id)
    if row is None or row.device_id != device.id:
        raise NotFound("devices.error.key_not_found", key_id=key_id)
    if row.revoked_at is None:
        row.revoked_at = now or utcnow()
        record(
            session,
            principal,
            device,
            "key_revoke",
            {"api_key": [row.prefix, None]},
            f"吊销设备 {device.mn} 的接入密钥 {row.prefix}…",
        )
    return row


def revoke_all(session: Session, device_id: int, *, at: datetime) -> list[str]:
    """Revoke every live key of a device (on removal); the prefixes revoked."""
    rows = repo.live_keys(session, device_id)
    out = []
    for row in rows:
        row.revoked_at = at
        out.append(row.prefix)
    return out


def list_keys(session: Session, principal: Principal, device_id: int) -> list[DeviceApiKey]:
    device = writable_device(session, principal, device_id)
    return repo.keys(session, device.id)


def verify_api_key(session: Session, key: str) -> Device | None:
    """The device a presented key belongs to, or None (unknown, revoked, or the device is
    removed or rejected). Called by the HTTP/MQTT ingest on every request."""
    if not key.startswith(KEY_SCHEME) or len(key) < PREFIX_CHARS + 16:
        return None
    digest = hash_key(key)
    rows = repo.live_key_hashes(session, key[:PREFIX_CHARS])
    for key_hash, dev_id in rows:
        if secrets.compare_digest(key_hash, digest):
            device = session.get(Device, dev_id)
            if device is None or device.lifecycle in CLOSED:
                return None
            return device
    return None
