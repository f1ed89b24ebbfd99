"""The database side of the HJ 212 listener: a batching writer, device look-ups, quarantine.

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
import functools
import logging
import operator
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, event
from sqlalchemy.orm import Session

import dustgrid.model_registry  # noqa: F401 - every table mapped (foreign keys resolve)
from dustgrid.alerts.engine.quality import QualityFlag
from dustgrid.alerts.flags import note_repeated_frames, store_flag
from dustgrid.config import Settings
from dustgrid.db import make_engine
from dustgrid.devices import online as device_online
from dustgrid.devices import service as device_service
from dustgrid.devices.models import CrcVariant, Device, Lifecycle
from dustgrid.telemetry import store
from dustgrid.telemetry.metrics import METRICS, normalize_unit
from dustgrid.telemetry.timewindow import (
    DEFAULT_TIME_WINDOW,
    UNREPRESENTABLE,
    ReadingTimeWindow,
    Verdict,
)
from dustgrid.telemetry.units import PARTICULATES

from .codec import Frame
from .codes import CN_DAY_DATA, CN_HOUR_DATA, CN_RTD_DATA
from .envelope import CRC_MODBUS

log = logging.getLogger("dustgrid.hj212.writer")

SQLITE_SYNC_MODES: Final = frozenset({"NORMAL", "FULL", "EXTRA"})
#: Lifecycles whose data is refused (treated like an unknown MN).
CLOSED_LIFECYCLES: Final = frozenset({Lifecycle.removed, Lifecycle.rejected})
LOOKUP_THREADS: Final = 4
#: A batch takes frames already queued up to this many times ``hj212_batch_max`` rows (it
#: waits for more only below ``hj212_batch_max``): under a backlog one bigger transaction
#: beats several (one commit, one device/metric-state update per device), and the frames
#: are waiting anyway.
BACKLOG_BATCH_FACTOR: Final = 5
#: Interpreter switch interval while a writer runs (see ``BatchWriter.start``).
WRITER_SWITCH_INTERVAL_S: Final = 0.0005

SeenMetrics = dict[str, tuple[datetime, float | None]]
SOURCE_HJ212: Final = "hj212"
SOURCE_HJ212_MODBUS: Final = "hj212mb"  # Reading.source of frames that came with Modbus CRC
#: Reading.kind of an item per data command: hour and day statistics get their own kinds,
#: or a 2061 hour average would collide with (and be dropped as a duplicate of) the 2051
#: minute average stamped with the same DataTime.
KIND_PREFIX: Final = {CN_HOUR_DATA: "h", CN_DAY_DATA: "d"}
#: Kinds whose last valid value goes to the device's metric state.
SEEN_KINDS: Final = frozenset({"rtd", "avg"})


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


_UTC_OF: dict[tuple[datetime, ZoneInfo], datetime] = {}
_UTC_CACHE_MAX: Final = 4096


def _utc(local: datetime, tz: ZoneInfo) -> datetime:
    """Device-local naive time -> aware UTC, cached: devices report at shared instants.
    Raises ``OverflowError`` for a time that has no UTC (year 1 or 9999 at the calendar's
    ends): the listener judges every data time first (:meth:`BatchWriter.time_verdict`)."""
    key = (local, tz)
    found = _UTC_OF.get(key)
    if found is None:
        converted = DEFAULT_TIME_WINDOW.to_utc(local, tz)
        if converted is None:
            raise OverflowError(f"data time {local} has no UTC equivalent")
        if len(_UTC_OF) >= _UTC_CACHE_MAX:
            _UTC_OF.clear()
        found = _UTC_OF[key] = converted
    return found


@functools.lru_cache(maxsize=64)
def _canonical_particulate_unit(unit: str | None) -> bool:
    """True when particulates of a device set to ``unit`` need no conversion (then
    ``to_canonical`` would return them unchanged); False also for a unit it would refuse."""
    if not unit:
        return True
    try:
        return all(normalize_unit(unit) == METRICS[m].unit for m in PARTICULATES)
    except ValueError:
        return False


_METRIC_KIND: Final = operator.itemgetter(1, 2)  # Item -> (metric, kind): a frame's shape
_VALUE: Final = operator.itemgetter(3)
_FLAG: Final = operator.itemgetter(4)
_VALID: Final = operator.itemgetter(5)
_NO_PROBLEMS: Final[list[str]] = []  # shared, never appended to


class RowPlan:
    """What to do with each item of a frame of one shape (a device sends the same items
    every time, so this is worked out once per shape and cached).

    ``steps``: ``(index, metric, kind, convert?, seen?)`` of the items to store - unmapped
    codes and repeated (metric, kind) left out. When the shape is *simple* (every item
    stored, in order, no unit conversion) a frame whose values are all present with flag
    ``N`` - nearly every frame - takes the fast path: its binary COPY rows in one
    ``struct`` call (:class:`~dustgrid.telemetry.store.CopyTemplate`), its metric states
    from ``seen_names`` and ``seen_values(values)``.
    """

    __slots__ = (
        "_heads",
        "_pick",
        "_templates",
        "count",
        "flags_n",
        "seen_names",
        "simple",
        "steps",
        "unmapped",
    )

    def __init__(self, prefix: str, convert_pm: bool, shape: tuple[tuple[str | None, str], ...]):
        steps: list[tuple[int, str, str, bool, bool]] = []
        taken: set[tuple[str, str]] = set()
        unmapped = 0
        for index, (metric, item_kind) in enumerate(shape):
            if metric is None:
                unmapped += 1
                continue
            kind = prefix + item_kind
            if (metric, kind) in taken:  # e.g. LA and Leq both feed "noise"
                continue
            taken.add((metric, kind))
            # particulates follow the device's unit; an unknown metric must raise
            convert = (convert_pm and metric in PARTICULATES) or metric not in METRICS
            steps.append((index, metric, kind, convert, kind in SEEN_KINDS))
        self.steps = tuple(steps)
        self.unmapped = unmapped
        self.count = len(steps)
        self.simple = len(steps) == len(shape) and not any(s[3] for s in steps)
        self.flags_n = [FLAG_N] * len(shape)
        seen = [(s[0], s[1]) for s in steps if s[4]]
        self.seen_names = tuple(metric for _, metric in seen)
        self._pick: Callable[[list[float]], Any] | None = None
        if self.simple and len(seen) != len(shape):
            indexes = [index for index, _ in seen]
            self._pick = (lambda _v: ()) if not indexes else _picker(indexes)
        self._heads = [store.copy_row_head(s[1], s[2], FLAG_N, True) for s in steps]
        self._templates: dict[int, store.CopyTemplate] = {}

    def pack(self, values: list[float], suffix: bytes) -> bytes:
        """Binary COPY rows of a simple-shape frame whose values are all present, flag N."""
        template = self._templates.get(len(suffix))
        if template is None:
            template = self._templates[len(suffix)] = store.CopyTemplate(self._heads, len(suffix))
        return template.pack(values, suffix)

    def seen_values(self, values: list[float]) -> Sequence[float]:
        """The values of ``seen_names`` (fast path: every value valid)."""
        return values if self._pick is None else self._pick(values)


def _picker(indexes: list[int]) -> Callable[[list[float]], Sequence[float]]:
    get = operator.itemgetter(*indexes)
    if len(indexes) == 1:
        return lambda values: (get(values),)
    return get  # type: ignore[no-any-return]


FLAG_N: Final = "N"
_ROW_PLANS: dict[tuple[str, bool, tuple[tuple[str | None, str], ...]], RowPlan] = {}
_ROW_PLANS_MAX: Final = 4096


def row_plan(prefix: str, convert_pm: bool, shape: tuple[tuple[str | None, str], ...]) -> RowPlan:
    """The cached :class:`RowPlan` of a frame shape (``(metric, kind)`` per item)."""
    plan = _ROW_PLANS.get((prefix, convert_pm, shape))
    if plan is None:
        if len(_ROW_PLANS) >= _ROW_PLANS_MAX:
            _ROW_PLANS.clear()
        plan = _ROW_PLANS[(prefix, convert_pm, shape)] = RowPlan(prefix, convert_pm, shape)
    return plan


#: One frame in a batch: (device id, received at, data time (UTC) or None, rows (bytes of
#: binary COPY rows on PostgreSQL, a list of ReadingRow on SQLite), row count, the names
#: and values of the metrics whose latest valid value the device's metric state keeps).
Job = tuple[int, datetime, datetime | None, Any, int, Sequence[str], Sequence[float | None]]
_HEAD_CACHE: dict[tuple[str, str, str, bool], bytes] = {}


def _row_head(metric: str, kind: str, flag: str, valid: bool) -> bytes:
    key = (metric, kind, flag, valid)
    head = _HEAD_CACHE.get(key)
    if head is None:
        if len(_HEAD_CACHE) >= _ROW_PLANS_MAX:
            _HEAD_CACHE.clear()
        head = _HEAD_CACHE[key] = store.copy_row_head(metric, kind, flag, valid)
    return head


def frame_items(
    frame: Frame, device: DeviceInfo, plan: RowPlan, stats: Counter[str]
) -> tuple[
    list[tuple[str, str, float | None, str, bool]], list[str], list[float | None], list[str]
]:
    """The general path, item by item: ``(metric, kind, value, flag, valid)`` per reading
    (canonical units), the seen metrics' names and values, and the problems worth logging
    (a unit error skips only its item)."""
    items = frame.items
    unit = device.particulate_unit
    out: list[tuple[str, str, float | None, str, bool]] = []
    names: list[str] = []
    values: list[float | None] = []
    problems: list[str] = []
    invalid = 0
    for index, metric, kind, convert, seen in plan.steps:
        item = items[index]
        value = item.value
        if convert and value is not None:
            try:
                value = store.to_canonical(value, metric, unit)
            except ValueError as exc:
                stats["unit_errors"] += 1
                problems.append(f"MN {device.mn} {item.code}: {exc}")
                continue
        valid = item.valid and value is not None
        out.append((metric, kind, value, item.flag[:2], valid))
        if not valid:
            invalid += 1
        elif seen:
            names.append(metric)
            values.append(value)
    if invalid:
        stats["readings_invalid"] += invalid
    return out, names, values, problems


def frame_rows(
    frame: Frame, device: DeviceInfo, *, tz: ZoneInfo, now: datetime, stats: Counter[str]
) -> tuple[list[store.ReadingRow], SeenMetrics, list[str]]:
    """A data frame as :class:`ReadingRow` s (canonical units, UTC data time), the device's
    latest valid values, and the problems worth logging (unit errors skip only their item).
    The listener itself encodes frames in :meth:`BatchWriter.add_frame`."""
    if frame.data_time is None or not frame.items:
        return [], {}, []
    data_time = _utc(frame.data_time, tz)
    plan = row_plan(
        KIND_PREFIX.get(frame.cn, ""),
        not _canonical_particulate_unit(device.particulate_unit),
        tuple(map(_METRIC_KIND, frame.items)),
    )
    if plan.unmapped:
        stats["items_unmapped"] += plan.unmapped
    source = SOURCE_HJ212_MODBUS if frame.crc == CRC_MODBUS else SOURCE_HJ212
    out, names, values, problems = frame_items(frame, device, plan, stats)
    rows = [
        store.ReadingRow(device.id, m, k, data_time, v, f, ok, source, now)
        for m, k, v, f, ok in out
    ]
    return rows, {n: (data_time, v) for n, v in zip(names, values, strict=True)}, problems


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
            at = _utc(local, self.tz)  # cached: add_frame takes it from there
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
        items = frame.items
        stats = self.stats
        problems = _NO_PROBLEMS
        if frame.data_time is None or not items:
            job: Job = (device.id, now, None, None, 0, (), ())
        else:
            data_time = _utc(frame.data_time, self.tz)
            plan = row_plan(
                KIND_PREFIX.get(frame.cn, ""),
                not _canonical_particulate_unit(device.particulate_unit),
                tuple(map(_METRIC_KIND, items)),
            )
            if plan.unmapped:
                stats["items_unmapped"] += plan.unmapped
            source = SOURCE_HJ212_MODBUS if frame.crc == CRC_MODBUS else SOURCE_HJ212
            values: list[Any] = list(map(_VALUE, items)) if plan.simple else []
            if (
                self._pg
                and plan.simple
                and None not in values
                and list(map(_FLAG, items)) == plan.flags_n
                and False not in map(_VALID, items)
            ):  # the usual frame: one struct call
                suffix = store.copy_suffix(device.id, data_time, source, now)
                job = (
                    device.id, now, data_time, plan.pack(values, suffix), plan.count,
                    plan.seen_names, plan.seen_values(values),
                )  # fmt: skip
            else:
                out, names, seen_values, problems = frame_items(frame, device, plan, stats)
                if self._pg:
                    suffix = store.copy_suffix(device.id, data_time, source, now)
                    rows: Any = b"".join(
                        [
                            b"%s%s%s" % (_row_head(m, k, f, ok), store.copy_value(v), suffix)
                            for m, k, v, f, ok in out
                        ]
                    )
                else:
                    rows = [
                        store.ReadingRow(device.id, m, k, data_time, v, f, ok, source, now)
                        for m, k, v, f, ok in out
                    ]
                job = (device.id, now, data_time, rows, len(out), names, seen_values)
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
            rows = store.CopyRows(
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


def _data_time_key(job: Job) -> datetime:
    assert job[2] is not None
    return job[2]


def merge_seen(jobs: Sequence[Job]) -> dict[int, tuple[datetime, SeenMetrics]]:
    """Per device: the latest receive time, and per metric the valid value with the latest
    data time (of equal data times, the frame that came last) - what ``mark_seen_many``
    takes. Frames of one shape share their ``names`` tuple: once the newest of them is
    applied, the older ones cannot change anything and are skipped."""
    by_device: dict[int, list[Job]] = {}
    for job in jobs:
        found = by_device.get(job[0])
        if found is None:
            by_device[job[0]] = [job]
        else:
            found.append(job)
    out: dict[int, tuple[datetime, SeenMetrics]] = {}
    for device_id, group in by_device.items():
        at = max([job[1] for job in group])
        with_values = [job for job in group if job[5]]
        metrics: dict[str, tuple[datetime, float | None]] = {}
        if len(with_values) == 1:
            job = with_values[0]
            assert job[2] is not None
            data_time = job[2]
            metrics = {n: (data_time, v) for n, v in zip(job[5], job[6], strict=True)}
        elif with_values:
            applied: list[Sequence[str]] = []
            # newest data time first; of equal ones the later frame first (stable sort)
            for job in sorted(reversed(with_values), key=_data_time_key, reverse=True):
                names = job[5]
                if any(names is done for done in applied):
                    continue
                assert job[2] is not None
                for name, value in zip(names, job[6], strict=True):
                    if name not in metrics:
                        metrics[name] = (job[2], value)
                applied.append(names)
        out[device_id] = (at, metrics)
    return out


class Quarantine:
    """Records rejected MNs for an admin, at most once per MN and reason per interval.

    Runs in the writer's thread: on SQLite a second writing thread would meet "database is
    locked" (its read-then-write transaction cannot wait for the writer's lock).
    """

    def __init__(self, engine: Engine, executor: ThreadPoolExecutor, every_s: float) -> None:
        self._engine = engine
        self._executor = executor
        self._every = every_s
        self._last: dict[tuple[str, str], float] = {}

    async def record(self, *, mn: str, reason: str, peer: str, frame_text: str) -> bool:
        """True when a row was written (False: throttled)."""
        now = time.monotonic()
        key = (mn, reason)
        last = self._last.get(key)
        if last is not None and now - last < self._every:
            return False
        if len(self._last) > 100_000:
            self._last.clear()
        self._last[key] = now
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._write, mn, reason, peer, frame_text)
        return True

    def _write(self, mn: str, reason: str, peer: str, frame_text: str) -> None:
        with Session(self._engine) as session:
            device_service.record_quarantine(
                session, mn=mn, reason=reason, peer=peer, frame_text=frame_text
            )
            session.commit()


class TimeFlags:
    """Flags frames whose DataTime is outside the reading time window: a data-quality flag
    (kind ``time_ahead`` / ``time_behind`` / ``time_invalid``, ``telemetry.timewindow``) on
    the device, extended while it goes on; written at most once per device and kind per
    ``every_s`` (the frames in between are only counted in the ingest statistics)."""

    def __init__(self, engine: Engine, executor: ThreadPoolExecutor, every_s: float) -> None:
        self._engine = engine
        self._executor = executor
        self._every = every_s
        self._last: dict[tuple[int, str], float] = {}

    async def record(self, *, device_id: int, verdict: str, at: datetime, detail: str) -> bool:
        """True when the flag was written (False: throttled)."""
        now = time.monotonic()
        key = (device_id, verdict)
        last = self._last.get(key)
        if last is not None and now - last < self._every:
            return False
        if len(self._last) > 100_000:
            self._last.clear()
        self._last[key] = now
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._write, device_id, verdict, at, detail)
        return True

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
