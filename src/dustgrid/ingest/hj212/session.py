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
``hj212_log_every_s`` (:class:`~.loglimit.LogLimiter`); the rest are counted (``log_suppressed``) in
the periodic stats line, next to the per-reason counters.

All outgoing bytes go through one ordered queue per connection (the transport side,
:class:`~.connection.FrameConnection`, which this class extends): an entry may wait on a
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
session once, which writes every reply that is due in one ``write``. The frames the
session sends are built in :mod:`.replies`.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Final, Self

from .build import (
    build_request_reply,
)
from .codec import Frame, decode
from .codes import (
    CN_DATA_REPLY,
    CN_EXECUTION_RESULT,
    CN_NOTIFY_REPLY,
    CN_REQUEST_REPLY,
    CN_TIME_GET,
    DATA_CNS,
    HISTORY_CNS,
    STATUS_UPLOAD_CNS,
)
from .connection import FrameConnection, IngestContext
from .cp import parse_timestamp
from .devicecache import DeviceInfo
from .envelope import CRC_HJ212, CRC_MODBUS
from .errors import HJ212Error, StreamError
from .replies import (
    SYSTEM_TIME_KEY,
    DataReplies,
    format_data_time,
    time_get_request,
    time_reply,
    time_set_request,
)

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
MAX_SPLIT_PARTIALS: Final = 64  # incomplete split packets held per connection
MAX_REJECTS: Final = 100  # rejected frames (MN/PW/CRC variant) before we hang up


#: Why a frame is refused: (quarantine reason, 9011 QnRtn or None for no reply)
_Refusal = tuple[str, int | None]
_UNKNOWN_MN: Final[_Refusal] = ("unknown_mn", QN_RTN_MN_ERROR)
_BAD_PASSWORD: Final[_Refusal] = ("bad_password", QN_RTN_PW_ERROR)
_CRC_VARIANT: Final[_Refusal] = ("crc_variant", None)


class Hj212Session(FrameConnection):
    """The HJ 212 protocol of one TCP connection (see module docstring); the transport,
    the ordered reply queue and flow control are :class:`~.connection.FrameConnection`'s.
    """

    def __init__(self, ctx: IngestContext, registry: set[Self] | None = None) -> None:
        super().__init__(ctx, registry)
        self.devices: dict[str, DeviceInfo] = {}  # MNs that authenticated on this connection
        self.time_requests: dict[str, str] = {}  # QN of our 1011/1012 -> MN
        self._replies = DataReplies()  # 9014 templates per (MN, PW, CRC)
        self.crc_of: dict[str, str] = {}  # MN -> CRC variant its last accepted frame used
        self._flag_tasks: set[asyncio.Task[bool]] = set()  # time flags being written
        self.rejects = 0

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
        """The 9014 of ``frame`` (:class:`~.replies.DataReplies`: a per-device template)."""
        return self._replies.data_reply(frame)

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
            self._queue(time_reply(frame, self._local_now()), "1011_time")
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
        frame = time_get_request(
            mn=device.mn, pw=device.password, st=st, qn=qn, crc=self._crc_for(device)
        )
        self._queue(frame, "1011_get")

    def _send_time_set(self, device: DeviceInfo, st: str) -> None:
        qn = self.ctx.backfill.new_qn(datetime.now(UTC))
        self.time_requests[qn] = device.mn
        frame = time_set_request(
            mn=device.mn, pw=device.password, st=st, qn=qn, local_now=self._local_now(),
            crc=self._crc_for(device),
        )  # fmt: skip
        self.ctx.stats["time_sets"] += 1
        self._queue(frame, "1012_set")


def _int(text: str | None) -> int | None:
    return int(text) if text is not None and text.isdigit() else None
