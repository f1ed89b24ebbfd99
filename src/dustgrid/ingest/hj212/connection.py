"""The plumbing of one HJ 212 TCP connection: bytes in, replies out in order, flow control.

:class:`FrameConnection` owns the transport: it splits what is read into frames, hands
each to :meth:`~FrameConnection._handle` (the protocol, :class:`~.session.Hj212Session`),
runs a frame that must wait in a task while reading pauses, and writes the queued replies
in order - a reply queued behind a writer batch goes out only after that batch's commit,
and not at all when its frame could not be stored. The queue is bounded
(``hj212_max_inflight``): a fast sender is slowed down (the connection stops being read),
not buffered. A peer that does not read our replies is dropped after ``DRAIN_TIMEOUT_S``.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Self
from zoneinfo import ZoneInfo

from dustgrid.config import Settings

from .backfill import BackfillTracker
from .codec import Frame
from .codes import CN_DATA_REPLY
from .devicecache import DeviceDirectory
from .errors import StreamError
from .loglimit import LogLimiter
from .recorders import Quarantine, TimeFlags
from .stream import FrameSplitter, SplitReassembler
from .writer import Batch, BatchWriter

log = logging.getLogger("dustgrid.hj212")

DRAIN_TIMEOUT_S: Final = 10.0  # a peer that does not read our replies is dropped
CLOSE_GRACE_S: Final = 5.0  # time left to queued replies when a connection ends


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


class FrameConnection(asyncio.Protocol):
    """Transport state of one TCP connection (see module docstring); subclasses handle
    the frames (:meth:`_handle`, :meth:`_frame_slow`).

    ``registry`` (the server's set of open sessions) gets the connection while it is open;
    a connection beyond ``hj212_max_connections`` is closed at once.
    """

    def __init__(self, ctx: IngestContext, registry: set[Self] | None = None) -> None:
        self.ctx = ctx
        settings = ctx.settings
        self.registry = registry if registry is not None else set()
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self.splitter = FrameSplitter(max_buffer=settings.hj212_max_buffer)
        self.reassembler = SplitReassembler()
        self._limiter = ctx.log_limiter or LogLimiter(settings.hj212_log_every_s, ctx.stats)
        self.errors = 0
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

    def connection_made(self: Self, transport: asyncio.BaseTransport) -> None:
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

    # -- frames (the protocol's part) ----------------------------------------------------

    def _handle(self, result: bytes | StreamError, now: datetime) -> tuple[Frame, bytes] | None:
        """One splitter result, synchronously; returns ``(frame, raw)`` when the frame must
        wait (then :meth:`_frame_slow` runs in a task, in order)."""
        raise NotImplementedError

    async def _frame_slow(self, frame: Frame, raw: bytes) -> None:
        raise NotImplementedError
