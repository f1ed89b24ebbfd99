"""Decode HJ 212 frames into :class:`Frame` objects (pure, no I/O).

Times: HJ 212 timestamps (QN, DataTime, BeginTime...) are the *local wall-clock time of the
device*, with no zone in the protocol. :attr:`Frame.data_time` is therefore a naive
``datetime``; the caller attaches the site's city timezone (``dt.replace(tzinfo=...)``).

Speed matters (one server ingests every site): the envelope CRC is folded in C (see
``crc.py``), the standard header is matched by one regex, and CP parsing uses per-shape plans
(see ``cp.py``); unusual input takes slower paths that also produce the exact error message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from .codes import (
    DATETIME_LEN,
    FLAG_ACK,
    FLAG_SPLIT,
    MAX_CN_LEN,
    MAX_FLAG,
    MAX_FLAG_DIGITS,
    MAX_MN_LEN,
    MAX_PACKET_DIGITS,
    MAX_ST_LEN,
    QN_LEN,
    VERSION_SHIFT,
)
from .cp import Item, parse_cp, parse_timestamp
from .envelope import CRC_HJ212, as_bytes, unwrap
from .errors import E_CP, E_ENCODING, FieldError, FrameError

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
    if not mn or len(mn) > MAX_MN_LEN:
        raise FieldError(f"bad MN {mn!r} (want 1-{MAX_MN_LEN} characters)")
    return get("QN"), st, cn, pw, mn, get("Flag"), get("PNUM"), get("PNO")


# The standard field order, with the same acceptance as _header_reference (ASCII input).
_STANDARD_HEADER: Final = re.compile(
    rf"(?:QN=([0-9]{{{QN_LEN}}});)?ST=([0-9]{{1,{MAX_ST_LEN}}});CN=([0-9]{{1,{MAX_CN_LEN}}});"
    rf"PW=([^;]*);MN=([^;]{{1,{MAX_MN_LEN}}});(?:Flag=([0-9]{{1,3}});)?"
    r"(?:PNUM=([0-9]+);PNO=([0-9]+);)?"
)
_match_standard = _STANDARD_HEADER.fullmatch


def _header(head: str) -> Header:
    """Header fields: one regex for the standard order, the reference loop otherwise."""
    m = _match_standard(head)
    if m is None:
        return _header_reference(head)
    return m.groups()  # type: ignore[return-value]


def parse_data_segment(segment: str | bytes, *, crc: str = CRC_HJ212) -> Frame:
    """Parse a data segment (the text between the length field and the CRC)."""
    if isinstance(segment, bytes):
        try:
            text = segment.decode("ascii")
        except UnicodeDecodeError as exc:
            raise FrameError(
                f"non-ASCII byte 0x{segment[exc.start]:02X} at data offset {exc.start}",
                code=E_ENCODING,
            ) from None
    elif not segment.isascii():
        raise FrameError("data segment has non-ASCII characters", code=E_ENCODING)
    else:
        text = segment
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
    data, variant = unwrap(frame, allow_modbus=allow_modbus, verify=verify)
    return parse_data_segment(data, crc=variant)


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
