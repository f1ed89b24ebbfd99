"""The database side of the HJ 212 listener: one batching writer, device look-ups, quarantine.

Why a batching writer: thousands of devices each send a small frame a minute; one
transaction per frame would spend most of its time in commit (fsync). Frames from all
connections are queued; the writer takes up to ``hj212_batch_max`` rows or whatever arrived
within ``hj212_batch_ms`` of the first one (under a backlog, what is already queued up to
``BACKLOG_BATCH_FACTOR`` times that), writes them in one transaction in a dedicated thread
(the event loop never blocks on the database), commits, and only then resolves each
frame's future - the session sends 9014 after that, so an acknowledged frame is on disk.

Per batch, whatever its size: one ``write_readings`` (binary COPY on PostgreSQL), one
``mark_seen_many`` (devices and metric states, a fixed handful of statements), one commit,
on a connection the writer keeps between batches. Per-step times are counted in the stats
(``write_readings_us``, ``write_mark_seen_us``, ``write_commit_us``; ``bench/ingest.py``).

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
import contextlib
import functools
import logging
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, event
from sqlalchemy.orm import Session

import dustgrid.model_registry  # noqa: F401 - every table mapped (foreign keys resolve)
from dustgrid.config import Settings
from dustgrid.db import make_engine
from dustgrid.devices import online as device_online
from dustgrid.devices import service as device_service
from dustgrid.devices.models import CrcVariant, Lifecycle
from dustgrid.telemetry import store as telemetry_store
from dustgrid.telemetry.metrics import METRICS, normalize_unit
from dustgrid.telemetry.units import PARTICULATES

from .codec import Frame
from .codes import CN_DAY_DATA, CN_HOUR_DATA
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
    """Device-local naive time -> aware UTC, cached: devices report at shared instants."""
    key = (local, tz)
    found = _UTC_OF.get(key)
    if found is None:
        if len(_UTC_OF) >= _UTC_CACHE_MAX:
            _UTC_OF.clear()
        found = _UTC_OF[key] = local.replace(tzinfo=tz).astimezone(UTC)
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


#: (kind prefix, convert particulates?, (metric, kind) of each item) -> (steps, unmapped)
RowPlan = tuple[tuple[tuple[int, str, str, bool, bool], ...], int]
_ROW_PLANS: dict[tuple[str, bool, tuple[tuple[str | None, str], ...]], RowPlan] = {}
_ROW_PLANS_MAX: Final = 4096


def _row_plan(prefix: str, convert_pm: bool, shape: tuple[tuple[str | None, str], ...]) -> RowPlan:
    """What to do with each item of a frame of this shape (a device sends the same items
    every time, so this is worked out once): ``(index, metric, kind, convert?, seen?)`` for
    the items to store - unmapped codes and repeated (metric, kind) left out."""
    plan = _ROW_PLANS.get((prefix, convert_pm, shape))
    if plan is None:
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
        if len(_ROW_PLANS) >= _ROW_PLANS_MAX:
            _ROW_PLANS.clear()
        plan = _ROW_PLANS[(prefix, convert_pm, shape)] = (tuple(steps), unmapped)
    return plan


def frame_rows(
    frame: Frame, device: DeviceInfo, *, tz: ZoneInfo, now: datetime, stats: Counter[str]
) -> tuple[list[telemetry_store.ReadingRow], SeenMetrics, list[str]]:
    """A data frame as rows (canonical units, UTC data time), the device's latest valid
    values, and the problems worth logging (unit errors skip only their item).

    Runs on the event loop for every data frame (~10 items), so it is kept lean: the
    per-item decisions come from a plan cached per frame shape (:func:`_row_plan`).
    """
    items = frame.items
    if frame.data_time is None or not items:
        return [], {}, []
    data_time = _utc(frame.data_time, tz)
    device_id, unit = device.id, device.particulate_unit
    source = SOURCE_HJ212_MODBUS if frame.crc == CRC_MODBUS else SOURCE_HJ212
    steps, unmapped = _row_plan(
        KIND_PREFIX.get(frame.cn, ""),
        not _canonical_particulate_unit(unit),
        tuple([(item.metric, item.kind) for item in items]),
    )
    if unmapped:
        stats["items_unmapped"] += unmapped
    make_row = telemetry_store.ReadingRow
    rows: list[telemetry_store.ReadingRow] = []
    metrics: SeenMetrics = {}
    problems: list[str] = []
    invalid = 0
    for index, metric, kind, convert, seen in steps:
        item = items[index]
        value = item.value
        if convert and value is not None:
            try:
                value = telemetry_store.to_canonical(value, metric, unit)
            except ValueError as exc:
                stats["unit_errors"] += 1
                problems.append(f"MN {device.mn} {item.code}: {exc}")
                continue
        valid = item.valid and value is not None
        rows.append(
            make_row(device_id, metric, kind, data_time, value, item.flag[:2], valid, source, now)
        )
        if not valid:
            invalid += 1
        elif seen:
            metrics[metric] = (data_time, value)
    if invalid:
        stats["readings_invalid"] += invalid
    return rows, metrics, problems


@dataclass(slots=True)
class WriteJob:
    """The rows of one frame, the device it came from, and the future its ack waits on."""

    rows: Sequence[telemetry_store.ReadingRow]
    device_id: int
    at: datetime
    metrics: SeenMetrics
    future: asyncio.Future[int]


@dataclass
class BatchWriter:
    """Collects :class:`WriteJob` s from every connection and commits them in batches."""

    engine: Engine
    batch_max: int
    batch_ms: int
    stats: Counter[str]
    on_committed: Callable[[int, datetime], None] | None = None
    _queue: asyncio.Queue[WriteJob | None] = field(default_factory=asyncio.Queue)
    _task: asyncio.Task[None] | None = None
    _conn: Connection | None = None  # used in the writer thread only
    _executor: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="hj212-writer")
    )

    @property
    def executor(self) -> ThreadPoolExecutor:
        """The writer's single thread (SQLite takes one writer at a time: share it)."""
        return self._executor

    def start(self) -> None:
        # The writer thread blocks on the database a dozen times per batch and must win the
        # interpreter lock back from a busy event loop each time: at Python's default
        # switch interval (5 ms) that wait dominated a batch. Never raised, only lowered.
        sys.setswitchinterval(min(sys.getswitchinterval(), WRITER_SWITCH_INTERVAL_S))
        self._task = asyncio.get_running_loop().create_task(self._run(), name="hj212-writer")

    def submit(
        self,
        rows: Sequence[telemetry_store.ReadingRow],
        *,
        device_id: int,
        at: datetime,
        metrics: SeenMetrics,
    ) -> asyncio.Future[int]:
        """Queue one frame's rows; the future resolves after the commit that holds them."""
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(WriteJob(rows, device_id, at, metrics, fut))
        return fut

    async def close(self) -> None:
        """Write what is queued, then stop (the futures of queued frames all resolve)."""
        if self._task is not None:
            self._queue.put_nowait(None)
            await self._task
            self._task = None
        with contextlib.suppress(Exception):
            await asyncio.get_running_loop().run_in_executor(self._executor, self._disconnect)
        self._executor.shutdown(wait=True)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is None:
                break
            batch = [first]
            rows = len(first.rows)
            deadline = loop.time() + self.batch_ms / 1000
            backlog_max = self.batch_max * BACKLOG_BATCH_FACTOR
            while rows < backlog_max:
                try:
                    job = self._queue.get_nowait()
                except asyncio.QueueEmpty:
                    if rows >= self.batch_max:  # full: no waiting for more
                        break
                    timeout = deadline - loop.time()
                    if timeout <= 0:
                        break
                    try:
                        job = await asyncio.wait_for(self._queue.get(), timeout)
                    except TimeoutError:
                        break
                if job is None:
                    stopping = True
                    break
                batch.append(job)
                rows += len(job.rows)
            try:
                await self._flush(batch)
            except Exception:  # a bug here must not leave every later frame unanswered
                log.exception("hj212 writer: flush failed")
                for job in batch:
                    if not job.future.done():
                        job.future.set_exception(RuntimeError("writer failure"))
                        job.future.exception()

    async def _flush(self, batch: list[WriteJob]) -> None:
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        try:
            results = await loop.run_in_executor(self._executor, self._write, batch)
        except BaseException as exc:  # the executor itself failed (shutdown, ...)
            results = [exc] * len(batch)
        self.stats["write_seconds_ms"] += int((time.perf_counter() - started) * 1000)
        for job, result in zip(batch, results, strict=True):
            if job.future.done():
                continue
            if isinstance(result, BaseException):
                job.future.set_exception(result)
                job.future.exception()  # mark retrieved: the session may be gone
            else:
                job.future.set_result(result)
                if self.on_committed is not None:
                    self.on_committed(job.device_id, job.at)

    # -- in the writer thread ----------------------------------------------------------

    def _write(self, batch: list[WriteJob]) -> list[int | BaseException]:
        """Commit the whole batch; on failure, each job alone to isolate the bad one."""
        try:
            new = self._commit(batch)
        except Exception as exc:
            self.stats["batch_failures"] += 1
            if len(batch) == 1:
                log.warning("hj212 write failed: %s", exc)
                self.stats["write_errors"] += 1
                return [exc]
            log.warning(
                "hj212 batch of %d frames failed (%s); retrying one by one", len(batch), exc
            )
            out: list[int | BaseException] = []
            for job in batch:
                try:
                    out.append(self._commit([job]))
                except Exception as one:
                    self.stats["write_errors"] += 1
                    log.warning("hj212 write of device %s failed: %s", job.device_id, one)
                    out.append(one)
            return out
        return [new] * len(batch)

    def _connection(self) -> Connection:
        """The writer's own connection, kept between batches (no pool check-out and
        liveness ping per batch); replaced after any failure."""
        if self._conn is None or self._conn.closed or self._conn.invalidated:
            self._disconnect()
            self._conn = self.engine.connect()
        return self._conn

    def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def _commit(self, batch: list[WriteJob]) -> int:
        """One transaction: every row (one ``write_readings``), every device and metric
        state (one ``mark_seen_many``), commit. Per-step times go to ``stats``."""
        clock = time.perf_counter
        t0 = clock()
        rows: list[telemetry_store.ReadingRow] = []
        seen: dict[int, tuple[datetime, SeenMetrics]] = {}
        for job in batch:
            rows.extend(job.rows)
            mine = seen.get(job.device_id)
            if mine is None:  # copied: the job's own dict stays as the session made it
                seen[job.device_id] = (job.at, dict(job.metrics))
                continue
            at, metrics = mine
            for metric, newer in job.metrics.items():
                old = metrics.get(metric)
                if old is None or newer[0] >= old[0]:
                    metrics[metric] = newer
            if job.at > at:
                seen[job.device_id] = (job.at, metrics)
        try:
            with Session(bind=self._connection()) as session:
                t1 = clock()
                new = telemetry_store.write_readings(session.connection(), rows) if rows else 0
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
        return new


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


def lookup_executor() -> ThreadPoolExecutor:
    """Threads for look-ups and quarantine rows (never the writer's thread)."""
    return ThreadPoolExecutor(LOOKUP_THREADS, thread_name_prefix="hj212-db")
