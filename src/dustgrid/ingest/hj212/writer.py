"""The batching writer of the HJ 212 listener: frames in on the event loop, batches committed
on writer threads, replies released after the commit.

The rest of the listener's database side lives next to it: device look-ups
(``devicecache``), the encoding of a frame into rows (``rows``), quarantine rows and time
flags (``recorders``).

Why a batching writer: thousands of devices each send a small frame a minute; one
transaction per frame would spend most of its time in commit (fsync). Every connection's
frames go into one open batch (:meth:`BatchWriter.add_frame`, on the event loop, which also
encodes the frame's readings: binary ``COPY`` rows on PostgreSQL). A batch is handed to a
writer thread once it holds ``hj212_batch_max`` rows or ``hj212_batch_ms`` after its first
frame (while the threads are busy, the next one grows up to ``BACKLOG_BATCH_FACTOR`` times
that), written in one transaction (the event loop never blocks on the database), committed,
and only then marked done - each session sends the 9014s of its frames in that batch after
that, so an acknowledged frame is on disk.

``hj212_writers`` threads (PostgreSQL; SQLite: one) write batches at the same time, each on
its own connection: while one batch commits the next is copied, and the database works on
two cores. Each frame's reply still waits for its own batch, and replies go out in frame
order per connection whichever batch commits first.

Per batch, whatever its size: one ``write_readings`` (binary COPY on PostgreSQL), one
``mark_seen_many`` (devices and metric states, a fixed handful of statements), one commit,
on a connection the writer thread keeps between batches. Per-step times are counted in the
stats (``write_readings_us``, ``write_mark_seen_us``, ``write_commit_us``;
``bench/ingest.py``).

Durability: PostgreSQL commits are durable by default. On SQLite the ingest engine sets
``PRAGMA synchronous=FULL`` (``hj212_sqlite_synchronous``): in WAL mode the commit then
fsyncs the WAL, so an acknowledged reading survives a power loss, not only a process kill
(NORMAL would survive a SIGKILL too, but may lose the last commits on power loss, which
would break the promise a 9014 makes to the device).

A batch that fails is retried frame by frame, so one poisonous frame costs only its own
ack; when the database itself is down every frame fails, nothing is acknowledged and
devices resend later (HJ 212 devices keep unacknowledged data).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, event
from sqlalchemy.orm import Session

from dustgrid.alerts.flagstore import note_repeated_frames
from dustgrid.config import Settings
from dustgrid.db import make_engine
from dustgrid.devices import online as device_online
from dustgrid.telemetry import pgcopy, store
from dustgrid.telemetry.timewindow import (
    DEFAULT_TIME_WINDOW,
    UNREPRESENTABLE,
    ReadingTimeWindow,
    Verdict,
)

from .codec import Frame
from .codes import CN_RTD_DATA
from .devicecache import DeviceInfo
from .rows import Job, encode_job, merge_seen, utc_of

log = logging.getLogger("dustgrid.hj212.writer")

SQLITE_SYNC_MODES: Final = frozenset({"NORMAL", "FULL", "EXTRA"})
#: A batch takes frames already queued up to this many times ``hj212_batch_max`` rows (it
#: waits for more only below ``hj212_batch_max``): under a backlog one bigger transaction
#: beats several (one commit, one device/metric-state update per device), and the frames
#: are waiting anyway.
BACKLOG_BATCH_FACTOR: Final = 5
#: Interpreter switch interval while a writer runs (see ``BatchWriter.start``).
WRITER_SWITCH_INTERVAL_S: Final = 0.0005


def make_ingest_engine(settings: Settings) -> Engine:
    """An engine for the listener; on SQLite with the synchronous mode durable acks need."""
    engine = make_engine(settings.database_url)
    if engine.dialect.name == "sqlite":
        mode = settings.hj212_sqlite_synchronous.upper()
        if mode not in SQLITE_SYNC_MODES:
            raise ValueError(f"hj212_sqlite_synchronous must be one of {sorted(SQLITE_SYNC_MODES)}")

        # Registered after make_engine's own listener, so it runs last and wins.
        @event.listens_for(engine, "connect")
        def _durable(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA synchronous={mode}")
            cur.close()

    return engine


class Batch:
    """Frames committed together. A session queues a frame's 9014 behind ``(batch, index)``
    and registers a callback in ``waiters``; after the commit ``done`` is True, ``failed``
    maps the index of every frame that was NOT stored to its error (None: all stored),
    and every waiter is called (on the event loop)."""

    __slots__ = ("done", "failed", "jobs", "live", "opened", "rows", "waiters")

    def __init__(self) -> None:
        self.jobs: list[Job] = []
        self.live: list[bool] = []  # per job: a real-time upload (2011), not history
        self.rows = 0
        self.opened = 0.0  # loop time of the first frame
        self.waiters: list[Callable[[], None]] = []
        self.done = False
        self.failed: dict[int, BaseException] | None = None

    def ok(self, index: int) -> bool:
        """True when frame ``index`` is committed (only meaningful once ``done``)."""
        return self.failed is None or index not in self.failed


class BatchWriter:
    """Collects the frames of every connection and commits them in batches.

    :meth:`add_frame` (event loop) encodes a frame's readings and appends it to the open
    batch; a background task hands a batch to the writer thread once it holds
    ``batch_max`` rows or ``batch_ms`` after its first frame, and - while the thread is
    busy - lets the next batch grow up to ``BACKLOG_BATCH_FACTOR`` times that.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        batch_max: int,
        batch_ms: int,
        stats: Counter[str],
        tz: ZoneInfo,
        on_committed: Callable[[int, datetime], None] | None = None,
        writers: int = 1,
        window: ReadingTimeWindow = DEFAULT_TIME_WINDOW,
    ) -> None:
        self.engine = engine
        self.window = window
        self.batch_max = max(1, batch_max)
        self.batch_ms = batch_ms
        self.stats = stats
        self.tz = tz
        self.on_committed = on_committed
        self._pg = engine.dialect.name == "postgresql"
        # SQLite takes one writer at a time: one thread, shared with the quarantine.
        self.writers = max(1, writers) if self._pg else 1
        self._backlog_max = self.batch_max * BACKLOG_BATCH_FACTOR
        self._open = Batch()
        self._sealed: collections.deque[Batch] = collections.deque()
        self._wakeup: asyncio.Future[None] | None = None
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._local = threading.local()  # each writer thread's own connection
        self._conns: list[Connection] = []  # all of them, closed by close()
        self._executor = ThreadPoolExecutor(self.writers, thread_name_prefix="hj212-writer")

    @property
    def executor(self) -> ThreadPoolExecutor:
        """The writer's threads (on SQLite a single one: share it for other writes)."""
        return self._executor

    def start(self) -> None:
        # The writer thread blocks on the database a dozen times per batch and must win the
        # interpreter lock back from a busy event loop each time: at Python's default
        # switch interval (5 ms) that wait dominated a batch. Never raised, only lowered.
        sys.setswitchinterval(min(sys.getswitchinterval(), WRITER_SWITCH_INTERVAL_S))
        self._loop = asyncio.get_running_loop()
        self._task = self._loop.create_task(self._run(), name="hj212-writer")

    # -- event loop: frames in -------------------------------------------------------

    def time_verdict(self, frame: Frame, now: datetime) -> Verdict | None:
        """Why a data frame's DataTime is outside the reading time window around ``now``
        (``telemetry.timewindow``), or None when it may be stored (or has none)."""
        local = frame.data_time
        if local is None:
            return None
        try:
            at = utc_of(local, self.tz)  # cached: add_frame takes it from there
        except OverflowError:
            return UNREPRESENTABLE
        window = self.window
        if now - window.max_behind <= at <= now + window.max_ahead:
            return None  # the usual case: no call
        return window.judge(at, now)

    def add_frame(
        self, frame: Frame, device: DeviceInfo, now: datetime
    ) -> tuple[Batch, int, list[str]]:
        """Encode a data frame's readings and queue them; return ``(batch, index,
        problems)``: the frame is stored once ``batch.done and batch.ok(index)``."""
        job, problems = encode_job(frame, device, now, self.tz, self._pg, self.stats)
        stats = self.stats
        count = job[4]
        stats["readings_in"] += count
        batch = self._open
        if batch.rows >= self._backlog_max:  # the thread is behind: this one is full
            self._sealed.append(batch)
            batch = self._open = Batch()
        jobs = batch.jobs
        if not jobs:
            assert self._loop is not None, "BatchWriter.start() first"
            batch.opened = self._loop.time()
            self._wake()
        jobs.append(job)
        batch.live.append(frame.cn == CN_RTD_DATA)
        before = batch.rows
        batch.rows = before + count
        if before < self.batch_max <= batch.rows:
            self._wake()
        return batch, len(jobs) - 1, problems

    def _wake(self) -> None:
        waiter = self._wakeup
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _sleep(self, timeout: float | None) -> None:
        """Until :meth:`_wake` (a first frame, a full batch, close) or ``timeout``."""
        loop = asyncio.get_running_loop()
        waiter = self._wakeup = loop.create_future()
        timer = loop.call_later(timeout, self._wake) if timeout is not None else None
        try:
            await waiter
        finally:
            self._wakeup = None
            if timer is not None:
                timer.cancel()

    async def close(self) -> None:
        """Write what is queued, then stop (every queued frame's batch completes)."""
        self._closing = True
        if self._task is not None:
            self._wake()
            await self._task
            self._task = None
        with contextlib.suppress(Exception):
            await asyncio.get_running_loop().run_in_executor(self._executor, self._close_all)
        self._executor.shutdown(wait=True)

    async def _run(self) -> None:
        """Hand batches to the writer threads, at most ``writers`` at a time."""
        running: set[asyncio.Task[None]] = set()
        try:
            await self._dispatch(running)
        finally:
            if running:
                await asyncio.wait(running)

    async def _dispatch(self, running: set[asyncio.Task[None]]) -> None:
        loop = asyncio.get_running_loop()

        def done(task: asyncio.Task[None]) -> None:
            running.discard(task)
            self._wake()

        while True:
            if len(running) >= self.writers:
                await self._sleep(None)  # until a batch is committed
                continue
            if self._sealed:
                batch = self._sealed.popleft()
            else:
                batch = self._open
                if not batch.jobs:
                    if self._closing:
                        return
                    await self._sleep(None)
                    continue
                if batch.rows < self.batch_max and not self._closing:
                    left = batch.opened + self.batch_ms / 1000 - loop.time()
                    if left > 0:
                        await self._sleep(left)
                        continue
                self._open = Batch()
            task = loop.create_task(self._flush_safely(batch))
            running.add(task)
            task.add_done_callback(done)

    async def _flush_safely(self, batch: Batch) -> None:
        try:
            await self._flush(batch)
        except Exception:  # a bug here must not leave every later frame unanswered
            log.exception("hj212 writer: flush failed")
            if not batch.done:
                error = RuntimeError("writer failure")
                self._finish(batch, dict.fromkeys(range(len(batch.jobs)), error), {})

    async def _flush(self, batch: Batch) -> None:
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        try:
            failed, seen = await loop.run_in_executor(
                self._executor, self._write, batch.jobs, batch.live
            )
        except BaseException as exc:  # the executor itself failed (shutdown, ...)
            failed, seen = dict.fromkeys(range(len(batch.jobs)), exc), {}
        self.stats["write_seconds_ms"] += int((time.perf_counter() - started) * 1000)
        self._finish(batch, failed, seen)

    def _finish(
        self, batch: Batch, failed: dict[int, BaseException] | None, seen: dict[int, datetime]
    ) -> None:
        batch.failed = failed or None
        batch.done = True
        if self.on_committed is not None:
            for device_id, at in seen.items():
                self.on_committed(device_id, at)
        for wake in batch.waiters:
            try:
                wake()
            except Exception:  # one session's bug must not keep the others' replies
                self.stats["internal_errors"] += 1
                log.exception("hj212 writer: reply callback failed")
        batch.waiters.clear()

    # -- in the writer thread ----------------------------------------------------------

    def _write(
        self, jobs: list[Job], live: Sequence[bool] = ()
    ) -> tuple[dict[int, BaseException], dict[int, datetime]]:
        """Commit the whole batch; on failure, each frame alone to isolate the bad one.
        Returns (index -> error of the frames not stored, device -> latest time committed).
        ``live`` marks the real-time uploads (for the replay check)."""
        try:
            return {}, self._commit(jobs, live)
        except Exception as exc:
            self.stats["batch_failures"] += 1
            if len(jobs) == 1:
                log.warning("hj212 write failed: %s", exc)
                self.stats["write_errors"] += 1
                return {0: exc}, {}
            log.warning("hj212 batch of %d frames failed (%s); retrying one by one", len(jobs), exc)
        failed: dict[int, BaseException] = {}
        seen: dict[int, datetime] = {}
        for index, job in enumerate(jobs):
            try:
                one_live = live[index : index + 1]
                for device_id, at in self._commit([job], one_live).items():
                    if device_id not in seen or at > seen[device_id]:
                        seen[device_id] = at
            except Exception as one:
                self.stats["write_errors"] += 1
                log.warning("hj212 write of device %s failed: %s", job[0], one)
                failed[index] = one
        return failed, seen

    def _connection(self) -> Connection:
        """This writer thread's own connection, kept between batches (no pool check-out
        and liveness ping per batch); replaced after any failure."""
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed or conn.invalidated:
            self._disconnect()
            conn = self._local.conn = self.engine.connect()
            self._conns.append(conn)
        return conn

    def _disconnect(self) -> None:
        conn: Connection | None = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            with contextlib.suppress(ValueError):
                self._conns.remove(conn)
            with contextlib.suppress(Exception):
                conn.close()

    def _close_all(self) -> None:
        """At shutdown, every writer thread done: close their connections."""
        conns, self._conns = self._conns, []
        for conn in conns:
            with contextlib.suppress(Exception):
                conn.close()

    def _commit(self, jobs: list[Job], live: Sequence[bool] = ()) -> dict[int, datetime]:
        """One transaction: every row (one ``write_readings``), every device and metric
        state (one ``mark_seen_many``), commit. Per-step times go to ``stats``. Returns
        each device's latest receive time. When some rows were stored already, real-time
        uploads (``live``) whose data came long before are flagged as replayed frames (a
        device's answer to a history request resends stored data by design: not flagged)."""
        clock = time.perf_counter
        t0 = clock()
        rows: Any
        if self._pg:
            rows = pgcopy.CopyRows(
                [job[3] for job in jobs if job[4]],
                sum([job[4] for job in jobs]),
                {(job[0], job[2]) for job in jobs if job[4] and job[2] is not None},
            )
        else:
            rows = [row for job in jobs if job[4] for row in job[3]]
        seen = merge_seen(jobs)
        try:
            with Session(bind=self._connection()) as session:
                t1 = clock()
                new = store.write_readings(session.connection(), rows) if len(rows) else 0
                if new < len(rows) and any(live):
                    repeats = [
                        (job[0], job[2], job[1])
                        for job, is_live in zip(jobs, live, strict=False)
                        if is_live and job[2] is not None and job[4]
                    ]
                    self.stats["frames_replayed"] += note_repeated_frames(session, repeats)
                t2 = clock()
                device_online.mark_seen_many(session, seen)
                t3 = clock()
                session.commit()
        except BaseException:
            self._disconnect()  # whatever went wrong, the next batch starts on a fresh one
            raise
        t4 = clock()
        stats = self.stats
        stats["batches"] += 1
        stats["rows_written"] += new
        stats["rows_duplicate"] += len(rows) - new
        stats["write_prepare_us"] += int((t1 - t0) * 1e6)
        stats["write_readings_us"] += int((t2 - t1) * 1e6)
        stats["write_mark_seen_us"] += int((t3 - t2) * 1e6)
        stats["write_commit_us"] += int((t4 - t3) * 1e6)
        return {device_id: at for device_id, (at, _) in seen.items()}
