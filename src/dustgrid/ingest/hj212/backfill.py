"""Backfill: ask a device that comes back after a silence for the data it kept meanwhile.

Why: a dust monitor that lost its uplink (power cut, 4G outage) keeps measuring and stores
minute data locally. HJ 212-2017 lets the platform fetch it with a history request (CN 2051
minute data, ``BeginTime``/``EndTime`` in device-local time). The device answers 9011
(``QnRtn``), uploads the 2051 frames - stored like any other upload, at their own data
times, duplicates skipped by the store - and ends with 9012 (``ExeRtn``).

This module holds the decision ("silent longer than ``hj212_backfill_after_minutes``") and
the per-device bookkeeping of pending requests; it does no I/O. The session sends the
request frame; the tracker makes sure one device is not asked twice for the same gap while
a request is outstanding (a device may reconnect several times while it uploads).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from .build import build_history_request, make_qn
from .codes import CN_MINUTE_DATA
from .envelope import CRC_HJ212

#: The history command used for gaps (minute data: the finest a dust monitor keeps).
BACKFILL_CN: Final = CN_MINUTE_DATA
#: QN milliseconds are made unique per request so two requests never share a QN.
_QN_MS_CYCLE: Final = 1000

# Request states
PENDING: Final = "pending"  # sent, no 9011 yet
ACCEPTED: Final = "accepted"  # 9011 QnRtn=1: the device is uploading
DONE: Final = "done"  # 9012 received
REFUSED: Final = "refused"  # 9011 with another QnRtn, or 9012 ExeRtn != 1


@dataclass(slots=True)
class Backfill:
    """One history request to one device."""

    device_id: int
    mn: str
    qn: str
    begin: datetime  # aware UTC
    end: datetime  # aware UTC
    requested_at: datetime  # aware UTC
    state: str = PENDING
    frames: int = 0  # history frames received for it
    result: int | None = None  # QnRtn / ExeRtn of the last answer


@dataclass
class BackfillTracker:
    """Pending history requests per device; the server owns one for all connections."""

    after: timedelta
    max_window: timedelta
    timeout: timedelta
    tz: ZoneInfo
    _by_device: dict[int, Backfill] = field(default_factory=dict)
    _by_qn: dict[str, Backfill] = field(default_factory=dict)
    _counter: itertools.count[int] = field(default_factory=itertools.count)
    history: list[Backfill] = field(default_factory=list)  # finished ones, newest last
    history_max: int = 1000

    def gap_needs_backfill(self, last_seen: datetime | None, now: datetime) -> bool:
        """True when a device last seen at ``last_seen`` has been silent too long."""
        return last_seen is not None and now - last_seen > self.after

    def active(self, device_id: int, now: datetime) -> Backfill | None:
        """The outstanding request for a device (expired ones no longer count)."""
        bf = self._by_device.get(device_id)
        if bf is None or bf.state in (DONE, REFUSED):
            return None
        if now - bf.requested_at > self.timeout:
            self._finish(bf, bf.state)
            return None
        return bf

    def plan(
        self, *, device_id: int, mn: str, last_seen: datetime | None, now: datetime
    ) -> Backfill | None:
        """A new request when the device's silence calls for one and none is outstanding."""
        if not self.gap_needs_backfill(last_seen, now) or self.active(device_id, now):
            return None
        assert last_seen is not None
        begin = max(last_seen, now - self.max_window)
        qn = self.new_qn(now)
        bf = Backfill(device_id, mn, qn, begin, now, now)
        old = self._by_device.get(device_id)
        if old is not None:
            self._by_qn.pop(old.qn, None)
        self._by_device[device_id] = bf
        self._by_qn[qn] = bf
        return bf

    def new_qn(self, now: datetime) -> str:
        """A QN for a server request: device-local ``now``, milliseconds from a counter."""
        local_now = now.astimezone(self.tz).replace(tzinfo=None)
        ms = next(self._counter) % _QN_MS_CYCLE
        return make_qn(local_now.replace(microsecond=ms * 1000))

    def request_frame(self, bf: Backfill, *, pw: str, st: str, crc: str = CRC_HJ212) -> bytes:
        """The 2051 history request for ``bf`` (times converted to device-local), in the
        device's CRC variant."""
        return build_history_request(
            mn=bf.mn,
            pw=pw,
            cn=BACKFILL_CN,
            begin=self._local(bf.begin),
            end=self._local(bf.end),
            qn=bf.qn,
            st=st,
            crc=crc,
        )

    def by_qn(self, qn: str | None) -> Backfill | None:
        return self._by_qn.get(qn) if qn else None

    def on_request_reply(self, qn: str | None, qn_rtn: int | None) -> Backfill | None:
        """9011 from the device: QnRtn 1 means it will upload."""
        bf = self.by_qn(qn)
        if bf is not None:
            bf.result = qn_rtn
            if qn_rtn == 1:
                bf.state = ACCEPTED
            else:
                self._finish(bf, REFUSED)
        return bf

    def on_execution_result(self, qn: str | None, exe_rtn: int | None) -> Backfill | None:
        """9012 from the device: the upload is over."""
        bf = self.by_qn(qn)
        if bf is not None:
            bf.result = exe_rtn
            self._finish(bf, DONE if exe_rtn == 1 else REFUSED)
        return bf

    def on_history_frame(self, device_id: int, data_time: datetime | None) -> None:
        """Count a history upload (2051/2061/2031) against the device's open request."""
        bf = self._by_device.get(device_id)
        if bf is not None and data_time is not None and bf.begin <= data_time <= bf.end:
            bf.frames += 1

    def pending(self) -> list[Backfill]:
        """Requests not yet finished (for status logs and tests)."""
        return [bf for bf in self._by_device.values() if bf.state in (PENDING, ACCEPTED)]

    def _finish(self, bf: Backfill, state: str) -> None:
        bf.state = state
        self._by_qn.pop(bf.qn, None)
        if self._by_device.get(bf.device_id) is bf:
            del self._by_device[bf.device_id]
        self.history.append(bf)
        del self.history[: -self.history_max]

    def _local(self, dt: datetime) -> datetime:
        """Aware UTC -> naive device-local, whole seconds (HJ 212 time fields)."""
        return dt.astimezone(self.tz).replace(tzinfo=None, microsecond=0)


def utc_now() -> datetime:
    return datetime.now(UTC)
