"""One HJ 212 connection: bytes in, frames validated, readings queued, replies out in order.

Flow per connection: read (idle timeout) -> :class:`FrameSplitter` -> ``decode`` (Modbus CRC
decoded, then checked against the device) -> split packets reassembled per (MN, QN) ->
device look-up (TTL cache) -> password, CRC variant, ST -> by CN:

* 2011/2051/2061/2031 data: readings in canonical units and UTC go to the batching writer;
  the 9014 reply (when the frame's Flag asks for one) waits for that batch's commit. A
  frame whose DataTime is outside the reading time window (``telemetry.timewindow``) is
  answered with its 9014 at once but not stored, does not move the device's last-seen
  time, is counted (``frames_time_ahead`` ...) and flags the device (``TimeFlags``);
* 2021/2041/2081/3020 (running status, running time, data logger restart, on-site
  information): answered with a 9014, counted (``uploads_<CN>``), not stored;
* 1011 with ``SystemTime``: the device's clock, answered to our 1011 (drift -> 1012 set);
  1011 without it: the device asks our time, answered with a 1011 carrying ``SystemTime``;
  1013 (time calibration request): answered with a 1012 time set;
* 9011/9012 from the device: answers to our history (backfill) and time requests.

Replies chosen (HJ 212-2017 request-return table, QnRtn), sent only when the frame asks for
a reply (Flag bit A) and has a QN: unknown MN (or a removed/rejected device) -> 9011
``QnRtn=4`` (MN error) and a quarantine row ``unknown_mn``; wrong password -> 9011
``QnRtn=3`` (PW error), quarantine ``bad_password``; ST we do not take -> ``QnRtn=5``; a CN we
do not handle -> ``QnRtn=8``. Every reply is sent in the CRC variant the device used
(a Modbus-CRC device rejects the standard's CRC); requests we start (time, backfill) use
the variant the device last used on this connection, else its registered one. A frame
that fails its CRC gets no reply at all (its QN and MN cannot be trusted; the device
resends): that includes a Modbus CRC from a device not configured for it (quarantine
``crc_variant``). Modbus frames of devices configured so are accepted and flagged: their
readings carry ``source="hj212mb"``.

Bad and rejected frames are logged at most once per peer host and reason every
``hj212_log_every_s`` (:class:`LogLimiter`); the rest are counted (``log_suppressed``) in
the periodic stats line, next to the per-reason counters.

All outgoing bytes go through one ordered queue per connection: an entry may wait on a
writer batch, so a 9014 never overtakes the commit of its frame, nor an earlier reply. The
queue is bounded (``hj212_max_inflight``): a fast sender is slowed down (the connection
stops being read), not buffered. Nothing a peer sends can end the connection except EOF,
the idle timeout, a socket error or a run of rejected frames (``MAX_REJECTS``).

Why a protocol and not streams: the listener's event loop does the work of every frame of
every device, and per frame the stream machinery (a reader task woken per read, a queue
put and get, a future and an ``await`` per reply, a send task) cost more than decoding
the frame. Here a read chunk is handled in one call (``data_received``): its frames are
decoded and queued synchronously; only a frame that must wait - a device not in the
look-up cache, a rejection being recorded - goes to a task, and reading stops until it is
done, so frames are still handled in order. After a commit the writer calls each waiting
session once, which writes every reply that is due in one ``write``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final
from zoneinfo import ZoneInfo

from dustgrid.config import Settings

from .backfill import BackfillTracker
from .build import (
    build_data_reply,
    build_frame,
    build_request_reply,
    format_timestamp,
    reply_crc,
)
from .codec import Frame, decode
from .codes import (
    CN_DATA_REPLY,
    CN_EXECUTION_RESULT,
    CN_NOTIFY_REPLY,
    CN_REQUEST_REPLY,
    CN_TIME_GET,
    CN_TIME_SET,
    DATA_CNS,
    HISTORY_CNS,
    REPLY_FLAG,
    REQUEST_FLAG,
    STATUS_UPLOAD_CNS,
)
from .cp import parse_timestamp
from .crc import hj212_crc, modbus_crc
from .devicecache import DeviceDirectory, DeviceInfo
from .envelope import CRC_HJ212, CRC_MODBUS
from .errors import HJ212Error, StreamError
from .recorders import Quarantine, TimeFlags
from .stream import FrameSplitter, SplitReassembler
from .writer import Batch, BatchWriter

log = logging.getLogger("dustgrid.hj212")

CN_TIME_CALIBRATION: Final = "1013"  # device asks to have its clock set
REPLY_CNS: Final = frozenset(
    {CN_REQUEST_REPLY, CN_EXECUTION_RESULT, CN_NOTIFY_REPLY, CN_DATA_REPLY}
)
#: System types (ST) we take data from: ambient air, noise, air pollution source, dust.
ACCEPTED_ST: Final = frozenset({"22", "23", "31", "39"})
# 9011 QnRtn values of HJ 212-2017
QN_RTN_PW_ERROR: Final = 3
QN_RTN_MN_ERROR: Final = 4
QN_RTN_ST_ERROR: Final = 5
QN_RTN_CN_ERROR: Final = 8
LOG_LIMIT_KEYS: Final = 100_000  # (peer, reason) pairs remembered before starting afresh
DRAIN_TIMEOUT_S: Final = 10.0  # a peer that does not read our replies is dropped
MAX_SPLIT_PARTIALS: Final = 64  # incomplete split packets held per connection
MAX_REJECTS: Final = 100  # rejected frames (MN/PW/CRC variant) before we hang up
CLOSE_GRACE_S: Final = 5.0  # time left to queued replies when a connection ends
SYSTEM_TIME_KEY: Final = "SystemTime"
QN_LEN: Final = 17  # yyyyMMddHHmmssZZZ


class LogLimiter:
    """At most one log line per (peer host, reason) every ``every_s`` seconds.

    A device that sends nothing but bad frames (a wrong CRC variant, a fuzzer, a broken
    firmware) would otherwise write a line per frame: 600,000 bad frames were 19 MB of log.
    Lines held back are counted in ``stats["log_suppressed"]`` (the per-reason counters are
    counted anyway); the next line for the same key says how many it stands for. The peer
    is the host without its port: a device reconnecting gets a new port, not a new quota.
    ``every_s`` 0 logs every line."""

    def __init__(
        self, every_s: float, stats: Counter[str], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.every_s = every_s
        self.stats = stats
        self._clock = clock
        self._seen: dict[tuple[str, str], tuple[float, int]] = {}

    def allow(self, peer: str, reason: str) -> int | None:
        """None: do not log (counted); else the number of lines held back before this one."""
        if self.every_s <= 0:
            return 0
        key = (peer.rpartition(":")[0] or peer, reason)
        now = self._clock()
        last = self._seen.get(key)
        if last is not None and now - last[0] < self.every_s:
            self._seen[key] = (last[0], last[1] + 1)
            self.stats["log_suppressed"] += 1
            return None
        if len(self._seen) >= LOG_LIMIT_KEYS:
            self._seen.clear()
        self._seen[key] = (now, 0)
        return 0 if last is None else last[1]


@dataclass
class IngestContext:
    """What all sessions share; built by :class:`~.server.Hj212Server`."""

    settings: Settings
    tz: ZoneInfo
    directory: DeviceDirectory
    writer: BatchWriter
    quarantine: Quarantine
    backfill: BackfillTracker
    stats: Counter[str]
    time_flags: TimeFlags | None = None
    log_limiter: LogLimiter | None = None


#: A queued reply: (batch it waits for or None, the frame's index in it, bytes, label)
_Out = tuple[Batch | None, int, bytes, str]


def _due(batch: Batch | None) -> bool:
    return batch is None or batch.done


#: Why a frame is refused: (quarantine reason, 9011 QnRtn or None for no reply)
_Refusal = tuple[str, int | None]
_UNKNOWN_MN: Final[_Refusal] = ("unknown_mn", QN_RTN_MN_ERROR)
_BAD_PASSWORD: Final[_Refusal] = ("bad_password", QN_RTN_PW_ERROR)
_CRC_VARIANT: Final[_Refusal] = ("crc_variant", None)


class Hj212Session(asyncio.Protocol):
    """Protocol state of one TCP connection (see module docstring).

    ``registry`` (the server's set of open sessions) gets the session while it is open;
    a connection beyond ``hj212_max_connections`` is closed at once.
    """

    def __init__(self, ctx: IngestContext, registry: set[Hj212Session] | None = None) -> None:
        self.ctx = ctx
        settings = ctx.settings
        self.registry = registry if registry is not None else set()
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self.splitter = FrameSplitter(max_buffer=settings.hj212_max_buffer)
        self.reassembler = SplitReassembler()
        self.devices: dict[str, DeviceInfo] = {}  # MNs that authenticated on this connection
        self.time_requests: dict[str, str] = {}  # QN of our 1011/1012 -> MN
        self._reply_tails: dict[tuple[str, str, str], bytes] = {}  # (MN, PW, CRC) -> 9014 tail
        self.crc_of: dict[str, str] = {}  # MN -> CRC variant its last accepted frame used
        self._flag_tasks: set[asyncio.Task[bool]] = set()  # time flags being written
        self._limiter = ctx.log_limiter or LogLimiter(settings.hj212_log_every_s, ctx.stats)
        self.errors = 0
        self.rejects = 0
        self.closed: asyncio.Future[None] | None = None  # resolved when the connection is gone
        self._loop: asyncio.AbstractEventLoop | None = None
        self._out: deque[_Out] = deque()
        self._max_inflight = max(1, settings.hj212_max_inflight)
        self._idle_s = settings.hj212_idle_timeout_s
        self._split_ttl = settings.hj212_split_timeout_s
        self._pump_cb = self._pump
        self._waiting: Batch | None = None  # the batch whose waiters hold our _pump
        self._slow: asyncio.Task[None] | None = None  # a frame that must wait, in order
        # frames split off a read but not handled yet (replies piled up, or behind _slow)
        self._held: tuple[list[bytes | StreamError], int] | None = None
        self._last_rx = 0.0
        self._reading_paused = False
        self._write_paused = False
        self._stopping = False  # no more frames are taken (EOF, server shutdown, idle)
        self._closing = False  # close once the replies owed are out
        self._lost = False
        self._idle_timer: asyncio.TimerHandle | None = None
        self._drain_timer: asyncio.TimerHandle | None = None
        self._close_timer: asyncio.TimerHandle | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport (uvloop's does not subclass asyncio.Transport: no isinstance)
        self.transport = transport  # type: ignore[assignment]
        loop = self._loop = asyncio.get_running_loop()
        self.closed = loop.create_future()
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        stats = self.ctx.stats
        if len(self.registry) >= self.ctx.settings.hj212_max_connections:
            stats["connections_refused"] += 1
            self._stopping = self._closing = True
            transport.close()
            return
        stats["connections"] += 1
        self.registry.add(self)
        self._last_rx = loop.time()
        self._idle_timer = loop.call_later(self._idle_s, self._check_idle)

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = self._stopping = True
        if exc is not None:
            self.ctx.stats["connection_errors"] += 1
            log.info("hj212 %s: connection error %s", self.peer, exc)
        for timer in (self._idle_timer, self._drain_timer, self._close_timer):
            if timer is not None:
                timer.cancel()
        if self._slow is not None:
            self._slow.cancel()
        self._out.clear()
        self.registry.discard(self)
        if self.closed is not None and not self.closed.done():
            self.closed.set_result(None)

    def stop(self) -> None:
        """Stop taking frames (server shutdown); replies already queued still go out."""
        self._stopping = True
        self._held = None
        if self._slow is not None:
            self._slow.cancel()
        self._close_after_replies()

    def _close_after_replies(self) -> None:
        """Close once every queued reply is out (at most ``CLOSE_GRACE_S`` from now)."""
        self._stopping = True
        self._update_reading()
        if self._closing or self.transport is None:
            return
        self._closing = True
        assert self._loop is not None
        self._close_timer = self._loop.call_later(CLOSE_GRACE_S, self._close_now)
        self._maybe_close()

    def _maybe_close(self) -> None:
        if self._closing and not self._out and self._slow is None and self._held is None:
            self._close_now()

    def _close_now(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()  # what is buffered still goes out

    def _check_idle(self) -> None:
        assert self._loop is not None
        left = self._last_rx + self._idle_s - self._loop.time()
        if left > 0 or self._reading_paused:  # a peer we hold back is not idle
            self._idle_timer = self._loop.call_later(max(left, 1.0), self._check_idle)
            return
        self._idle_timer = None
        self.ctx.stats["idle_timeouts"] += 1
        log.info("hj212 %s: idle for %.0f s, closing", self.peer, self._idle_s)
        self._close_after_replies()

    # -- flow control ------------------------------------------------------------------

    def _update_reading(self) -> None:
        """Read only while nothing waits, replies are not piling up and the peer reads."""
        pause = (
            self._stopping
            or self._slow is not None
            or self._held is not None
            or self._write_paused
            or len(self._out) >= self._max_inflight
        )
        if pause != self._reading_paused and self.transport is not None and not self._lost:
            self._reading_paused = pause
            if pause:
                self.transport.pause_reading()
            else:
                self.transport.resume_reading()

    def pause_writing(self) -> None:
        """The socket's send buffer is full: the peer does not read our replies."""
        self._write_paused = True
        self._update_reading()
        if self._drain_timer is None and self._loop is not None:
            self._drain_timer = self._loop.call_later(DRAIN_TIMEOUT_S, self._drain_timeout)

    def resume_writing(self) -> None:
        self._write_paused = False
        if self._drain_timer is not None:
            self._drain_timer.cancel()
            self._drain_timer = None
        self._update_reading()

    def _drain_timeout(self) -> None:
        self._drain_timer = None
        self.ctx.stats["send_errors"] += 1
        log.info("hj212 %s: cannot send (peer not reading for %.0f s), closing",
                 self.peer, DRAIN_TIMEOUT_S)  # fmt: skip
        self._stopping = True
        if self.transport is not None:
            self.transport.abort()

    # -- bytes in ----------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        assert self._loop is not None
        self._last_rx = self._loop.time()
        if self._stopping:
            return
        self.ctx.stats["bytes_in"] += len(data)
        results = self.splitter.feed(data)
        if results:
            self._run(results, 0)
        if len(self.reassembler):
            self._purge_splits()
        self._after_frames()

    def eof_received(self) -> bool:
        if not self._stopping:
            results = self.splitter.flush()
            if results:
                self._run(results, 0)
                self._after_frames()
        self._close_after_replies()
        return True  # keep the socket open for the replies still owed

    def _purge_splits(self) -> None:
        assert self._loop is not None
        for mn, qn, got, pnum in self.reassembler.purge(self._loop.time() - self._split_ttl):
            self.ctx.stats["split_dropped"] += 1
            self._bad(
                f"split packet MN {mn} QN {qn}: only {got} of {pnum} parts arrived",
                "split_dropped",
            )

    def _run(self, results: list[bytes | StreamError], start: int) -> None:
        """Handle ``results[start:]`` in order, synchronously. The first frame that must
        wait goes to a task which carries on with the rest after it; with
        ``hj212_max_inflight`` replies queued, the rest is held until replies go out.
        Either way reading pauses meanwhile."""
        now = datetime.now(UTC)
        handle = self._handle
        out = self._out
        limit = self._max_inflight
        i, n = start, len(results)
        while i < n:
            if len(out) >= limit:
                self._held = (results, i)
                break
            pending = handle(results[i], now)
            i += 1
            if pending is not None:
                assert self._loop is not None
                self._slow = self._loop.create_task(self._run_slow(*pending, results, i))
                break
        self._update_reading()

    async def _run_slow(
        self, frame: Frame, raw: bytes, results: list[bytes | StreamError], nxt: int
    ) -> None:
        try:
            await self._frame_slow(frame, raw)
        except asyncio.CancelledError:
            self._slow = None
            raise
        except ConnectionAbortedError:  # too many rejected frames
            self._slow = None
            self._close_after_replies()
            return
        except Exception:  # a bug must cost one frame, never the connection
            self._internal_error(raw)
        self._slow = None
        if self._lost:
            return
        self._run(results, nxt)
        self._after_frames()
        self._maybe_close()

    def _after_frames(self) -> None:
        out = self._out
        if out:
            batch = out[0][0]
            if batch is None or batch.done:
                self._pump()
                return
        self._update_reading()

    # -- replies out -------------------------------------------------------------------

    def _queue(self, data: bytes, label: str, batch: Batch | None = None, index: int = 0) -> None:
        """Queue a reply; with ``batch``, it goes out only once that frame is committed
        (and not at all if it could not be stored: the device resends)."""
        self._out.append((batch, index, data, label))
        if batch is not None and self._waiting is not batch:
            self._waiting = batch
            batch.waiters.append(self._pump_cb)

    def _pump(self) -> None:
        """Write every queued reply that is due, in order, in one ``write``; then go on
        with frames held back while too many replies were queued."""
        while self._write_due() and self._held is not None and self._slow is None:
            if len(self._out) >= self._max_inflight:
                break
            results, start = self._held
            self._held = None
            self._run(results, start)
            if not self._out or not _due(self._out[0][0]):
                break
        self._update_reading()
        if self._closing:
            self._maybe_close()

    def _write_due(self) -> bool:
        """Write the replies that are due; False when the connection is gone."""
        out = self._out
        if self._lost or self.transport is None:
            out.clear()
            return False
        stats = self.ctx.stats
        ready: list[bytes] = []
        acks = 0
        while out:
            batch, index, data, label = out[0]
            if batch is not None:
                if not batch.done:
                    break
                if batch.failed is not None and index in batch.failed:
                    stats["acks_withheld"] += 1  # not stored: no 9014; the device resends
                    out.popleft()
                    continue
            out.popleft()
            ready.append(data)
            if label is CN_DATA_REPLY:
                acks += 1
            else:
                stats[f"sent_{label}"] += 1
        if acks:
            stats["sent_9014"] += acks
        if ready and not self.transport.is_closing():
            self.transport.write(ready[0] if len(ready) == 1 else b"".join(ready))
        return True

    # -- frames ------------------------------------------------------------------------

    def _bad(self, message: str, reason: str) -> None:
        """Log a bad or refused frame, at most once per peer and reason per interval."""
        self.errors += 1
        held = self._limiter.allow(self.peer, reason)
        if held is None:
            return
        more = f" (+{held} more {reason} since the last line)" if held else ""
        log.warning("hj212 %s: %s%s", self.peer, message, more)

    def _internal_error(self, raw: bytes) -> None:
        """A bug costs one frame; its traceback is logged once per peer and interval."""
        self.ctx.stats["internal_errors"] += 1
        if self._limiter.allow(self.peer, "internal_error") is not None:
            log.exception("hj212 %s: internal error on frame %r", self.peer, raw[:80])

    def _handle(self, result: bytes | StreamError, now: datetime) -> tuple[Frame, bytes] | None:
        """One splitter result, synchronously; returns ``(frame, raw)`` when the frame must
        wait (device look-up or rejection: :meth:`_frame_slow`)."""
        stats = self.ctx.stats
        if isinstance(result, StreamError):
            reason = f"stream_{result.code}"
            stats[reason] += 1
            self._bad(result.message, reason)
            return None
        stats["frames_in"] += 1
        try:
            return self._frame(result, now)
        except Exception:  # a bug must cost one frame, never the connection
            self._internal_error(result)
            return None

    def _frame(self, raw: bytes, now: datetime) -> tuple[Frame, bytes] | None:
        stats = self.ctx.stats
        try:
            frame = decode(raw, allow_modbus=True)
        except HJ212Error as exc:
            reason = f"bad_{exc.code}"
            stats[reason] += 1
            self._bad(f"{exc.message} [{raw[:60]!r}]", reason)
            return None
        if frame.split:
            assert self._loop is not None
            try:
                whole = self.reassembler.add(frame, self._loop.time())
            except HJ212Error as exc:
                reason = f"bad_{exc.code}"
                stats[reason] += 1
                self._bad(exc.message, reason)
                return None
            stats["split_parts"] += 1
            if len(self.reassembler) > MAX_SPLIT_PARTIALS:  # a peer opening parts by the dozen
                dropped = self.reassembler.purge(float("inf"))
                stats["split_dropped"] += len(dropped)
                self._bad(f"dropped {len(dropped)} incomplete split packets (cap)", "split_cap")
            if whole is None:
                return None
            stats["split_reassembled"] += 1
            frame = whole
        if frame.cn in REPLY_CNS:
            self._on_reply(frame)
            return None
        hit = self.ctx.directory.cached(frame.mn)  # changes apply within the cache's TTL
        if hit is None or self._refusal(frame, hit[1]) is not None:
            return frame, raw  # a look-up or a quarantine row to write: that awaits
        info = hit[1]
        assert info is not None
        self._accepted(frame, info, now)
        return None

    async def _frame_slow(self, frame: Frame, raw: bytes) -> None:
        info = await self.ctx.directory.lookup(frame.mn)
        refusal = self._refusal(frame, info)
        if refusal is not None:
            await self._reject(frame, raw, *refusal)
            return
        assert info is not None
        self._accepted(frame, info, datetime.now(UTC))

    @staticmethod
    def _refusal(frame: Frame, info: DeviceInfo | None) -> _Refusal | None:
        if info is None or info.closed:
            return _UNKNOWN_MN
        if frame.pw != info.password:
            return _BAD_PASSWORD
        if frame.crc == CRC_MODBUS and not info.modbus_crc:
            return _CRC_VARIANT
        return None

    def _accepted(self, frame: Frame, device: DeviceInfo, now: datetime) -> None:
        """A frame of an authenticated device: by ST and CN."""
        stats = self.ctx.stats
        if frame.crc == CRC_MODBUS:
            stats["modbus_frames"] += 1
        self.crc_of[frame.mn] = frame.crc
        if frame.mn not in self.devices:
            self.devices[frame.mn] = device
            log.info("hj212 %s: device %s (id %s) connected", self.peer, device.mn, device.id)
            if self.ctx.settings.hj212_time_drift_s > 0:
                self._send_time_get(device, frame.st)
        if frame.st not in ACCEPTED_ST:
            stats["rejected_st"] += 1
            self._bad(f"MN {frame.mn}: ST {frame.st} not taken", "rejected_st")
            self._request_reply(frame, QN_RTN_ST_ERROR)
        elif frame.cn in DATA_CNS:
            self._on_data(frame, device, now)
        elif frame.cn == CN_TIME_GET:
            self._on_time_get(frame, device)
        elif frame.cn in STATUS_UPLOAD_CNS:
            self._on_status_upload(frame)
        elif frame.cn == CN_TIME_CALIBRATION:
            self._send_time_set(device, frame.st)
        else:
            stats["unsupported_cn"] += 1
            self._bad(f"MN {frame.mn}: CN {frame.cn} not handled", "unsupported_cn")
            self._request_reply(frame, QN_RTN_CN_ERROR)

    async def _reject(self, frame: Frame, raw: bytes, reason: str, qn_rtn: int | None) -> None:
        """Count, record for the admin, answer; hang up on a peer that only sends rejects
        (each costs a look-up and maybe a quarantine write: not a free DoS)."""
        self.ctx.stats[f"rejected_{reason}"] += 1
        self.rejects += 1
        if self.rejects > MAX_REJECTS:
            self.ctx.stats["closed_for_rejects"] += 1
            self._bad(f"{self.rejects} rejected frames, closing", "closed_for_rejects")
            raise ConnectionAbortedError("too many rejected frames")
        self._bad(f"MN {frame.mn} CN {frame.cn}: rejected ({reason})", f"rejected_{reason}")
        try:
            await self.ctx.quarantine.record(
                mn=frame.mn,
                reason=reason,
                peer=self.peer,
                frame_text=raw.decode("ascii", "replace"),
            )
        except Exception as exc:
            self.ctx.stats["quarantine_errors"] += 1
            self._bad(f"quarantine of MN {frame.mn} failed: {exc}", "quarantine_errors")
        if qn_rtn is not None:
            self._request_reply(frame, qn_rtn)

    def _request_reply(self, frame: Frame, qn_rtn: int) -> None:
        if frame.ack_wanted and frame.qn is not None:
            self._queue(build_request_reply(frame, qn_rtn), f"9011_{qn_rtn}")

    # -- data ----------------------------------------------------------------------------

    def _on_status_upload(self, frame: Frame) -> None:
        """2021/2041/2081/3020: acknowledged and counted; nothing of them is stored."""
        self.ctx.stats[f"uploads_{frame.cn}"] += 1
        if frame.ack_wanted and frame.qn is not None:
            self._queue(self._data_reply(frame), CN_DATA_REPLY)

    def _on_data(self, frame: Frame, device: DeviceInfo, now: datetime) -> None:
        ctx = self.ctx
        stats = ctx.stats
        verdict = ctx.writer.time_verdict(frame, now)
        if verdict is not None:
            self._out_of_window(frame, device, verdict, now)
            return
        batch, index, problems = ctx.writer.add_frame(frame, device, now)
        for problem in problems:
            self._bad(problem, "data_problem")
        stats["frames_data"] += 1
        if frame.cn in HISTORY_CNS:
            job = batch.jobs[index]
            if job[4] and job[2] is not None:
                stats["history_frames"] += 1
                ctx.backfill.on_history_frame(device.id, job[2])
        if frame.ack_wanted and frame.qn is not None:
            self._queue(self._data_reply(frame), CN_DATA_REPLY, batch, index)
        last_seen = ctx.directory.last_seen(device)
        if last_seen is None or now - last_seen <= ctx.backfill.after:
            return  # no silence to fill (the tracker's own test, without the call)
        bf = ctx.backfill.plan(device_id=device.id, mn=device.mn, last_seen=last_seen, now=now)
        if bf is not None:
            stats["backfill_requests"] += 1
            log.info(
                "hj212 %s: MN %s silent since %s; asking for minute data %s..%s (QN %s)",
                self.peer, device.mn, bf.begin, bf.begin, bf.end, bf.qn,
            )  # fmt: skip
            request = ctx.backfill.request_frame(
                bf, pw=device.password, st=frame.st, crc=self._crc_for(device)
            )
            self._queue(request, "backfill", batch, index)

    def _out_of_window(self, frame: Frame, device: DeviceInfo, verdict: str, now: datetime) -> None:
        """DataTime outside the reading time window: the device gets its 9014 (or it would
        resend the frame for ever), nothing is stored, last-seen does not move; the frame
        is counted and the device flagged (``time_ahead``/``time_behind``/``time_invalid``)."""
        stats = self.ctx.stats
        stats[f"frames_{verdict}"] += 1
        stats["readings_out_of_window"] += len(frame.items)
        data_time = format_data_time(frame)
        self._bad(f"MN {frame.mn}: DataTime {data_time} outside the time window ({verdict}); "
                  "answered, not stored", verdict)  # fmt: skip
        if frame.ack_wanted and frame.qn is not None:
            self._queue(self._data_reply(frame), CN_DATA_REPLY)
        flags = self.ctx.time_flags
        if flags is not None and self._loop is not None:
            detail = f"CN {frame.cn} DataTime {data_time}"
            task = self._loop.create_task(
                flags.record(device_id=device.id, verdict=verdict, at=now, detail=detail)
            )
            self._flag_tasks.add(task)  # a strong reference until it is done
            task.add_done_callback(self._flag_done)

    def _flag_done(self, task: asyncio.Task[bool]) -> None:
        self._flag_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.ctx.stats["time_flag_errors"] += 1
            self._bad(f"time flag failed: {task.exception()}", "time_flag_errors")

    def _crc_for(self, device: DeviceInfo) -> str:
        """The CRC variant of a request we start: what the device last used here, else the
        variant it is registered with."""
        return self.crc_of.get(device.mn) or (CRC_MODBUS if device.modbus_crc else CRC_HJ212)

    def _data_reply(self, frame: Frame) -> bytes:
        """``build_data_reply(frame)``, from a per-device template after the first one.

        A 9014 differs from the device's previous one only in its QN (17 digits, so the
        length field does not change either): the first reply is built and checked by the
        builder, and its bytes after the QN are reused with a fresh CRC (~4x cheaper, on
        the event loop for every frame)."""
        qn = frame.qn
        crc = reply_crc(frame)
        key = (frame.mn, frame.pw, crc)
        tail = self._reply_tails.get(key)
        if tail is None or qn is None or len(qn) != QN_LEN:
            reply = build_data_reply(frame)
            if qn is not None and len(qn) == QN_LEN and reply.startswith(b"QN=", 6):
                self._reply_tails[key] = reply[6 + 3 + QN_LEN : -6]
            return reply
        segment = b"QN=%s%s" % (qn.encode("ascii"), tail)
        check = hj212_crc(segment) if crc == CRC_HJ212 else modbus_crc(segment)
        return b"##%04d%s%04X\r\n" % (len(segment), segment, check)

    # -- requests and replies --------------------------------------------------------------

    def _on_reply(self, frame: Frame) -> None:
        """9011/9012 answers to our backfill and time requests (others are only counted)."""
        stats = self.ctx.stats
        stats[f"reply_{frame.cn}"] += 1
        code = _int(frame.cp.get("QnRtn" if frame.cn == CN_REQUEST_REPLY else "ExeRtn"))
        backfill = self.ctx.backfill
        pending = backfill.by_qn(frame.qn)
        if pending is not None and pending.mn == frame.mn:
            if frame.cn == CN_REQUEST_REPLY:
                bf = backfill.on_request_reply(frame.qn, code)
            elif frame.cn == CN_EXECUTION_RESULT:
                bf = backfill.on_execution_result(frame.qn, code)
            else:
                return
            if bf is not None:
                log.info(
                    "hj212 %s: MN %s backfill %s -> %s (%s, %d frames)",
                    self.peer, frame.mn, bf.qn, bf.state, code, bf.frames,
                )  # fmt: skip
        elif frame.qn in self.time_requests and frame.cn == CN_EXECUTION_RESULT:
            self.time_requests.pop(frame.qn, None)

    def _local_now(self) -> datetime:
        return datetime.now(UTC).astimezone(self.ctx.tz).replace(tzinfo=None, microsecond=0)

    def _on_time_get(self, frame: Frame, device: DeviceInfo) -> None:
        system_time = frame.cp.get(SYSTEM_TIME_KEY)
        if system_time is None:  # the device asks for our time
            if frame.qn is None:
                return
            reply = build_frame(
                st=frame.st, cn=CN_TIME_GET, pw=frame.pw, mn=frame.mn, flag=REPLY_FLAG,
                qn=frame.qn, extra={SYSTEM_TIME_KEY: format_timestamp(self._local_now())},
                crc=reply_crc(frame),
            )  # fmt: skip
            self._queue(reply, "1011_time")
            return
        try:  # the device tells its time, answering our 1011
            device_time = parse_timestamp(system_time, SYSTEM_TIME_KEY)
        except HJ212Error as exc:
            self._bad(exc.message, f"bad_{exc.code}")
            return
        drift = abs((device_time - self._local_now()).total_seconds())
        limit = self.ctx.settings.hj212_time_drift_s
        self.ctx.stats["time_checks"] += 1
        if limit > 0 and drift > limit:
            log.info("hj212 %s: MN %s clock off by %.0f s; setting it", self.peer, frame.mn, drift)
            self._send_time_set(device, frame.st)

    def _send_time_get(self, device: DeviceInfo, st: str) -> None:
        qn = self.ctx.backfill.new_qn(datetime.now(UTC))
        self.time_requests[qn] = device.mn
        frame = build_frame(
            st=st, cn=CN_TIME_GET, pw=device.password, mn=device.mn, flag=REQUEST_FLAG, qn=qn,
            crc=self._crc_for(device),
        )  # fmt: skip
        self._queue(frame, "1011_get")

    def _send_time_set(self, device: DeviceInfo, st: str) -> None:
        qn = self.ctx.backfill.new_qn(datetime.now(UTC))
        self.time_requests[qn] = device.mn
        frame = build_frame(
            st=st, cn=CN_TIME_SET, pw=device.password, mn=device.mn, flag=REQUEST_FLAG, qn=qn,
            extra={SYSTEM_TIME_KEY: format_timestamp(self._local_now())},
            crc=self._crc_for(device),
        )  # fmt: skip
        self.ctx.stats["time_sets"] += 1
        self._queue(frame, "1012_set")


def format_data_time(frame: Frame) -> str:
    """The frame's DataTime as the device sent it (``yyyyMMddHHmmss``)."""
    local = frame.data_time
    return "" if local is None else f"{local.year:04d}{local:%m%d%H%M%S}"


def _int(text: str | None) -> int | None:
    return int(text) if text is not None and text.isdigit() else None
