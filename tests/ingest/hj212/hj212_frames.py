"""HJ 212 frames for tests, written independently of the codec under test (tests must not
trust ``wrap`` or ``hj212_crc``): the Appendix A CRC bit by bit, and the envelope around a
data segment (``##`` + 4-digit length + segment + CRC + CRLF)."""

from __future__ import annotations


def bitwise_hj212(data: bytes) -> int:
    """Appendix A, written independently of the module under test."""
    crc = 0xFFFF
    for byte in data:
        crc = (crc >> 8) ^ byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def envelope(segment: bytes) -> bytes:
    """A whole frame around ``segment``, its length and CRC right."""
    return b"##%04d%s%04X\r\n" % (len(segment), segment, bitwise_hj212(segment))


def frame_of(segment: str, *, crc: str | None = None, length: int | None = None) -> bytes:
    """A frame around a text segment; ``crc`` (4 hex digits) and ``length`` override the
    right ones (to build broken frames)."""
    data = segment.encode()
    n = len(data) if length is None else length
    check = crc if crc is not None else f"{bitwise_hj212(data):04X}"
    return b"##%04d%s%s\r\n" % (n, data, check.encode())
