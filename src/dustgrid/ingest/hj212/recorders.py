"""What the HJ 212 listener records beside readings: quarantined MNs and time flags.

Both are throttled per key and written on an executor thread (never the event loop).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Final

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from dustgrid.alerts.engine.quality import QualityFlag
from dustgrid.alerts.flagstore import store_flag
from dustgrid.devices import service as device_service
from dustgrid.devices.models import Device

LOOKUP_THREADS: Final = 4
THROTTLE_KEYS: Final = 100_000  # keys remembered before starting afresh


class _ThrottledRecorder:
    """Writes a row on the executor at most once per key every ``every_s`` seconds: a device
    repeating the same fault would otherwise cost a transaction per frame."""

    def __init__(self, engine: Engine, executor: ThreadPoolExecutor, every_s: float) -> None:
        self._engine = engine
        self._executor = executor
        self._every = every_s
        self._last: dict[Hashable, float] = {}

    async def _submit(self, key: Hashable, write: Callable[..., None], *args: object) -> bool:
        """True when ``write(*args)`` ran (False: throttled)."""
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self._every:
            return False
        if len(self._last) > THROTTLE_KEYS:
            self._last.clear()
        self._last[key] = now
        await asyncio.get_running_loop().run_in_executor(self._executor, write, *args)
        return True


class Quarantine(_ThrottledRecorder):
    """Records rejected MNs for an admin, at most once per MN and reason per interval.

    Runs in the writer's thread: on SQLite a second writing thread would meet "database is
    locked" (its read-then-write transaction cannot wait for the writer's lock).
    """

    async def record(self, *, mn: str, reason: str, peer: str, frame_text: str) -> bool:
        """True when a row was written (False: throttled)."""
        return await self._submit((mn, reason), self._write, mn, reason, peer, frame_text)

    def _write(self, mn: str, reason: str, peer: str, frame_text: str) -> None:
        with Session(self._engine) as session:
            device_service.record_quarantine(
                session, mn=mn, reason=reason, peer=peer, frame_text=frame_text
            )
            session.commit()


class TimeFlags(_ThrottledRecorder):
    """Flags frames whose DataTime is outside the reading time window: a data-quality flag
    (kind ``time_ahead`` / ``time_behind`` / ``time_invalid``, ``telemetry.timewindow``) on
    the device, extended while it goes on; written at most once per device and kind per
    ``every_s`` (the frames in between are only counted in the ingest statistics)."""

    async def record(self, *, device_id: int, verdict: str, at: datetime, detail: str) -> bool:
        """True when the flag was written (False: throttled)."""
        return await self._submit((device_id, verdict), self._write, device_id, verdict, at, detail)

    def _write(self, device_id: int, verdict: str, at: datetime, detail: str) -> None:
        with Session(self._engine) as session:
            device = session.get(Device, device_id)
            if device is None:
                return
            store_flag(session, device, QualityFlag(kind=verdict, start=at, end=at, detail=detail))
            session.commit()


def lookup_executor() -> ThreadPoolExecutor:
    """Threads for look-ups and quarantine rows (never the writer's thread)."""
    return ThreadPoolExecutor(LOOKUP_THREADS, thread_name_prefix="hj212-db")
