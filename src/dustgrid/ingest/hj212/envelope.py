"""The HJ 212 envelope: ``##`` + 4-digit length + data segment + 4 hex CRC + CRLF.

:func:`unwrap` checks the envelope and returns the data segment; :func:`wrap` builds one.
Unwrapping is lenient about what surrounds a frame (garbage before ``##``, lowercase CRC
hex, missing or extra trailer) but exact about what matters (length, CRC). When the quick
path fails, :func:`_diagnose` works out the precise reason for the error message.
"""

from __future__ import annotations

from typing import Final

from .codes import (
    CRC_DIGITS,
    FRAME_END,
    FRAME_START,
    HEADER_LEN,
    LENGTH_DIGITS,
    MAX_DATA_LEN,
    START_LEN,
)
from .crc import crc_hex, hj212_crc, modbus_crc
from .errors import E_ENCODING, E_LENGTH, E_TOO_LARGE, BuildError, CRCError, FrameError

CRC_HJ212: Final = "hj212"
CRC_MODBUS: Final = "modbus"
CRC_BAD: Final = "bad"

_START: Final = FRAME_START.encode()
_END: Final = FRAME_END.encode()
_TRAILER_WS: Final = b" \t\r\n\x00"
_HEX_DIGITS: Final = frozenset(b"0123456789abcdefABCDEF")
_PREVIEW: Final = 40  # bytes of an offending frame quoted in messages


def as_bytes(frame: bytes | bytearray | memoryview | str) -> bytes:
    """Normalise any frame-ish input to bytes (str must be ASCII)."""
    if isinstance(frame, bytes):
        return frame
    if isinstance(frame, str):
        try:
            return frame.encode("ascii")
        except UnicodeEncodeError as exc:
            raise FrameError(
                f"non-ASCII character {frame[exc.start]!r} at offset {exc.start}", code=E_ENCODING
            ) from None
    return bytes(frame)


def crc_variant(data: bytes, crc_field: bytes) -> str:
    """Which CRC algorithm produced ``crc_field`` for ``data``: hj212, modbus or bad."""
    want = crc_field.upper()
    if want == b"%04X" % hj212_crc(data):
        return CRC_HJ212
    if want == b"%04X" % modbus_crc(data):
        return CRC_MODBUS
    return CRC_BAD


def unwrap(
    frame: bytes | bytearray | memoryview | str,
    *,
    allow_modbus: bool = False,
    verify: bool = True,
) -> tuple[bytes, str]:
    """Return ``(data_segment, crc_variant)`` of one frame, or raise :class:`FrameError`.

    ``allow_modbus`` accepts a CRC-16/MODBUS checksum (a per-device decision); ``verify=False``
    returns variant ``"bad"`` instead of raising on a CRC mismatch (for diagnostics only).
    """
    raw = frame if type(frame) is bytes else as_bytes(frame)
    # Fast path: a clean frame with or without its CRLF.
    if raw[:START_LEN] == _START and raw[START_LEN:HEADER_LEN].isdigit():
        end = HEADER_LEN + int(raw[START_LEN:HEADER_LEN])
        stop = end + CRC_DIGITS
        tail = raw[stop:]
        if (tail == _END or not tail) and len(raw) >= stop:
            data = raw[HEADER_LEN:end]
            field = raw[end:stop]
            crc = b"%04X" % hj212_crc(data)
            if field == crc or field.upper() == crc:
                return data, CRC_HJ212
    return _diagnose(raw, allow_modbus=allow_modbus, verify=verify)


def _preview(raw: bytes) -> str:
    text = raw[:_PREVIEW].decode("ascii", "backslashreplace")
    return text + ("..." if len(raw) > _PREVIEW else "")


def _diagnose(raw: bytes, *, allow_modbus: bool, verify: bool) -> tuple[bytes, str]:
    """Slow path: tolerate surroundings, then name exactly what is wrong."""
    start = raw.find(_START)
    if start < 0:
        raise FrameError(f"no '##' frame start in {len(raw)} bytes: {_preview(raw)!r}", raw=raw)
    body = raw[start:]
    # A data segment never contains CR/LF: the first one ends the frame.
    cut = min((i for i in (body.find(b"\r"), body.find(b"\n")) if i >= 0), default=len(body))
    body = body[:cut].rstrip(_TRAILER_WS)
    length_field = body[START_LEN:HEADER_LEN]
    if len(length_field) < LENGTH_DIGITS:
        raise FrameError(
            f"frame truncated: {len(body)} bytes, not even '##' and a 4-digit length", raw=raw
        )
    if not length_field.isdigit():
        shown = length_field.decode("ascii", "backslashreplace")
        raise FrameError(f"length field '{shown}' is not 4 decimal digits", raw=raw)
    declared = int(length_field)
    end = HEADER_LEN + declared
    actual = len(body) - HEADER_LEN - CRC_DIGITS  # data length if body ends with the CRC
    field = body[end : end + CRC_DIGITS]
    if len(field) < CRC_DIGITS or not _HEX_DIGITS.issuperset(field):
        if actual != declared:
            raise FrameError(_length_message(length_field, actual), code=E_LENGTH, raw=raw)
        shown = field.decode("ascii", "backslashreplace")
        raise CRCError(f"CRC field '{shown}' is not 4 hex digits", raw=raw)
    data = body[HEADER_LEN:end]
    variant = crc_variant(data, field)
    if variant == CRC_HJ212 or (variant == CRC_MODBUS and allow_modbus):
        return data, variant
    if actual != declared:
        raise FrameError(_length_message(length_field, actual), code=E_LENGTH, raw=raw)
    if not verify:
        return data, variant
    said = field.decode("ascii").upper()
    expected = crc_hex(hj212_crc(data))
    if variant == CRC_MODBUS:
        raise CRCError(
            f"CRC {said} is CRC-16/MODBUS, not the HJ 212 CRC {expected}; "
            "modbus CRC is not allowed for this device",
            variant=CRC_MODBUS,
            raw=raw,
        )
    raise CRCError(
        f"CRC mismatch: frame says {said}, computed {expected} "
        f"(modbus would be {crc_hex(modbus_crc(data))})",
        variant=CRC_BAD,
        raw=raw,
    )


def _length_message(length_field: bytes, actual: int) -> str:
    said = length_field.decode("ascii")
    if actual < 0:
        return f"length field says {said} but the frame ends before its data segment and CRC"
    return f"length field says {said} but data segment has {actual} bytes"


def wrap(data_segment: str | bytes, crc: str = CRC_HJ212) -> bytes:
    """Build the exact standard frame around a data segment (uppercase CRC, CRLF).

    ``crc``: :data:`CRC_HJ212` (the standard's) or :data:`CRC_MODBUS` for a device that
    checks CRC-16/MODBUS - it rejects a frame carrying the standard's CRC."""
    if crc not in (CRC_HJ212, CRC_MODBUS):
        raise BuildError(f"CRC variant {crc!r} must be {CRC_HJ212!r} or {CRC_MODBUS!r}")
    if isinstance(data_segment, str):
        try:
            data = data_segment.encode("ascii")
        except UnicodeEncodeError as exc:
            raise BuildError(
                f"data segment has non-ASCII character {data_segment[exc.start]!r} "
                f"at offset {exc.start}"
            ) from None
    else:
        data = bytes(data_segment)
        if not data.isascii():
            raise BuildError("data segment has non-ASCII bytes")
    if len(data) > MAX_DATA_LEN:
        raise BuildError(
            f"data segment is {len(data)} bytes; the 4-digit length field allows {MAX_DATA_LEN}",
            code=E_TOO_LARGE,
        )
    if b"\r" in data or b"\n" in data:
        raise BuildError("data segment must not contain CR or LF")
    check = modbus_crc(data) if crc == CRC_MODBUS else hj212_crc(data)
    return b"##%04d%s%04X\r\n" % (len(data), data, check)
