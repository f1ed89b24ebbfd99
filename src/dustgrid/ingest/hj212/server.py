"""The HJ 212-2017 TCP listener: many devices at once, one batching writer, durable acks.

Started by ``dustgrid serve`` in the same event loop as the web server (when
``hj212_enabled``), or alone by ``dustgrid hj212 listen``. Port ``hj212_port`` (9212).

What it promises (and the tests check, including by SIGKILL-ing a real process): a 9014
data reply is sent only after the frame's readings are committed (see ``writer.py`` for the
durability settings), so every acknowledged reading is in the database exactly once after
any crash; unacknowledged frames are resent by the device and duplicates are skipped.

Per-connection protocol handling is in ``session.py`` (reply codes are listed there), the
database side in ``writer.py``, gap backfill in ``backfill.py``. Every error is counted in
:attr:`Hj212Server.stats`, logged every ``hj212_stats_every_s`` and at shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections import Counter
from datetime import timedelta
from typing import Final
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from dustgrid.config import Settings
from dustgrid.telemetry.timewindow import time_window_from_settings

from .backfill import BackfillTracker
from .connection import IngestContext
from .devicecache import DeviceDirectory
from .loglimit import LogLimiter
from .recorders import Quarantine, TimeFlags, lookup_executor
from .session import Hj212Session
from .writer import BatchWriter, make_ingest_engine

log = logging.getLogger("dustgrid.hj212")

SHUTDOWN_GRACE_S: Final = 10.0  # sessions get this long to send the replies they owe


class Hj212Server:
    """Owns the listening socket, the sessions, the writer and the shared state."""

    def __init__(self, settings: Settings, *, engine: Engine | None = None) -> None:
        self.settings = settings
        self._own_engine = engine is None
        self.engine = engine if engine is not None else make_ingest_engine(settings)
        self.stats: Counter[str] = Counter()
        self._executor = lookup_executor()
        self.directory = DeviceDirectory(self.engine, self._executor, settings.hj212_device_cache_s)
        tz = ZoneInfo(settings.timezone)
        self.backfill = BackfillTracker(
            after=timedelta(minutes=settings.hj212_backfill_after_minutes),
            max_window=timedelta(hours=settings.hj212_backfill_max_hours),
            timeout=timedelta(seconds=settings.hj212_backfill_timeout_s),
            tz=tz,
        )
        self.writer = BatchWriter(
            self.engine,
            batch_max=settings.hj212_batch_max,
            batch_ms=settings.hj212_batch_ms,
            stats=self.stats,
            tz=tz,
            on_committed=self.directory.note_seen,
            writers=settings.hj212_writers,
            window=time_window_from_settings(
                settings.telemetry_future_tolerance_s, settings.telemetry_max_age_days
            ),
        )
        self.ctx = IngestContext(
            settings=settings,
            tz=tz,
            directory=self.directory,
            writer=self.writer,
            quarantine=Quarantine(
                self.engine, self.writer.executor, settings.hj212_quarantine_every_s
            ),
            backfill=self.backfill,
            stats=self.stats,
            time_flags=TimeFlags(
                self.engine, self.writer.executor, settings.hj212_quarantine_every_s
            ),
            log_limiter=LogLimiter(settings.hj212_log_every_s, self.stats),
        )
        self.sessions: set[Hj212Session] = set()
        self._server: asyncio.Server | None = None
        self._stats_task: asyncio.Task[None] | None = None
        self.port: int | None = None

    async def start(self, host: str | None = None, port: int | None = None) -> int:
        """Start listening (``port=0``: any free port); return the bound port."""
        self.writer.start()
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._new_session,
            host if host is not None else self.settings.hj212_host,
            self.settings.hj212_port if port is None else port,
            reuse_address=True,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        if self.settings.hj212_stats_every_s > 0:
            self._stats_task = asyncio.create_task(self._log_stats_forever())
        log.info(
            "HJ 212 listener on %s:%s (%s)",
            host or self.settings.hj212_host,
            self.port,
            self.engine.dialect.name,
        )
        return self.port

    def _new_session(self) -> Hj212Session:
        """A protocol per accepted connection (it registers itself in ``sessions``)."""
        return Hj212Session(self.ctx, self.sessions)

    async def close(self) -> None:
        """Stop accepting, let sessions send what they owe, flush the writer, release all."""
        if self._server is not None:
            self._server.close()
        for session in list(self.sessions):
            session.stop()
        deadline = asyncio.get_running_loop().time() + SHUTDOWN_GRACE_S
        while self.sessions and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        if self._server is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)
            self._server = None
        await self.writer.close()
        for session in list(self.sessions):  # past the grace period: cut off
            if session.transport is not None:
                session.transport.abort()
        if self._stats_task is not None:
            self._stats_task.cancel()
            self._stats_task = None
        self._executor.shutdown(wait=True)
        self.log_stats()
        if self._own_engine:
            self.engine.dispose()

    def log_stats(self) -> None:
        """One line with every counter (errors included), for operators and log alerts."""
        counters = " ".join(f"{k}={v}" for k, v in sorted(self.stats.items()))
        log.info(
            "hj212 stats: open=%d pending_backfills=%d %s",
            len(self.sessions),
            len(self.backfill.pending()),
            counters,
        )

    async def _log_stats_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.hj212_stats_every_s)
            self.log_stats()

    async def __aenter__(self) -> Hj212Server:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def install_stop_signals(stop: asyncio.Event) -> None:
    """SIGINT/SIGTERM set ``stop`` (so shutdown is graceful: flush, then close)."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


async def run_listener(
    settings: Settings, *, host: str | None = None, port: int | None = None
) -> None:
    """Run only the TCP listener until SIGINT/SIGTERM (``dustgrid hj212 listen``)."""
    stop = asyncio.Event()
    install_stop_signals(stop)
    server = Hj212Server(settings)
    await server.start(host, port)
    try:
        await stop.wait()
    finally:
        await server.close()
