"""Device look-ups of the HJ 212 listener: what a session needs of a device, cached by MN."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from dustgrid.devices import service as device_service
from dustgrid.devices.models import CrcVariant, Lifecycle

#: Lifecycles whose data is refused (treated like an unknown MN).
CLOSED_LIFECYCLES: Final = frozenset({Lifecycle.removed, Lifecycle.rejected})


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """What a session needs of a device, copied out of the ORM object (thread-safe)."""

    id: int
    mn: str
    password: str
    particulate_unit: str
    modbus_crc: bool
    last_seen_at: datetime | None
    closed: bool


class DeviceDirectory:
    """Device look-ups by MN with a small TTL cache (unknown MNs are cached too).

    The cache is short (``hj212_device_cache_s``) so a password change or an admin turning a
    quarantined MN into a device takes effect within seconds. ``last_seen`` also remembers
    what this process stored, so the silence check never uses a stale cached time.
    """

    def __init__(self, engine: Engine, executor: ThreadPoolExecutor, ttl_s: float) -> None:
        self._engine = engine
        self._executor = executor
        self._ttl = ttl_s
        self._cache: dict[str, tuple[float, DeviceInfo | None]] = {}
        self._inflight: dict[str, asyncio.Future[DeviceInfo | None]] = {}
        self._seen: dict[int, datetime] = {}

    async def lookup(self, mn: str) -> DeviceInfo | None:
        now = time.monotonic()
        hit = self._cache.get(mn)
        if hit is not None and hit[0] > now:
            return hit[1]
        pending = self._inflight.get(mn)
        if pending is not None:  # one query per MN however many frames wait for it
            return await asyncio.shield(pending)
        loop = asyncio.get_running_loop()
        fut = loop.run_in_executor(self._executor, self._load, mn)
        self._inflight[mn] = fut
        try:
            info = await fut
        finally:
            self._inflight.pop(mn, None)
        if len(self._cache) > 100_000:
            self._cache.clear()
        self._cache[mn] = (time.monotonic() + self._ttl, info)
        return info

    def cached(self, mn: str) -> tuple[float, DeviceInfo | None] | None:
        """The cache entry ``(expiry, info)`` of ``mn`` while it is fresh, else None (then
        :meth:`lookup`); ``info`` None is a cached unknown MN. No await: the per-frame path."""
        hit = self._cache.get(mn)
        if hit is not None and hit[0] > time.monotonic():
            return hit
        return None

    def forget(self, mn: str) -> None:
        self._cache.pop(mn, None)

    def _load(self, mn: str) -> DeviceInfo | None:
        with Session(self._engine) as session:
            dev = device_service.resolve_device(session, mn)
            if dev is None:
                return None
            return DeviceInfo(
                id=dev.id,
                mn=dev.mn,
                password=dev.password or "",
                particulate_unit=dev.particulate_unit or "ug/m3",
                modbus_crc=dev.crc_variant == CrcVariant.modbus,
                last_seen_at=dev.last_seen_at,
                closed=dev.lifecycle in CLOSED_LIFECYCLES,
            )

    def last_seen(self, info: DeviceInfo) -> datetime | None:
        mine = self._seen.get(info.id)
        if mine is None or (info.last_seen_at is not None and info.last_seen_at > mine):
            return info.last_seen_at
        return mine

    def note_seen(self, device_id: int, at: datetime) -> None:
        old = self._seen.get(device_id)
        if old is None or at > old:
            self._seen[device_id] = at
