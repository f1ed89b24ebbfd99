"""Builders: what we send (replies, requests) and what the simulator/tests send.

"Answer strictly": every builder validates its inputs and emits exactly the standard form
(field order QN;ST;CN;PW;MN;Flag[;PNUM;PNO];CP=&&...&&, uppercase CRC, CRLF), raising
:class:`BuildError` rather than producing something a strict peer could reject.

Times are naive device-local datetimes (see ``codec``); aware ones are refused so a UTC
value cannot slip through unconverted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from math import isfinite
from typing import Final, Protocol

from .codec import Frame, qn_datetime
from .codes import (
    CN_DATA_REPLY,
    CN_EXECUTION_RESULT,
    CN_REQUEST_REPLY,
    CN_RTD_DATA,
    CN_TIME_GET,
    CN_TIME_SET,
    DATA_FLAGS,
    EXE_RTN_SUCCESS,
    FLAG_SPLIT,
    FLAG_SUFFIX,
    HEADER_TEXT_FORBIDDEN,
    HISTORY_CNS,
    MAX_CN_LEN,
    MAX_FLAG,
    MAX_MN_LEN,
    MAX_PW_LEN,
    MAX_ST_LEN,
    QN_RTN_READY,
    REPLY_FLAG,
    REQUEST_FLAG,
    ST_DUST,
    ST_SYSTEM,
    SUFFIX_OF_KIND,
)
from .cp import DATA_TIME_KEY
from .envelope import CRC_HJ212, CRC_MODBUS, wrap
from .errors import BuildError, FieldError

_FORBIDDEN: Final = frozenset(";,=&\r\n#")  # separators that would corrupt the segment
_US_PER_MS: Final = 1000
_TS_FORMAT: Final = "%Y%m%d%H%M%S"
_MIN_YEAR: Final = 1000  # 4-digit years only: HJ 212 timestamps are fixed width


class ItemLike(Protocol):
    """What builders need of an item; :class:`~.cp.Item` and :class:`DataItem` both fit."""

    @property
    def code(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def value(self) -> float | str | None: ...
    @property
    def flag(self) -> str | None: ...


class DataItem:
    """A value to send: ``value`` may be a preformatted numeric string (fixes decimals)."""

    __slots__ = ("code", "kind", "value", "flag")

    def __init__(
        self, code: str, kind: str = "rtd", value: float | str | None = None, flag: str | None = "N"
    ) -> None:
        self.code, self.kind, self.value, self.flag = code, kind, value, flag

    def __repr__(self) -> str:
        return f"DataItem({self.code!r}, {self.kind!r}, {self.value!r}, {self.flag!r})"


def format_timestamp(dt: datetime) -> str:
    """Naive device-local datetime -> ``yyyyMMddHHmmss``."""
    if dt.tzinfo is not None:
        raise BuildError("HJ 212 times are device-local: pass a naive datetime")
    if dt.year < _MIN_YEAR:
        raise BuildError(f"year {dt.year} does not fit yyyy")
    return dt.strftime(_TS_FORMAT)


def make_qn(dt: datetime) -> str:
    """QN (``yyyyMMddHHmmssZZZ``) for a naive device-local request time."""
    return f"{format_timestamp(dt)}{dt.microsecond // _US_PER_MS:03d}"


def format_value(value: float | str | None) -> str:
    """Render a value without exponent notation, round-tripping floats exactly."""
    if value is None:
        return ""
    if isinstance(value, str):
        try:
            ok = isfinite(float(value))
        except ValueError:
            ok = False
        if not ok or _FORBIDDEN.intersection(value) or value != value.strip():
            raise BuildError(f"value {value!r} is not a plain finite number")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BuildError(f"value {value!r} is not a number")
    if isinstance(value, int):
        return str(value)
    if not isfinite(value):
        raise BuildError(f"value {value!r} is not finite")
    text = repr(value)
    return text if "e" not in text else format(Decimal(text), "f")


def _text(name: str, value: str, max_len: int, *, digits: bool = False) -> str:
    if not value or len(value) > max_len or not value.isascii():
        raise BuildError(f"{name} {value!r} must be 1-{max_len} ASCII characters")
    if digits and not value.isdigit():
        raise BuildError(f"{name} {value!r} must be digits")
    if _FORBIDDEN.intersection(value) or not value.isprintable():
        raise BuildError(f"{name} {value!r} contains a separator or control character")
    return value


def _header_text(name: str, value: str, max_len: int, *, min_len: int) -> str:
    """PW and MN: what the decoder accepts (``codes.HEADER_TEXT_FORBIDDEN``), so a reply
    can always repeat the device's own PW and MN."""
    if not min_len <= len(value) <= max_len or not value.isascii() or not value.isprintable():
        raise BuildError(f"{name} {value!r} must be {min_len}-{max_len} printable ASCII characters")
    if set(HEADER_TEXT_FORBIDDEN) & set(value):
        raise BuildError(f"{name} {value!r} contains a separator (';' or '&')")
    return value


def _cp_value(key: str, value: str) -> str:
    if not value.isascii() or _FORBIDDEN.intersection(value) or not value.isprintable():
        raise BuildError(f"CP value {value!r} of {key} contains a separator or non-ASCII")
    return value


def _extra_parts(extra: Mapping[str, str]) -> list[str]:
    """The validated ``key=value`` texts of the other CP keys, in order. Split off
    :func:`cp_text` (called once per frame, not per item) to keep its item loop readable."""
    parts: list[str] = []
    for key, value in extra.items():
        if key == DATA_TIME_KEY:
            raise BuildError("pass DataTime as data_time, not in extra")
        parts.append(f"{_text('CP key', key, 64)}={_cp_value(key, value)}")
    return parts


def cp_text(
    data_time: datetime | None = None,
    items: Iterable[ItemLike] = (),
    extra: Mapping[str, str] | None = None,
) -> str:
    """The inside of ``CP=&&...&&``: DataTime, other keys, then one group per pollutant."""
    parts: list[str] = []
    if data_time is not None:
        parts.append(f"{DATA_TIME_KEY}={format_timestamp(data_time)}")
    if extra:
        parts.extend(_extra_parts(extra))
    groups: dict[str, list[str]] = {}
    flags: dict[str, str | None] = {}
    seen: set[tuple[str, str]] = set()
    for it in items:
        code = _text("code", it.code, 64)
        suffix = SUFFIX_OF_KIND.get(it.kind)
        if suffix is None:
            raise BuildError(
                f"unknown item kind {it.kind!r} (want one of {sorted(SUFFIX_OF_KIND)})"
            )
        if (code, it.kind) in seen:
            raise BuildError(f"{code}-{suffix} given twice")
        seen.add((code, it.kind))
        if code in flags and flags[code] != it.flag:
            raise BuildError(f"{code} has two different flags {flags[code]!r}/{it.flag!r}")
        if it.flag is not None and it.flag not in DATA_FLAGS:
            raise BuildError(f"unknown data flag {it.flag!r} for {code}")
        flags[code] = it.flag
        groups.setdefault(code, []).append(f"{code}-{suffix}={format_value(it.value)}")
    for code, fields in groups.items():
        if flags[code] is not None:
            fields.append(f"{code}-{FLAG_SUFFIX}={flags[code]}")
        parts.append(",".join(fields))
    return ";".join(parts)


def build_segment(
    *,
    st: str,
    cn: str,
    pw: str,
    mn: str,
    flag: int,
    cp: str,
    qn: str | None = None,
    pnum: int | None = None,
    pno: int | None = None,
) -> str:
    """A validated data segment in standard field order."""
    head = []
    if qn is not None:
        try:
            qn_datetime(qn)
        except FieldError:
            raise BuildError(f"QN {qn!r} must be a valid yyyyMMddHHmmssZZZ") from None
        head.append(f"QN={qn}")
    head.append(f"ST={_text('ST', st, MAX_ST_LEN, digits=True)}")
    head.append(f"CN={_text('CN', cn, MAX_CN_LEN, digits=True)}")
    head.append(f"PW={_header_text('PW', pw, MAX_PW_LEN, min_len=0)}")
    head.append(f"MN={_header_text('MN', mn, MAX_MN_LEN, min_len=1)}")
    if isinstance(flag, bool) or not isinstance(flag, int) or not 0 <= flag <= MAX_FLAG:
        raise BuildError(f"Flag {flag!r} must be an integer 0-{MAX_FLAG}")
    head.append(f"Flag={flag}")
    if bool(flag & FLAG_SPLIT) != (pnum is not None and pno is not None):
        raise BuildError("PNUM/PNO must be given exactly when Flag has the split bit (2)")
    if pnum is not None and pno is not None:
        if not (isinstance(pnum, int) and isinstance(pno, int) and 1 <= pno <= pnum):
            raise BuildError(f"PNO {pno} must be within 1..PNUM {pnum}")
        head += [f"PNUM={pnum}", f"PNO={pno}"]
    return ";".join(head) + f";CP=&&{cp}&&"


def build_frame(
    *,
    st: str,
    cn: str,
    pw: str,
    mn: str,
    flag: int = REQUEST_FLAG,
    qn: str | None = None,
    data_time: datetime | None = None,
    items: Iterable[ItemLike] = (),
    extra: Mapping[str, str] | None = None,
    pnum: int | None = None,
    pno: int | None = None,
    crc: str = CRC_HJ212,
) -> bytes:
    """Any frame from its parts (the general builder the others use); ``crc`` is the
    variant of the checksum (``envelope.CRC_HJ212`` or ``CRC_MODBUS``)."""
    cp = cp_text(data_time, items, extra)
    segment = build_segment(st=st, cn=cn, pw=pw, mn=mn, flag=flag, cp=cp, qn=qn, pnum=pnum, pno=pno)
    return wrap(segment, crc)


def build_data_frame(
    *,
    mn: str,
    pw: str,
    data_time: datetime,
    items: Iterable[ItemLike],
    st: str = ST_DUST,
    cn: str = CN_RTD_DATA,
    qn: str | None = None,
    flag: int = REQUEST_FLAG,
    extra: Mapping[str, str] | None = None,
    pnum: int | None = None,
    pno: int | None = None,
    crc: str = CRC_HJ212,
) -> bytes:
    """A data upload (2011/2051/2061/2031), as a device or the simulator sends it.

    ``qn`` defaults to one derived from ``data_time`` (deterministic, for tests).
    """
    return build_frame(
        st=st,
        cn=cn,
        pw=pw,
        mn=mn,
        flag=flag,
        qn=make_qn(data_time) if qn is None else qn,
        data_time=data_time,
        items=items,
        extra=extra,
        pnum=pnum,
        pno=pno,
        crc=crc,
    )


def encode(frame: Frame) -> bytes:
    """Re-encode a decoded :class:`Frame` in strict standard form."""
    return build_frame(
        st=frame.st,
        cn=frame.cn,
        pw=frame.pw,
        mn=frame.mn,
        flag=frame.flag,
        qn=frame.qn,
        data_time=frame.data_time,
        items=frame.items,
        extra=frame.cp,
        pnum=frame.pnum,
        pno=frame.pno,
    )


def reply_crc(to: Frame) -> str:
    """The CRC variant of a reply: the one the device used (a Modbus-CRC device rejects
    a reply with the standard's CRC, and the other way round)."""
    return CRC_MODBUS if to.crc == CRC_MODBUS else CRC_HJ212


def _reply(to: Frame, cn: str, extra: Mapping[str, str] | None) -> bytes:
    """A reply repeats the device's QN, PW and MN and answers in its CRC variant."""
    if to.qn is None:
        raise BuildError(f"cannot answer MN {to.mn} CN {to.cn}: the frame has no QN")
    return build_frame(
        st=ST_SYSTEM, cn=cn, pw=to.pw, mn=to.mn, flag=REPLY_FLAG, qn=to.qn, extra=extra,
        crc=reply_crc(to),
    )  # fmt: skip


def build_data_reply(to: Frame) -> bytes:
    """9014 data reply: same QN/PW/MN, ST=91, Flag=4 (2017, no ack), empty CP."""
    return _reply(to, CN_DATA_REPLY, None)


def build_request_reply(to: Frame, qn_rtn: int = QN_RTN_READY) -> bytes:
    """9011 request reply (``QnRtn``), sent by the device side on a server request."""
    return _reply(to, CN_REQUEST_REPLY, {"QnRtn": str(qn_rtn)})


def build_execution_result(to: Frame, exe_rtn: int = EXE_RTN_SUCCESS) -> bytes:
    """9012 execution result (``ExeRtn``), sent when a server request has been executed."""
    return _reply(to, CN_EXECUTION_RESULT, {"ExeRtn": str(exe_rtn)})


def build_history_request(
    *,
    mn: str,
    pw: str,
    cn: str,
    begin: datetime,
    end: datetime,
    qn: str,
    st: str = ST_DUST,
    flag: int = REQUEST_FLAG,
    crc: str = CRC_HJ212,
) -> bytes:
    """Server asks a device to re-send minute/hour/day data (CN 2051/2061/2031)."""
    if cn not in HISTORY_CNS:
        raise BuildError(f"CN {cn} is not a history command (want one of {sorted(HISTORY_CNS)})")
    if begin > end:
        raise BuildError(f"BeginTime {begin} is after EndTime {end}")
    extra = {"BeginTime": format_timestamp(begin), "EndTime": format_timestamp(end)}
    return build_frame(st=st, cn=cn, pw=pw, mn=mn, flag=flag, qn=qn, extra=extra, crc=crc)


def build_time_set(
    *,
    mn: str,
    pw: str,
    system_time: datetime,
    qn: str,
    st: str = ST_DUST,
    pol_id: str | None = None,
    flag: int = REQUEST_FLAG,
) -> bytes:
    """1012 set the device clock (``SystemTime``, device-local; optional ``PolId``)."""
    extra = {"PolId": pol_id} if pol_id else {}
    extra["SystemTime"] = format_timestamp(system_time)
    return build_frame(st=st, cn=CN_TIME_SET, pw=pw, mn=mn, flag=flag, qn=qn, extra=extra)


def build_time_get(
    *, mn: str, pw: str, qn: str, st: str = ST_DUST, pol_id: str | None = None
) -> bytes:
    """1011 read the device clock (optional ``PolId``)."""
    extra = {"PolId": pol_id} if pol_id else None
    return build_frame(st=st, cn=CN_TIME_GET, pw=pw, mn=mn, flag=REQUEST_FLAG, qn=qn, extra=extra)
