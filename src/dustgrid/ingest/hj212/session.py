"""One HJ 212 connection: bytes in, frames validated, readings queued, replies out in order.

Flow per connection: read (idle timeout) -> :class:`FrameSplitter` -> ``decode`` (Modbus CRC
decoded, then checked against the device) -> split packets reassembled per (MN, QN) ->
device look-up (TTL cache) -> password, CRC variant, ST -> by CN:

* 2011/2051/2061/2031 data: readings in canonical units and UTC go to the batching writer;
  the 9014 reply (when the frame's Flag asks for one) waits for that batch's commit;
* 1011 with ``SystemTime``: the device's clock, answered to our 1011 (drift -> 1012 set);
  1011 without it: the device asks our time, answered with a 1011 carrying ``SystemTime``;
  1013 (time calibration request): answered with a 1012 time set;
* 9011/9012 from the device: answers to our history (backfill) and time requests.

Replies chosen (HJ 212-2017 request-return table, QnRtn), sent only when the frame asks for
a reply (Flag bit A) and has a QN: unknown MN (or a removed/rejected device) -> 9011
``QnRtn=4`` (MN error) and a quarantine row ``unknown_mn``; wrong password -> 9011
``QnRtn=3`` (PW error), quarantine ``bad_password``; ST we do not take -> ``QnRtn=5``; a CN we
do not handle -> ``QnRtn=8``. A frame that fails its CRC gets no reply at all (its QN and MN
cannot be trusted; the device resends): that includes a Modbus CRC from a device not
configured for it (quarantine ``crc_variant``). Modbus frames of devices configured so are
accepted and flagged: their readings carry ``source="hj212mb"``.

All outgoing bytes go through one ordered queue per connection: an entry may wait on a
write future, so a 9014 never overtakes the commit of its frame, nor an earlier reply. The
queue is bounded (``hj212_max_inflight``): a fast sender is slowed down, not buffered.
Nothing a peer sends can end the connection except EOF, the idle timeout or a socket error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final
from zoneinfo import ZoneInfo

from dustgrid.config import Settings

from .backfill import BackfillTracker
from .build import build_data_reply, build_frame, build_request_reply, format_timestamp
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
)
from .cp import parse_timestamp
from .crc import hj212_crc
from .envelope import CRC_MODBUS
from .errors import HJ212Error, StreamError
from .stream import FrameSplitter, SplitReassembler
from .writer import BatchWriter, DeviceDirectory, DeviceInfo, Quarantine, frame_rows

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
READ_CHUNK: Final = 65536
LOUD_ERRORS: Final = 5  # bad frames per connection logged at WARNING, the rest at DEBUG
DRAIN_TIMEOUT_S: Final = 10.0  # a peer that does not read our replies is dropped
MAX_SPLIT_PARTIALS: Final = 64  # incomplete split packets held per connection
MAX_REJECTS: Final = 100  # rejected frames (MN/PW/CRC variant) before we hang up
CLOSE_GRACE_S: Final = 5.0  # time left to queued replies when a connection ends
SYSTEM_TIME_KEY: Final = "SystemTime"
QN_LEN: Final = 17  # yyyyMMddHHmmssZZZ


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


@dataclass(slots=True)
class _Out:
    wait: asyncio.Future[int] | None
    data: bytes | None
    label: str


class Hj212Session:
    """Protocol state of one TCP connection (see module docstring)."""

    def __init__(
        self, ctx: IngestContext, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.ctx = ctx
        self.reader = reader
        self.writer = writer
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self.splitter = FrameSplitter(max_buffer=ctx.settings.hj212_max_buffer)
        self.reassembler = SplitReassembler()
        self.out: asyncio.Queue[_Out | None] = asyncio.Queue(ctx.settings.hj212_max_inflight)
        self.devices: dict[str, DeviceInfo] = {}  # MNs that authenticated on this connection
        self.time_requests: dict[str, str] = {}  # QN of our 1011/1012 -> MN
        self._reply_tails: dict[tuple[str, str], bytes] = {}  # (MN, PW) -> 9014 after QN
        self.errors = 0
        self.rejects = 0
        self._read_task: asyncio.Task[None] | None = None
        self._closing = False

    # -- lifecycle ---------------------------------------------------------------------

    async def run(self) -> None:
        """Serve the connection until EOF, idle timeout, error or :meth:`stop`."""
        stats = self.ctx.stats
        stats["connections"] += 1
        sender = asyncio.create_task(self._send_loop())
        self._read_task = asyncio.create_task(self._read_loop())
        try:
            await self._read_task
        except asyncio.CancelledError:
            if not self._read_task.cancelled():
                raise
        except (ConnectionError, OSError) as exc:
            log.info("hj212 %s: connection error %s", self.peer, exc)
            stats["connection_errors"] += 1
        finally:
            self._closing = True
            await self._finish(sender)

    async def _finish(self, sender: asyncio.Task[None]) -> None:
        """Let queued replies go out (bounded), then close the socket."""
        if not sender.done():
            # When full, the sender finds the queue empty after its backlog and stops.
            with contextlib.suppress(asyncio.QueueFull):
                self.out.put_nowait(None)
            try:
                await asyncio.wait_for(sender, CLOSE_GRACE_S)
            except (TimeoutError, ConnectionError, OSError):
                sender.cancel()
        self.writer.close()
        with contextlib.suppress(TimeoutError, ConnectionError, OSError):
            await asyncio.wait_for(self.writer.wait_closed(), 1.0)

    def stop(self) -> None:
        """Stop reading (server shutdown); replies already queued still go out."""
        if self._read_task is not None:
            self._read_task.cancel()

    async def _read_loop(self) -> None:
        idle = self.ctx.settings.hj212_idle_timeout_s
        split_ttl = self.ctx.settings.hj212_split_timeout_s
        loop = asyncio.get_running_loop()
        while True:
            try:
                async with asyncio.timeout(idle):  # no extra task per read, unlike wait_for
                    data = await self.reader.read(READ_CHUNK)
            except TimeoutError:
                self.ctx.stats["idle_timeouts"] += 1
                log.info("hj212 %s: idle for %.0f s, closing", self.peer, idle)
                return
            if not data:
                break
            self.ctx.stats["bytes_in"] += len(data)
            for result in self.splitter.feed(data):
                await self._handle(result)
            for mn, qn, got, pnum in self.reassembler.purge(loop.time() - split_ttl):
                self.ctx.stats["split_dropped"] += 1
                self._bad(f"split packet MN {mn} QN {qn}: only {got} of {pnum} parts arrived")
        for result in self.splitter.flush():
            await self._handle(result)

    async def _send_loop(self) -> None:
        """Write queued replies in order, each after the commit it depends on.

        Replies queued behind the one just awaited whose commits are done too (typically a
        whole batch's 9014s) go out in the same write: one send, not one per frame. Only a
        peer that does not read makes us wait for the socket (``drain``).

        A peer that stops reading (drain timeout) or a dead socket ends the connection:
        the reader is cancelled, so a blocked ``out.put`` cannot hang the session.
        """
        stats = self.ctx.stats
        carried: list[_Out | None] = []  # taken from the queue but its commit is not done
        while True:
            if carried:
                item = carried.pop()
            else:
                if self._closing and self.out.empty():
                    return
                item = await self.out.get()
            if item is None:
                if self.out.empty():
                    return
                continue
            ready: list[tuple[bytes, str]] = []  # (data, label)
            while True:
                if item.wait is not None:
                    try:
                        await item.wait
                    except Exception:
                        stats["acks_withheld"] += 1  # not stored: no 9014; the device resends
                        item = None
                if item is not None and item.data is not None:
                    ready.append((item.data, item.label))
                if self.out.empty():
                    break
                nxt = self.out.get_nowait()
                if nxt is None or (nxt.wait is not None and not nxt.wait.done()):
                    carried.append(nxt)
                    break
                item = nxt
            if not ready or self.writer.is_closing():
                continue
            try:
                self.writer.write(
                    ready[0][0] if len(ready) == 1 else b"".join([d for d, _ in ready])
                )
                if self.writer.transport.get_write_buffer_size():
                    await asyncio.wait_for(self.writer.drain(), DRAIN_TIMEOUT_S)
            except (TimeoutError, ConnectionError, OSError) as exc:
                stats["send_errors"] += 1
                log.info("hj212 %s: cannot send (%s), closing", self.peer, exc)
                self.writer.transport.abort()
                if self._read_task is not None:
                    self._read_task.cancel()
                return
            for _, label in ready:
                stats[f"sent_{label}"] += 1

    async def _send(self, data: bytes, label: str, wait: asyncio.Future[int] | None = None) -> None:
        await self.out.put(_Out(wait, data, label))

    # -- frames ------------------------------------------------------------------------

    def _bad(self, message: str) -> None:
        self.errors += 1
        level = logging.WARNING if self.errors <= LOUD_ERRORS else logging.DEBUG
        log.log(level, "hj212 %s: %s", self.peer, message)

    async def _handle(self, result: bytes | StreamError) -> None:
        stats = self.ctx.stats
        if isinstance(result, StreamError):
            stats[f"stream_{result.code}"] += 1
            self._bad(result.message)
            return
        stats["frames_in"] += 1
        try:
            await self._frame(result)
        except (asyncio.CancelledError, ConnectionAbortedError):
            raise
        except Exception:  # a bug must cost one frame, never the connection
            stats["internal_errors"] += 1
            log.exception("hj212 %s: internal error on frame %r", self.peer, result[:80])

    async def _frame(self, raw: bytes) -> None:
        stats = self.ctx.stats
        try:
            frame = decode(raw, allow_modbus=True)
        except HJ212Error as exc:
            stats[f"bad_{exc.code}"] += 1
            self._bad(f"{exc.message} [{raw[:60]!r}]")
            return
        if frame.split:
            try:
                whole = self.reassembler.add(frame, asyncio.get_running_loop().time())
            except HJ212Error as exc:
                stats[f"bad_{exc.code}"] += 1
                self._bad(exc.message)
                return
            stats["split_parts"] += 1
            if len(self.reassembler) > MAX_SPLIT_PARTIALS:  # a peer opening parts by the dozen
                dropped = self.reassembler.purge(float("inf"))
                stats["split_dropped"] += len(dropped)
                self._bad(f"dropped {len(dropped)} incomplete split packets (cap)")
            if whole is None:
                return
            stats["split_reassembled"] += 1
            frame = whole
        if frame.cn in REPLY_CNS:
            self._on_reply(frame)
            return
        device = await self._authenticate(frame, raw)
        if device is None:
            return
        if frame.st not in ACCEPTED_ST:
            stats["rejected_st"] += 1
            self._bad(f"MN {frame.mn}: ST {frame.st} not taken")
            await self._request_reply(frame, QN_RTN_ST_ERROR)
        elif frame.cn in DATA_CNS:
            await self._on_data(frame, device)
        elif frame.cn == CN_TIME_GET:
            await self._on_time_get(frame, device)
        elif frame.cn == CN_TIME_CALIBRATION:
            await self._send_time_set(frame.mn, device.password, frame.st)
        else:
            stats["unsupported_cn"] += 1
            self._bad(f"MN {frame.mn}: CN {frame.cn} not handled")
            await self._request_reply(frame, QN_RTN_CN_ERROR)

    async def _authenticate(self, frame: Frame, raw: bytes) -> DeviceInfo | None:
        """The device behind ``frame``, or None after answering/recording the rejection."""
        ctx = self.ctx
        known = self.devices.get(frame.mn)
        info = await ctx.directory.lookup(frame.mn)  # cached: changes apply within the TTL
        if info is None or info.closed:
            await self._reject(frame, raw, "unknown_mn", QN_RTN_MN_ERROR)
            return None
        if frame.pw != info.password:
            await self._reject(frame, raw, "bad_password", QN_RTN_PW_ERROR)
            return None
        if frame.crc == CRC_MODBUS:
            if not info.modbus_crc:
                await self._reject(frame, raw, "crc_variant", None)
                return None
            ctx.stats["modbus_frames"] += 1
        if known is None:
            self.devices[frame.mn] = info
            log.info("hj212 %s: device %s (id %s) connected", self.peer, info.mn, info.id)
            if ctx.settings.hj212_time_drift_s > 0:
                await self._send_time_get(info, frame.st)
        return info

    async def _reject(self, frame: Frame, raw: bytes, reason: str, qn_rtn: int | None) -> None:
        """Count, record for the admin, answer; hang up on a peer that only sends rejects
        (each costs a look-up and maybe a quarantine write: not a free DoS)."""
        self.ctx.stats[f"rejected_{reason}"] += 1
        self.rejects += 1
        if self.rejects > MAX_REJECTS:
            self.ctx.stats["closed_for_rejects"] += 1
            log.warning("hj212 %s: %d rejected frames, closing", self.peer, self.rejects)
            raise ConnectionAbortedError("too many rejected frames")
        self._bad(f"MN {frame.mn} CN {frame.cn}: rejected ({reason})")
        try:
            await self.ctx.quarantine.record(
                mn=frame.mn,
                reason=reason,
                peer=self.peer,
                frame_text=raw.decode("ascii", "replace"),
            )
        except Exception as exc:
            self.ctx.stats["quarantine_errors"] += 1
            log.warning("hj212 %s: quarantine of MN %s failed: %s", self.peer, frame.mn, exc)
        if qn_rtn is not None:
            await self._request_reply(frame, qn_rtn)

    async def _request_reply(self, frame: Frame, qn_rtn: int) -> None:
        if frame.ack_wanted and frame.qn is not None:
            await self._send(build_request_reply(frame, qn_rtn), f"9011_{qn_rtn}")

    # -- data ----------------------------------------------------------------------------

    async def _on_data(self, frame: Frame, device: DeviceInfo) -> None:
        ctx = self.ctx
        now = datetime.now(UTC)
        rows, metrics, problems = frame_rows(frame, device, tz=ctx.tz, now=now, stats=ctx.stats)
        for problem in problems:
            self._bad(problem)
        ctx.stats["frames_data"] += 1
        ctx.stats["readings_in"] += len(rows)
        if frame.cn in HISTORY_CNS and rows:
            ctx.stats["history_frames"] += 1
            ctx.backfill.on_history_frame(device.id, rows[0].data_time)
        fut = ctx.writer.submit(rows, device_id=device.id, at=now, metrics=metrics)
        if frame.ack_wanted and frame.qn is not None:
            await self._send(self._data_reply(frame), CN_DATA_REPLY, wait=fut)
        bf = ctx.backfill.plan(
            device_id=device.id, mn=device.mn, last_seen=ctx.directory.last_seen(device), now=now
        )
        if bf is not None:
            ctx.stats["backfill_requests"] += 1
            log.info(
                "hj212 %s: MN %s silent since %s; asking for minute data %s..%s (QN %s)",
                self.peer, device.mn, bf.begin, bf.begin, bf.end, bf.qn,
            )  # fmt: skip
            await self._send(
                ctx.backfill.request_frame(bf, pw=device.password, st=frame.st), "backfill", fut
            )

    def _data_reply(self, frame: Frame) -> bytes:
        """``build_data_reply(frame)``, from a per-device template after the first one.

        A 9014 differs from the device's previous one only in its QN (17 digits, so the
        length field does not change either): the first reply is built and checked by the
        builder, and its bytes after the QN are reused with a fresh CRC (~4x cheaper, on
        the event loop for every frame)."""
        qn = frame.qn
        key = (frame.mn, frame.pw)
        tail = self._reply_tails.get(key)
        if tail is None or qn is None or len(qn) != QN_LEN:
            reply = build_data_reply(frame)
            if qn is not None and len(qn) == QN_LEN and reply.startswith(b"QN=", 6):
                self._reply_tails[key] = reply[6 + 3 + QN_LEN : -6]
            return reply
        segment = b"QN=%s%s" % (qn.encode("ascii"), tail)
        return b"##%04d%s%04X\r\n" % (len(segment), segment, hj212_crc(segment))

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

    async def _on_time_get(self, frame: Frame, device: DeviceInfo) -> None:
        system_time = frame.cp.get(SYSTEM_TIME_KEY)
        if system_time is None:  # the device asks for our time
            if frame.qn is None:
                return
            reply = build_frame(
                st=frame.st, cn=CN_TIME_GET, pw=frame.pw, mn=frame.mn, flag=REPLY_FLAG,
                qn=frame.qn, extra={SYSTEM_TIME_KEY: format_timestamp(self._local_now())},
            )  # fmt: skip
            await self._send(reply, "1011_time")
            return
        try:  # the device tells its time, answering our 1011
            device_time = parse_timestamp(system_time, SYSTEM_TIME_KEY)
        except HJ212Error as exc:
            self._bad(exc.message)
            return
        drift = abs((device_time - self._local_now()).total_seconds())
        limit = self.ctx.settings.hj212_time_drift_s
        self.ctx.stats["time_checks"] += 1
        if limit > 0 and drift > limit:
            log.info("hj212 %s: MN %s clock off by %.0f s; setting it", self.peer, frame.mn, drift)
            await self._send_time_set(frame.mn, device.password, frame.st)

    async def _send_time_get(self, device: DeviceInfo, st: str) -> None:
        qn = self.ctx.backfill.new_qn(datetime.now(UTC))
        self.time_requests[qn] = device.mn
        frame = build_frame(
            st=st, cn=CN_TIME_GET, pw=device.password, mn=device.mn, flag=REQUEST_FLAG, qn=qn
        )
        await self._send(frame, "1011_get")

    async def _send_time_set(self, mn: str, pw: str, st: str) -> None:
        qn = self.ctx.backfill.new_qn(datetime.now(UTC))
        self.time_requests[qn] = mn
        frame = build_frame(
            st=st, cn=CN_TIME_SET, pw=pw, mn=mn, flag=REQUEST_FLAG, qn=qn,
            extra={SYSTEM_TIME_KEY: format_timestamp(self._local_now())},
        )  # fmt: skip
        self.ctx.stats["time_sets"] += 1
        await self._send(frame, "1012_set")


def _int(text: str | None) -> int | None:
    return int(text) if text is not None and text.isdigit() else None
