"""One simulated dust monitor: a TCP client that speaks HJ 212-2017 like a field device.

It sends a 2011 real-time frame every ``interval`` seconds (Flag=5: 9014 wanted), waits for
the 9014 and resends on timeout (``ACK_RETRIES`` times, as data loggers do), answers the
server's requests - 2051/2061 history (9011, the history frames, 9012), 1011 time get and
1012 time set - and injects the faults it is told to (see :class:`Faults`). Times on the
wire are device-local (naive), the model runs on its own clock (``speedup``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from dustgrid.ingest.hj212 import (
    DataItem,
    Frame,
    FrameSplitter,
    HJ212Error,
    build_data_frame,
    build_execution_result,
    build_frame,
    build_request_reply,
    decode,
    format_timestamp,
    make_qn,
    modbus_crc,
)
from dustgrid.ingest.hj212.codes import (
    CN_DATA_REPLY,
    CN_MINUTE_DATA,
    CN_REQUEST_REPLY,
    CN_TIME_GET,
    CN_TIME_SET,
    FLAG_SPLIT,
    HISTORY_CNS,
    REQUEST_FLAG,
)

from .model import SiteModel, in_unit

log = logging.getLogger("dustgrid.simulator")

ACK_RETRIES: Final = 3
ACK_TIMEOUT_MAX_S: Final = 10.0
RECONNECT_S: Final = (1.0, 5.0)
HISTORY_MAX_MINUTES: Final = 24 * 60
HISTORY_ACK_WAIT_S: Final = 30.0
GARBAGE_BYTES: Final = (3, 40)
SPLIT_PAUSE_S: Final = (0.005, 0.05)


@dataclass(frozen=True)
class Faults:
    """Probabilities (per frame) of each injected fault; ``silence_s`` is a silence's length."""

    garbage: float = 0.0
    bad_crc: float = 0.0
    split: float = 0.0
    split_packets: float = 0.0
    duplicates: float = 0.0
    out_of_order: float = 0.0
    silence_reconnect: float = 0.0
    silence_s: float = 900.0
    modbus_crc: float = 0.0


@dataclass(frozen=True)
class DeviceSpec:
    mn: str
    password: str
    unit: str = "ug/m3"
    modbus: bool = False  # the device always uses CRC-16/MODBUS
    seed: int = 0


@dataclass
class SimDevice:
    spec: DeviceSpec
    model: SiteModel
    host: str
    port: int
    interval: float
    speedup: float
    faults: Faults
    tz: ZoneInfo
    rng: random.Random
    stats: Counter[str] = field(default_factory=Counter)
    acked: list[datetime] = field(default_factory=list)  # data times of acked uploads
    clock_offset: timedelta = timedelta(0)  # device clock error (1012 resets it)
    _started: datetime = field(default_factory=lambda: datetime.now(UTC))
    _acks: dict[str, asyncio.Future[bool]] = field(default_factory=dict)
    _writer: asyncio.StreamWriter | None = None
    _held: bytes | None = None
    _seq: int = 0

    # -- clocks --------------------------------------------------------------------------

    def local_now(self) -> datetime:
        now = datetime.now(UTC) + self.clock_offset
        return now.astimezone(self.tz).replace(tzinfo=None)

    def model_time(self, local: datetime) -> datetime:
        """The model's (accelerated) time for a device-local wall time."""
        start = self._started.astimezone(self.tz).replace(tzinfo=None)
        return start + (local - start) * self.speedup

    def _qn(self, local: datetime) -> str:
        self._seq += 1
        return make_qn(local.replace(microsecond=(self._seq % 1000) * 1000))

    # -- frames ------------------------------------------------------------------------

    def items(self, local: datetime, kind: str = "rtd", sample: object = 0) -> list[DataItem]:
        values = self.model.values(self.model_time(local), sample=sample)
        return [
            DataItem(code, kind, in_unit(code, value, self.spec.unit))
            for code, value in values.items()
        ]

    def rtd_frame(self, local: datetime) -> tuple[str, datetime, list[bytes]]:
        """(QN, DataTime, wire frames) of one real-time upload: a frame or PNUM/PNO parts."""
        data_time = local.replace(microsecond=0)
        qn = self._qn(local)
        items = self.items(data_time)
        if self.rng.random() < self.faults.split_packets:
            half = len(items) // 2
            parts = [items[:half], items[half:]]
            frames = [
                build_data_frame(
                    mn=self.spec.mn,
                    pw=self.spec.password,
                    data_time=data_time,
                    items=part,
                    qn=qn,
                    flag=REQUEST_FLAG | FLAG_SPLIT,
                    pnum=len(parts),
                    pno=i + 1,
                )  # fmt: skip
                for i, part in enumerate(parts)
            ]
            self.stats["split_packets"] += 1
        else:
            frames = [
                build_data_frame(
                    mn=self.spec.mn, pw=self.spec.password, data_time=data_time, items=items, qn=qn
                )
            ]
        return qn, data_time, [self._crc(f) for f in frames]

    def history_frames(self, cn: str, begin: datetime, end: datetime) -> list[tuple[str, bytes]]:
        """What the device stored for [begin, end]: minute (or hour) avg/min/max frames."""
        step = timedelta(minutes=1) if cn == CN_MINUTE_DATA else timedelta(hours=1)
        t = begin.replace(second=0, microsecond=0)
        if t < begin:
            t += step
        out: list[tuple[str, bytes]] = []
        while t <= end and len(out) < HISTORY_MAX_MINUTES:
            avg = self.items(t, "avg")
            low = self.items(t, "min", "min")
            high = self.items(t, "max", "max")
            items: list[DataItem] = []
            for a, lo, hi in zip(avg, low, high, strict=True):
                lo.value, hi.value = _ordered(lo.value, a.value, hi.value)
                items += [a, lo, hi]
            qn = self._qn(self.local_now())
            frame = build_data_frame(
                mn=self.spec.mn, pw=self.spec.password, data_time=t, items=items, cn=cn, qn=qn
            )
            out.append((qn, self._crc(frame)))
            t += step
        return out

    def _crc(self, frame: bytes, *, force_modbus: bool = False) -> bytes:
        if self.spec.modbus or force_modbus:
            data = frame[6:-6]
            return frame[:-6] + b"%04X\r\n" % modbus_crc(data)
        return frame

    # -- connection --------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Connect, send, reconnect after errors or silences, until ``stop`` is set."""
        while not stop.is_set():
            try:
                reader, writer = await asyncio.open_connection(self.host, self.port)
            except OSError:
                self.stats["connect_failures"] += 1
                await _sleep_or_stop(stop, self.rng.uniform(*RECONNECT_S))
                continue
            self.stats["connects"] += 1
            self._writer = writer
            listener = asyncio.create_task(self._listen(reader))
            try:
                silence = await self._send_loop(stop, listener)
            except (ConnectionError, OSError):
                self.stats["connection_lost"] += 1
                silence = 0.0
            finally:
                listener.cancel()
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()
                self._writer = None
                for fut in self._acks.values():
                    fut.cancel()
                self._acks.clear()
            if silence:
                log.info("%s: silent for %.0f s", self.spec.mn, silence)
                await _sleep_or_stop(stop, silence)
            elif not stop.is_set():
                await _sleep_or_stop(stop, self.rng.uniform(*RECONNECT_S))

    async def _send_loop(self, stop: asyncio.Event, listener: asyncio.Task[None]) -> float:
        """Real-time uploads until stop; returns a silence length when one is due."""
        while not stop.is_set() and not listener.done():
            qn, data_time, frames = self.rtd_frame(self.local_now())
            if self._held is None and self.rng.random() < self.faults.out_of_order:
                self._held = b"".join(frames)  # sent after the next one; no ack wait
                self.stats["held_back"] += 1
            else:
                await self.upload(qn, frames, data_time)
                if self._held is not None:
                    await self._write(self._held)
                    self._held = None
            if self.rng.random() < self.faults.silence_reconnect:
                self.stats["silences"] += 1
                return self.faults.silence_s
            await _sleep_or_stop(stop, self.interval)
        return 0.0

    async def upload(self, qn: str, frames: list[bytes], data_time: datetime | None = None) -> bool:
        """Send one upload and wait for its 9014, resending on timeout."""
        timeout = min(ACK_TIMEOUT_MAX_S, max(1.0, self.interval))
        for attempt in range(ACK_RETRIES + 1):
            fut = self._acks[qn] = asyncio.get_running_loop().create_future()
            for frame in frames:
                await self._write(self._faulty(frame) if attempt == 0 else frame)
                if attempt == 0 and self.rng.random() < self.faults.duplicates:
                    self.stats["duplicates"] += 1
                    await self._write(frame)
            self.stats["frames_sent"] += len(frames)
            try:
                if await asyncio.wait_for(fut, timeout):
                    self.stats["acked"] += 1
                    if data_time is not None:
                        self.acked.append(data_time)
                    return True
                self.stats["refused"] += 1
                return False
            except TimeoutError:
                self.stats["ack_timeouts"] += 1
            finally:
                self._acks.pop(qn, None)
        return False

    def _faulty(self, frame: bytes) -> bytes:
        f = self.faults
        if self.rng.random() < f.bad_crc:
            self.stats["bad_crc"] += 1
            crc = frame[-6:-2]
            frame = frame[:-6] + (b"0000" if crc != b"0000" else b"FFFF") + b"\r\n"
        elif not self.spec.modbus and self.rng.random() < f.modbus_crc:
            self.stats["modbus_crc"] += 1
            frame = self._crc(frame, force_modbus=True)
        if self.rng.random() < f.garbage:
            self.stats["garbage"] += 1
            junk = bytes(self.rng.randrange(256) for _ in range(self.rng.randint(*GARBAGE_BYTES)))
            frame = junk.replace(b"#", b"?") + frame
        return frame

    async def _write(self, data: bytes) -> None:
        writer = self._writer
        if writer is None:
            raise ConnectionError("not connected")
        if len(data) > 8 and self.rng.random() < self.faults.split:
            self.stats["tcp_splits"] += 1
            cuts = sorted(self.rng.sample(range(1, len(data)), min(2, len(data) - 1)))
            for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True):
                writer.write(data[a:b])
                await writer.drain()
                await asyncio.sleep(self.rng.uniform(*SPLIT_PAUSE_S))
            return
        writer.write(data)
        await writer.drain()

    # -- what the server sends --------------------------------------------------------------

    async def _listen(self, reader: asyncio.StreamReader) -> None:
        splitter = FrameSplitter()
        while True:
            data = await reader.read(65536)
            if not data:
                return
            for raw in splitter.feed(data):
                if isinstance(raw, HJ212Error):
                    continue
                try:
                    frame = decode(raw, allow_modbus=True)
                except HJ212Error:
                    self.stats["bad_from_server"] += 1
                    continue
                await self._on_server_frame(frame)

    async def _on_server_frame(self, frame: Frame) -> None:
        fut = self._acks.get(frame.qn or "")
        if frame.cn == CN_DATA_REPLY:
            if fut is not None and not fut.done():
                fut.set_result(True)
        elif frame.cn == CN_REQUEST_REPLY:  # 9011 to an upload: refused (PW, MN ...)
            self.stats[f"qnrtn_{frame.cp.get('QnRtn')}"] += 1
            if fut is not None and not fut.done():
                fut.set_result(False)
        elif frame.cn in HISTORY_CNS:
            asyncio.create_task(self._answer_history(frame))
        elif frame.cn == CN_TIME_GET and "SystemTime" not in frame.cp:
            await self._answer_time_get(frame)
        elif frame.cn == CN_TIME_SET:
            await self._answer_time_set(frame)

    async def _answer_history(self, req: Frame) -> None:
        try:
            begin = _parse(req.cp["BeginTime"])
            end = _parse(req.cp["EndTime"])
        except (KeyError, ValueError):
            await self._write(self._crc(build_request_reply(req, 2)))
            return
        self.stats["history_requests"] += 1
        await self._write(self._crc(build_request_reply(req, 1)))
        frames = self.history_frames(req.cn, begin, end)
        loop = asyncio.get_running_loop()
        waits = []
        for qn, frame in frames:
            fut = self._acks[qn] = loop.create_future()
            waits.append(fut)
            await self._write(frame)
        self.stats["history_frames"] += len(frames)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*waits), HISTORY_ACK_WAIT_S)
        for qn, _ in frames:
            self._acks.pop(qn, None)
        await self._write(self._crc(build_execution_result(req, 1)))
        log.info(
            "%s: answered history %s..%s with %d frames", self.spec.mn, begin, end, len(frames)
        )

    async def _answer_time_get(self, req: Frame) -> None:
        await self._write(self._crc(build_request_reply(req, 1)))
        now = format_timestamp(self.local_now().replace(microsecond=0))
        answer = build_frame(
            st=req.st, cn=CN_TIME_GET, pw=self.spec.password, mn=self.spec.mn, flag=4,
            qn=req.qn, extra={"SystemTime": now},
        )  # fmt: skip
        await self._write(self._crc(answer))
        await self._write(self._crc(build_execution_result(req, 1)))

    async def _answer_time_set(self, req: Frame) -> None:
        await self._write(self._crc(build_request_reply(req, 1)))
        try:
            wanted = _parse(req.cp["SystemTime"])
        except (KeyError, ValueError):
            await self._write(self._crc(build_execution_result(req, 2)))
            return
        self.clock_offset += wanted - self.local_now().replace(microsecond=0)
        self.stats["time_set"] += 1
        await self._write(self._crc(build_execution_result(req, 1)))


def _parse(text: str) -> datetime:
    return datetime.strptime(text, "%Y%m%d%H%M%S")  # noqa: DTZ007 - HJ 212 local time


def _ordered(lo: object, mid: object, hi: object) -> tuple[float, float]:
    vals = sorted(float(v) for v in (lo, mid, hi) if isinstance(v, int | float))
    return vals[0], vals[-1]


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
