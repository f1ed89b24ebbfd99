"""The frames the HJ 212 listener sends: 9014 data replies (templated per device), the
1011 time answer and the 1011/1012 time requests. Pure: bytes out, no I/O."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from .build import build_data_reply, build_frame, format_timestamp, reply_crc
from .codec import Frame
from .codes import CN_TIME_GET, CN_TIME_SET, REPLY_FLAG, REQUEST_FLAG
from .crc import hj212_crc, modbus_crc
from .envelope import CRC_HJ212

SYSTEM_TIME_KEY: Final = "SystemTime"
QN_LEN: Final = 17  # yyyyMMddHHmmssZZZ


class DataReplies:
    """``build_data_reply(frame)``, from a per-device template after the first one.

    A 9014 differs from the device's previous one only in its QN (17 digits, so the length
    field does not change either): the first reply is built and checked by the builder,
    and its bytes after the QN are reused with a fresh CRC (~4x cheaper, on the event loop
    for every frame). One per connection."""

    __slots__ = ("_tails",)

    def __init__(self) -> None:
        self._tails: dict[tuple[str, str, str], bytes] = {}  # (MN, PW, CRC) -> 9014 tail

    def data_reply(self, frame: Frame) -> bytes:
        qn = frame.qn
        crc = reply_crc(frame)
        key = (frame.mn, frame.pw, crc)
        tail = self._tails.get(key)
        if tail is None or qn is None or len(qn) != QN_LEN:
            reply = build_data_reply(frame)
            if qn is not None and len(qn) == QN_LEN and reply.startswith(b"QN=", 6):
                self._tails[key] = reply[6 + 3 + QN_LEN : -6]
            return reply
        segment = b"QN=%s%s" % (qn.encode("ascii"), tail)
        check = hj212_crc(segment) if crc == CRC_HJ212 else modbus_crc(segment)
        return b"##%04d%s%04X\r\n" % (len(segment), segment, check)


def time_reply(frame: Frame, local_now: datetime) -> bytes:
    """Our answer to a device's 1011 asking for our time (``frame.qn`` must be set)."""
    return build_frame(
        st=frame.st, cn=CN_TIME_GET, pw=frame.pw, mn=frame.mn, flag=REPLY_FLAG,
        qn=frame.qn, extra={SYSTEM_TIME_KEY: format_timestamp(local_now)},
        crc=reply_crc(frame),
    )  # fmt: skip


def time_get_request(*, mn: str, pw: str, st: str, qn: str, crc: str) -> bytes:
    """Our 1011 asking a device for its clock."""
    return build_frame(
        st=st, cn=CN_TIME_GET, pw=pw, mn=mn, flag=REQUEST_FLAG, qn=qn,
        crc=crc,
    )  # fmt: skip


def time_set_request(*, mn: str, pw: str, st: str, qn: str, local_now: datetime, crc: str) -> bytes:
    """Our 1012 setting a device's clock to ``local_now``."""
    return build_frame(
        st=st, cn=CN_TIME_SET, pw=pw, mn=mn, flag=REQUEST_FLAG, qn=qn,
        extra={SYSTEM_TIME_KEY: format_timestamp(local_now)},
        crc=crc,
    )  # fmt: skip


def format_data_time(frame: Frame) -> str:
    """The frame's DataTime as the device sent it (``yyyyMMddHHmmss``)."""
    local = frame.data_time
    return "" if local is None else f"{local.year:04d}{local:%m%d%H%M%S}"
