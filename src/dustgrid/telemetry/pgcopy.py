"""Readings pre-encoded as PostgreSQL binary ``COPY`` rows (pure: ``struct`` only).

The HJ 212 listener encodes each frame's readings as the frame arrives (one ``struct`` call
per frame for the usual frame, :class:`CopyTemplate`), so a batch of thousands of rows
reaches the database as one buffer (:class:`CopyRows`, written by
:func:`dustgrid.telemetry.store.write_readings`).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

# Binary COPY rows: a 16-bit field count, then per field a 32-bit length (-1: NULL) and the
# value in the type's binary form (int4, float8: big-endian; bool: one byte; text: its
# UTF-8 bytes; timestamptz: int8 microseconds since 2000-01-01 UTC). The columns are in
# COPY_COLUMNS order: the per-reading ones first, then the ones a frame's rows share, so a
# frame's rows are "head + value + suffix" with the suffix encoded once per frame.

COPY_COLUMNS: Final = (
    "metric",
    "kind",
    "flag",
    "valid",
    "value",
    "device_id",
    "data_time",
    "source",
    "received_at",
)
COPY_COLS: Final = ", ".join(COPY_COLUMNS)
COPY_SIGNATURE: Final = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # + flags, header extension
COPY_TRAILER: Final = b"\xff\xff"
_COPY_NULL: Final = b"\xff\xff\xff\xff"
_PG_EPOCH: Final = datetime(2000, 1, 1, tzinfo=UTC)
_FIELD_COUNT: Final = struct.pack(">h", len(COPY_COLUMNS))
_LEN_INT4: Final = struct.Struct(">ii").pack  # length 4, value
_LEN_INT8: Final = struct.Struct(">iq").pack  # length 8, value
_LEN_FLOAT8: Final = struct.Struct(">id").pack  # length 8, value
_LEN_FLOAT8_PREFIX: Final = struct.pack(">i", 8)
_BOOL: Final = {True: b"\x00\x00\x00\x01\x01", False: b"\x00\x00\x00\x01\x00"}
_TEXT_CACHE: dict[str, bytes] = {}
_TIME_CACHE: dict[datetime, bytes] = {}
_CACHE_MAX: Final = 4096


def _copy_text(text: str) -> bytes:
    found = _TEXT_CACHE.get(text)
    if found is None:
        data = text.encode("utf-8")
        found = struct.pack(">i", len(data)) + data
        if len(_TEXT_CACHE) >= _CACHE_MAX:
            _TEXT_CACHE.clear()
        _TEXT_CACHE[text] = found
    return found


def _copy_time(t: datetime) -> bytes:
    """timestamptz field of an aware datetime (cached: a batch holds few distinct times)."""
    found = _TIME_CACHE.get(t)
    if found is None:
        if t.tzinfo is None or t.utcoffset() is None:
            raise ValueError(f"naive datetime {t!r} given to the reading store (want aware UTC)")
        d = t - _PG_EPOCH
        found = _LEN_INT8(8, (d.days * 86_400 + d.seconds) * 1_000_000 + d.microseconds)
        if len(_TIME_CACHE) >= _CACHE_MAX:
            _TIME_CACHE.clear()
        _TIME_CACHE[t] = found
    return found


def copy_row_head(metric: str, kind: str, flag: str, valid: bool) -> bytes:
    """The start of a binary COPY row: field count, ``metric``, ``kind``, ``flag``, ``valid``
    (then :func:`copy_value` and a :func:`copy_suffix`)."""
    return _FIELD_COUNT + _copy_text(metric) + _copy_text(kind) + _copy_text(flag) + _BOOL[valid]


def copy_value(value: float | None) -> bytes:
    """The ``value`` field (float8 or NULL)."""
    return _COPY_NULL if value is None else _LEN_FLOAT8(8, value)


def copy_suffix(device_id: int, data_time: datetime, source: str, received_at: datetime) -> bytes:
    """The end of every row of one frame: ``device_id``, ``data_time``, ``source``,
    ``received_at`` (aware datetimes)."""
    return (
        _LEN_INT4(4, device_id)
        + _copy_time(data_time)
        + _copy_text(source)
        + _copy_time(received_at)
    )


class CopyTemplate:
    """Binary COPY rows of a fixed list of heads, each with a non-NULL value: ``pack(values,
    suffix)`` encodes a whole frame's rows in one ``struct`` call."""

    __slots__ = ("_args", "_count", "_pack", "suffix_len")

    def __init__(self, heads: Sequence[bytes], suffix_len: int) -> None:
        self._count = len(heads)
        self.suffix_len = suffix_len  # struct pads or cuts an "s" field: sizes must match
        self._pack = struct.Struct(
            ">" + "".join(f"{len(h) + 4}sd{suffix_len}s" for h in heads)
        ).pack
        args: list[Any] = []
        for head in heads:
            args += [head + _LEN_FLOAT8_PREFIX, 0.0, b""]
        self._args = args

    def pack(self, values: Sequence[float], suffix: bytes) -> bytes:
        """``values`` (one per head, floats) and the frame's suffix -> the rows' bytes.
        Not reentrant (it fills a list it keeps): call it from one thread."""
        if len(suffix) != self.suffix_len:
            raise ValueError(f"suffix of {len(suffix)} bytes, template made for {self.suffix_len}")
        args = self._args
        args[1::3] = values
        args[2::3] = [suffix] * self._count
        return self._pack(*args)


@dataclass(slots=True)
class CopyRows:
    """Readings already encoded as binary COPY rows (columns in ``COPY_COLUMNS`` order,
    without the COPY header and trailer): ``chunks`` joined hold ``count`` rows, and
    ``pairs`` is the set of their (device_id, data_time)."""

    chunks: list[bytes] = field(default_factory=list)
    count: int = 0
    pairs: set[tuple[int, datetime]] = field(default_factory=set)

    def __len__(self) -> int:
        return self.count
