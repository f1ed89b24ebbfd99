"""Decode HJ 212 frames into :class:`Frame` objects (pure, no I/O).

Times: HJ 212 timestamps (QN, DataTime, BeginTime...) are the *local wall-clock time of the
device*, with no zone in the protocol. :attr:`Frame.data_time` is therefore a naive
``datetime``; the caller attaches the site's city timezone (``dt.replace(tzinfo=...)``).

Speed matters (one server ingests every site): the envelope CRC is folded in C (see
``crc.py``), the standard header is matched by prefixes, and CP parsing uses per-shape plans
(see ``cp.py``); unusual input takes slower paths that also produce the exact error message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from .codes import (
    DATETIME_LEN,
    FLAG_ACK,
    FLAG_SPLIT,
    MAX_CN_LEN,
    MAX_FLAG,
    MAX_MN_LEN,
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
_STD_HEADER_PARTS: Final = 7  # "QN=..;ST=..;CN=..;PW=..;MN=..;Flag=..;" splits into 7


@dataclass(slots=True)
class Frame:
    """A decoded HJ 212 frame; ``data_time`` is naive device-local time (see module doc)."""

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
    if not value.isdigit() or int(value) < 1:
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


def _header_fields(head: str) -> dict[str, str]:
    """Header ``key=value`` pairs in any order (extra ';' tolerated)."""
    parts = [p for p in head.split(";") if p]
    try:
        return dict(p.split("=", 1) for p in parts)  # type: ignore[misc]
    except ValueError:
        bad = next(p for p in parts if "=" not in p)
        raise FieldError(f"header field {bad!r} is not key=value") from None


def _standard_header(head: str) -> tuple[str, str, str, str, str, str] | None:
    """(QN, ST, CN, PW, MN, Flag) when the header is exactly the standard 2017 sequence."""
    p = head.split(";")
    if (
        len(p) == _STD_HEADER_PARTS
        and not p[6]
        and p[0][:3] == "QN="
        and p[1][:3] == "ST="
        and p[2][:3] == "CN="
        and p[3][:3] == "PW="
        and p[4][:3] == "MN="
        and p[5][:5] == "Flag="
    ):
        return p[0][3:], p[1][3:], p[2][3:], p[3][3:], p[4][3:], p[5][5:]
    return None


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
    std = _standard_header(head)
    pnum_text: str | None = None
    pno_text: str | None = None
    if std is not None:
        qn, st, cn, pw, mn, flag_text = std
        qn_opt: str | None = qn
        flag_opt: str | None = flag_text
    else:
        f = _header_fields(head)
        get = f.get
        qn_opt, flag_opt, pnum_text, pno_text = get("QN"), get("Flag"), get("PNUM"), get("PNO")
        st_o, cn_o, pw_o, mn_o = get("ST"), get("CN"), get("PW"), get("MN")
        if st_o is None or cn_o is None or pw_o is None or mn_o is None:
            named = (("ST", st_o), ("CN", cn_o), ("PW", pw_o), ("MN", mn_o))
            raise FieldError(f"missing {', '.join(k for k, v in named if v is None)}")
        st, cn, pw, mn = st_o, cn_o, pw_o, mn_o
    _digits("ST", st, MAX_ST_LEN)
    _digits("CN", cn, MAX_CN_LEN)
    if not mn or len(mn) > MAX_MN_LEN:
        raise FieldError(f"bad MN {mn!r} (want 1-{MAX_MN_LEN} characters)")
    if qn_opt is not None:
        _check_qn(qn_opt)
    if flag_opt is None:
        flag = 0  # HJ/T 212-2005 uploads often omit Flag: version 0, no ack
    elif flag_opt.isdigit() and int(flag_opt) <= MAX_FLAG:
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
