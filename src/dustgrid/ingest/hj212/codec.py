"""Decode HJ 212 frames into :class:`Frame` objects (pure, no I/O).

Times: HJ 212 timestamps (QN, DataTime, BeginTime...) are the *local wall-clock time of the
device*, with no zone in the protocol. :attr:`Frame.data_time` is therefore a naive
``datetime``; the caller attaches the site's city timezone (``dt.replace(tzinfo=...)``).

Speed matters (one server ingests every site). :func:`decode` first offers a frame to the
optional C accelerator (``_speedups.c``, built by ``pip install``), which returns the Frame of
a plain frame and None for anything else. The pure-Python decoder (:func:`decode_python`) is
the reference and the fallback: the envelope CRC is folded with C-level big-integer
operations (see ``crc.py``), the standard header and the CP opening are matched by one regex,
and CP parsing uses per-shape plans (see ``cp.py``); unusual input takes slower paths that
also produce the exact error message.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from .codes import (
    DATETIME_LEN,
    FLAG_ACK,
    FLAG_SPLIT,
    HEADER_TEXT_CLASS,
    HEADER_TEXT_FORBIDDEN,
    MAX_CN_LEN,
    MAX_FLAG,
    MAX_FLAG_DIGITS,
    MAX_MN_LEN,
    MAX_PACKET_DIGITS,
    MAX_PW_LEN,
    MAX_ST_LEN,
    QN_LEN,
    VERSION_SHIFT,
)
from .cp import (
    _FLAG_INFO,
    _TS_CACHE,
    Item,
    _parse_planned,
    classify_key,
    flag_info,
    parse_cp,
    parse_timestamp,
)
from .envelope import CRC_HJ212, as_bytes, unwrap
from .errors import E_CP, E_ENCODING, FieldError, FrameError, HJ212Error

CP_OPEN: Final = "CP=&&"
CP_CLOSE: Final = "&&"
HEADER_KEYS: Final = ("QN", "ST", "CN", "PW", "MN", "Flag", "PNUM", "PNO")
_US_PER_MS: Final = 1000


@dataclass(slots=True)
class Frame:
    """A decoded HJ 212 frame.

    ``flag`` is the raw Flag byte, ``version``/``ack_wanted``/``split`` its decoded bits
    (0 when a 2005-style frame has no Flag); ``data_time`` is naive device-local time (see
    module doc); ``items`` are the CP values; ``cp`` holds every other CP key as text
    (BeginTime, QnRtn, ExeRtn, PolId...); ``crc`` is the checksum variant that matched:
    ``"hj212"``, ``"modbus"`` (only with ``allow_modbus``) or ``"bad"`` (``verify=False``).
    """

    qn: str | None
    st: str
    cn: str
    pw: str
    mn: str
    flag: int
    version: int
    ack_wanted: bool
    split: bool
    pnum: int | None
    pno: int | None
    data_time: datetime | None
    items: list[Item] = field(default_factory=list)
    cp: dict[str, str] = field(default_factory=dict)
    crc: str = CRC_HJ212

    def values(self, kind: str = "rtd", *, valid_only: bool = True) -> dict[str, float]:
        """``{metric: value}`` of one kind; skips unmapped codes and (by default) invalid data."""
        return {
            it.metric: it.value
            for it in self.items
            if it.kind == kind
            and it.metric is not None
            and it.value is not None
            and (it.valid or not valid_only)
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (ISO ``data_time``, items as objects), as printed by the CLI."""
        return {
            "crc": self.crc,
            "qn": self.qn,
            "st": self.st,
            "cn": self.cn,
            "pw": self.pw,
            "mn": self.mn,
            "flag": self.flag,
            "version": self.version,
            "ack_wanted": self.ack_wanted,
            "split": self.split,
            "pnum": self.pnum,
            "pno": self.pno,
            "data_time": self.data_time.isoformat() if self.data_time else None,
            "items": [it._asdict() for it in self.items],
            "cp": dict(self.cp),
        }


# ---------------------------------------------------------------------------------------
# field helpers


def qn_datetime(qn: str) -> datetime:
    """The request time encoded in a QN (``yyyyMMddHHmmssZZZ``), naive device-local."""
    if len(qn) == QN_LEN and qn.isdigit() and qn.isascii():
        try:
            base = parse_timestamp(qn[:DATETIME_LEN], "QN")
        except FieldError:
            pass
        else:
            return base.replace(microsecond=int(qn[DATETIME_LEN:]) * _US_PER_MS)
    raise FieldError(f"bad QN {qn!r} (want yyyyMMddHHmmssZZZ)")


def _check_qn(qn: str) -> None:
    """Validate a QN without building its datetime (hot path: second-level part is cached)."""
    if len(qn) != QN_LEN or not qn.isdigit() or not qn.isascii():
        raise FieldError(f"bad QN {qn!r} (want yyyyMMddHHmmssZZZ)")
    try:
        parse_timestamp(qn[:DATETIME_LEN], "QN")
    except FieldError:
        raise FieldError(f"bad QN {qn!r} (want yyyyMMddHHmmssZZZ)") from None


def _digits(name: str, value: str, max_len: int) -> str:
    if not value.isdigit() or len(value) > max_len:
        raise FieldError(f"bad {name} {value!r} (want 1-{max_len} digits)")
    return value


def _positive(name: str, value: str | None) -> int | None:
    if value is None:
        return None
    if not value.isdigit() or len(value) > MAX_PACKET_DIGITS or int(value) < 1:
        raise FieldError(f"bad {name} {value!r} (want a positive integer)")
    return int(value)


# ---------------------------------------------------------------------------------------
# data segment


def _split_segment(text: str) -> tuple[str, str]:
    """(header part, CP body) of a data segment."""
    i = text.find(CP_OPEN)
    if i < 0:
        raise FieldError("missing CP=&&...&& block", code=E_CP)
    cp = text[i + len(CP_OPEN) :]
    if not cp.endswith(CP_CLOSE):
        cp = cp.rstrip("; \t")  # tolerate "&&;" from sloppy devices
        if not cp.endswith(CP_CLOSE):
            raise FieldError("CP block is not closed by '&&'", code=E_CP)
    return text[:i], cp[: -len(CP_CLOSE)]


def _header_text(value: str) -> bool:
    """PW/MN text the reply builder can send back unchanged (see ``HEADER_TEXT_FORBIDDEN``)."""
    return value.isascii() and value.isprintable() and not set(HEADER_TEXT_FORBIDDEN) & set(value)


Header = tuple[str | None, str, str, str, str, str | None, str | None, str | None]


def _header_reference(head: str) -> Header:
    """(QN, ST, CN, PW, MN, Flag, PNUM, PNO) from ``key=value`` pairs in any order.

    Checks presence and the shape of ST/CN/MN; QN, Flag and PNUM/PNO are checked by the
    caller for both paths.
    """
    parts = [p for p in head.split(";") if p]
    try:
        f: dict[str, str] = dict(p.split("=", 1) for p in parts)
    except ValueError:
        bad = next(p for p in parts if "=" not in p)
        raise FieldError(f"header field {bad!r} is not key=value") from None
    get = f.get
    st, cn, pw, mn = get("ST"), get("CN"), get("PW"), get("MN")
    if st is None or cn is None or pw is None or mn is None:
        named = (("ST", st), ("CN", cn), ("PW", pw), ("MN", mn))
        raise FieldError(f"missing {', '.join(k for k, v in named if v is None)}")
    _digits("ST", st, MAX_ST_LEN)
    _digits("CN", cn, MAX_CN_LEN)
    if not mn or len(mn) > MAX_MN_LEN or not _header_text(mn):
        raise FieldError(
            f"bad MN {mn!r} (want 1-{MAX_MN_LEN} printable ASCII characters, no ';' or '&')"
        )
    if len(pw) > MAX_PW_LEN or not _header_text(pw):
        raise FieldError(
            f"bad PW {pw!r} (want 0-{MAX_PW_LEN} printable ASCII characters, no ';' or '&')"
        )
    return get("QN"), st, cn, pw, mn, get("Flag"), get("PNUM"), get("PNO")


# The standard field order, with the same acceptance as _header_reference (ASCII input).
_STANDARD_HEADER: Final = re.compile(
    rf"(?:QN=([0-9]{{{QN_LEN}}});)?ST=([0-9]{{1,{MAX_ST_LEN}}});CN=([0-9]{{1,{MAX_CN_LEN}}});"
    rf"PW=({HEADER_TEXT_CLASS}{{0,{MAX_PW_LEN}}});MN=({HEADER_TEXT_CLASS}{{1,{MAX_MN_LEN}}});"
    r"(?:Flag=([0-9]{1,3});)?"
    r"(?:PNUM=([0-9]+);PNO=([0-9]+);)?"
)
_match_standard = _STANDARD_HEADER.fullmatch


def _header(head: str) -> Header:
    """Header fields: one regex for the standard order, the reference loop otherwise."""
    m = _match_standard(head)
    if m is None:
        return _header_reference(head)
    return m.groups()  # type: ignore[return-value]


# The standard header plus the CP opening, for the fast path of _parse_text.
_STANDARD_SEGMENT: Final = re.compile(_STANDARD_HEADER.pattern + re.escape(CP_OPEN))
_match_segment = _STANDARD_SEGMENT.match
_CP_OPEN_LEN: Final = len(CP_OPEN)
_CP_CLOSE_LEN: Final = len(CP_CLOSE)


def parse_data_segment(segment: str | bytes, *, crc: str = CRC_HJ212) -> Frame:
    """Parse a data segment (the text between the length field and the CRC)."""
    if isinstance(segment, bytes):
        return _parse_text(_ascii(segment), crc)
    if not segment.isascii():
        raise FrameError("data segment has non-ASCII characters", code=E_ENCODING)
    return _parse_text(segment, crc)


def _ascii(segment: bytes) -> str:
    try:
        return segment.decode("ascii")
    except UnicodeDecodeError as exc:
        raise FrameError(
            f"non-ASCII byte 0x{segment[exc.start]:02X} at data offset {exc.start}",
            code=E_ENCODING,
        ) from None


def _parse_text(text: str, crc: str) -> Frame:
    """Fast path for the usual frame (standard header order, not split, CP closed by "&&");
    everything else, and every error but a bad QN time, goes through the reference path."""
    m = _match_segment(text)
    if m is not None:
        qn, st, cn, pw, mn, flag_text, pnum_text, _ = m.groups()
        end = m.end()
        flag = 0 if flag_text is None else int(flag_text)  # at most 3 digits (regex)
        if (
            pnum_text is None
            and flag <= MAX_FLAG
            and not flag & FLAG_SPLIT
            and text.find(CP_OPEN) == end - _CP_OPEN_LEN  # the first "CP=&&" is this one
            and text.endswith(CP_CLOSE, end)
        ):
            if qn is not None and qn[:DATETIME_LEN] not in _TS_CACHE:
                _check_qn(qn)  # raises exactly as the reference path would
            body = text[end:-_CP_CLOSE_LEN]
            planned = _parse_planned(body) if body else None  # what parse_cp does, inlined
            data_time, items, extra = planned if planned is not None else parse_cp(body)
            if items and data_time is None:
                raise FieldError(f"missing DataTime in CP ({len(items)} items)", code=E_CP)
            return Frame(
                qn,
                st,
                cn,
                pw,
                mn,
                flag,
                flag >> VERSION_SHIFT,
                bool(flag & FLAG_ACK),
                False,
                None,
                None,
                data_time,
                items,
                extra,
                crc,
            )
    return _parse_text_reference(text, crc)


def _parse_text_reference(text: str, crc: str) -> Frame:
    """Every frame shape, in the order of checks that decides which error is reported."""
    head, cp_body = _split_segment(text)
    qn_opt, st, cn, pw, mn, flag_opt, pnum_text, pno_text = _header(head)
    if qn_opt is not None:
        _check_qn(qn_opt)
    if flag_opt is None:
        flag = 0  # HJ/T 212-2005 uploads often omit Flag: version 0, no ack
    elif flag_opt.isdigit() and len(flag_opt) <= MAX_FLAG_DIGITS and int(flag_opt) <= MAX_FLAG:
        flag = int(flag_opt)
    else:
        raise FieldError(f"bad Flag {flag_opt!r} (want 0-{MAX_FLAG})")
    split = bool(flag & FLAG_SPLIT)
    pnum = _positive("PNUM", pnum_text)
    pno = _positive("PNO", pno_text)
    if split:
        if pnum is None or pno is None:
            raise FieldError("Flag marks a split packet but PNUM/PNO is missing")
        if pno > pnum:
            raise FieldError(f"PNO {pno} is greater than PNUM {pnum}")
    data_time, items, extra = parse_cp(cp_body)
    if items and data_time is None:
        raise FieldError(f"missing DataTime in CP ({len(items)} items)", code=E_CP)
    return Frame(
        qn_opt,
        st,
        cn,
        pw,
        mn,
        flag,
        flag >> VERSION_SHIFT,
        bool(flag & FLAG_ACK),
        split,
        pnum,
        pno,
        data_time,
        items,
        extra,
        crc,
    )


def decode_python(
    frame: bytes | bytearray | memoryview | str,
    *,
    allow_modbus: bool = False,
    verify: bool = True,
) -> Frame:
    """The pure-Python :func:`decode`: the reference for the C accelerator, and its fallback."""
    data, variant = unwrap(frame, allow_modbus=allow_modbus, verify=verify)
    return _parse_text(_ascii(data), variant)


def decode(
    frame: bytes | bytearray | memoryview | str,
    *,
    allow_modbus: bool = False,
    verify: bool = True,
) -> Frame:
    """Decode and fully validate one frame; raise :class:`HJ212Error` on anything wrong.

    ``allow_modbus``: accept a CRC-16/MODBUS checksum (``Frame.crc == "modbus"``); decide it
    per device. ``verify=False`` parses despite a CRC mismatch (``crc == "bad"``), for tools.
    """
    if _decode_c is not None:
        found = _decode_c(frame)
        if found is not None:
            return found
    data, variant = unwrap(frame, allow_modbus=allow_modbus, verify=verify)
    return _parse_text(_ascii(data), variant)


def peek(frame: bytes | bytearray | memoryview | str) -> dict[str, str]:
    """Best-effort header fields of a broken frame, for error reports; never raises."""
    try:
        raw = as_bytes(frame)
    except FrameError:
        return {}
    start = raw.find(b"##")
    text = raw[start + 6 if start >= 0 else 0 :].decode("ascii", "replace")
    head = text.split(CP_OPEN, 1)[0]
    out: dict[str, str] = {}
    for part in head.split(";"):
        key, eq, value = part.partition("=")
        if eq and key in HEADER_KEYS:
            out[key] = value
    return out


# ---------------------------------------------------------------------------------------
# the optional C accelerator (``_speedups.c``, built by ``pip install``; see docs/devices.md)


def _load_speedups() -> Callable[[object], Frame | None] | None:
    """``_speedups.decode`` configured with this module's types and helpers, or None.

    It returns the Frame for plain frames and None for everything else, which then takes
    the pure-Python path (:func:`decode_python`, the reference). None when the extension
    was not built (no C compiler at install time): the codec then runs in pure Python.
    """
    try:
        from . import _speedups
    except ImportError:
        return None
    _speedups.configure(
        frame_type=Frame,
        item_type=Item,
        ts_cache=_TS_CACHE,
        parse_timestamp=parse_timestamp,
        check_qn=_check_qn,
        classify_key=classify_key,
        flag_info=flag_info,
        flag_infos=dict(_FLAG_INFO),
        error_type=HJ212Error,
        crc_name=CRC_HJ212,
    )
    return _speedups.decode


_decode_c: Final = _load_speedups()
#: True when :func:`decode` uses the C accelerator for plain frames.
ACCELERATED: Final = _decode_c is not None
