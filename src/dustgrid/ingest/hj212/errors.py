"""The one exception family of the HJ 212 codec.

Everything the codec rejects is an :class:`HJ212Error` (or a subclass) whose message says
exactly what is wrong, so an ingest log line is enough to fix a misbehaving device. Random
input must never surface any other exception type: callers catch ``HJ212Error`` only.
"""

from __future__ import annotations

from typing import Final

# Stable machine-readable codes (``HJ212Error.code``), e.g. for metrics/log aggregation.
E_HEADER: Final = "header"  # no "##" start / bad 4-digit length field
E_LENGTH: Final = "length"  # length field disagrees with the data segment
E_CRC: Final = "crc"  # CRC field missing/not hex/mismatch (or modbus-only when not allowed)
E_ENCODING: Final = "encoding"  # non-ASCII byte in the frame
E_FIELD: Final = "field"  # a header field (QN/ST/CN/PW/MN/Flag/PNUM/PNO) missing or malformed
E_CP: Final = "cp"  # the CP=&&...&& block or one of its items is malformed
E_TOO_LARGE: Final = "too_large"  # data segment > 9999 or buffer cap exceeded
E_GARBAGE: Final = "garbage"  # bytes between frames that are not a frame
E_SPLIT: Final = "split"  # split-packet (PNUM/PNO) reassembly inconsistency
E_BUILD: Final = "build"  # a builder was given values that cannot form a standard frame


class HJ212Error(ValueError):
    """Base class; ``code`` is one of the ``E_*`` constants, ``raw`` the offending bytes."""

    code: str = E_FIELD

    def __init__(self, message: str, *, code: str | None = None, raw: bytes | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.raw = raw

    @property
    def message(self) -> str:
        """The human-readable reason (same as ``str(err)``)."""
        return str(self.args[0]) if self.args else ""


class FrameError(HJ212Error):
    """The envelope is wrong: start marker, length field, CRC, encoding or size."""

    code = E_HEADER


class CRCError(FrameError):
    """CRC field absent, not hex, or not matching; ``variant`` tells what did match."""

    code = E_CRC

    def __init__(
        self,
        message: str,
        *,
        variant: str = "bad",
        raw: bytes | None = None,
    ) -> None:
        super().__init__(message, raw=raw)
        self.variant = variant


class FieldError(HJ212Error):
    """A data-segment field (header or CP) is missing or malformed."""

    code = E_FIELD


class StreamError(HJ212Error):
    """Reported (never raised) by the stream splitter: garbage, oversize, truncation."""

    code = E_GARBAGE


class SplitPacketError(HJ212Error):
    """Parts of a split packet (PNUM/PNO) do not fit together."""

    code = E_SPLIT


class BuildError(HJ212Error):
    """A builder cannot produce a standard frame from the given values."""

    code = E_BUILD
