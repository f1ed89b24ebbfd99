"""HJ 212-2017 Appendix A CRC, and CRC-16/MODBUS that some field devices send instead.

The standard's algorithm looks like Modbus but is not: each step computes
``crc = (crc >> 8) ^ byte`` and then shifts 8 times with the reflected polynomial 0xA001,
so the low byte of the previous register is *discarded*. Two consequences we exploit:

* only the high byte ``h`` of the register carries state, and one step is the linear map
  ``h' = M(h ^ byte)`` over GF(2)^8, where ``M`` is "high byte of 8 shift/XOR rounds";
* ``M`` has multiplicative order 8 (``M**8 == I``).

Hence the input before the last CRC step is ``x = XOR_j M**j(G_j) ^ M**(n-1)(0xFF)``, where
``G_j`` is the XOR of all bytes whose distance from the end is ``j (mod 8)``. Those eight
``G_j`` are exactly the bytes of "the data as one big integer, XOR-folded down to 64 bits",
which CPython does in C. The whole CRC then costs a fold plus a few table look-ups, instead
of a Python loop over every byte (see ``bench/codec.py``). ``hj212_crc_reference`` is the
literal Appendix A loop, kept for tests and documentation.
"""

from __future__ import annotations

from typing import Final

POLY: Final = 0xA001  # reflected polynomial used by both algorithms
INIT: Final = 0xFFFF  # register start value for both algorithms
BYTE_BITS: Final = 8
BYTE_MASK: Final = 0xFF
M_ORDER: Final = 8  # multiplicative order of the HJ 212 step map M (checked at import)
FOLD_BITS: Final = 64  # M_ORDER bytes, the width the data is XOR-folded down to
_FOLD_LEVELS: Final = 12  # precomputed fold masks cover inputs up to 32 KiB (frames are < 10 KiB)


def _shift8(value: int) -> int:
    """Eight reflected shift/XOR rounds, the inner loop of both algorithms."""
    for _ in range(BYTE_BITS):
        value = (value >> 1) ^ POLY if value & 1 else value >> 1
    return value


#: ``TABLE[b]`` = eight rounds applied to byte ``b`` (the classic 256-entry CRC table).
TABLE: Final[tuple[int, ...]] = tuple(_shift8(b) for b in range(256))
_HIGH: Final = tuple(v >> BYTE_BITS for v in TABLE)  # the step map M on the state byte


def _m_power(power: int, value: int) -> int:
    for _ in range(power):
        value = _HIGH[value]
    return value


if any(_m_power(M_ORDER, v) != v for v in range(256)):  # pragma: no cover - math invariant
    raise AssertionError("HJ 212 CRC step map does not have order 8; fast CRC is invalid")

# _BYTE_POW[j][b] = M**j(b); _PAIR[q][w] = M**(2q)(w & 0xFF) ^ M**(2q+1)(w >> 8) applies
# M**j to two adjacent G_j with one look-up (w = G_2q | G_2q+1 << 8).
_BYTE_POW: Final = tuple(tuple(_m_power(j, b) for b in range(256)) for j in range(M_ORDER))
_PAIR: Final = tuple(
    tuple(hi_term ^ lo_term for hi_term in _BYTE_POW[2 * q + 1] for lo_term in _BYTE_POW[2 * q])
    for q in range(M_ORDER // 2)
)
# _INIT_TERM[n % 8] = M**(n-1)(0xFF): contribution of the initial register to the last step.
_INIT_TERM: Final = tuple(_m_power((n - 1) % M_ORDER, INIT >> BYTE_BITS) for n in range(M_ORDER))
_FOLD_MASKS: Final = tuple((1 << (FOLD_BITS << k)) - 1 for k in range(_FOLD_LEVELS))
_WORD_BITS: Final = 2 * BYTE_BITS  # G_j are looked up two at a time
_WORD: Final = (1 << _WORD_BITS) - 1
_FOLD_SHIFT: Final = FOLD_BITS.bit_length()  # (64 << k) < 2**(k + 7)


def hj212_crc(data: bytes | bytearray | memoryview) -> int:
    """CRC of ``data`` per HJ 212-2017 Appendix A (fast, exact; see module docstring)."""
    n = len(data)
    if not n:
        return INIT
    y = int.from_bytes(data, "big")
    k = (n * BYTE_BITS - 1).bit_length() - _FOLD_SHIFT  # largest k with (64 << k) < bit length
    while k >= _FOLD_LEVELS:  # only for inputs far larger than any frame
        y = (y >> (FOLD_BITS << k)) ^ (y & ((1 << (FOLD_BITS << k)) - 1))
        k -= 1
    masks = _FOLD_MASKS
    while k >= 0:
        y = (y >> (FOLD_BITS << k)) ^ (y & masks[k])
        k -= 1
    p0, p1, p2, p3 = _PAIR
    return TABLE[
        _INIT_TERM[n % M_ORDER]
        ^ p0[y & _WORD]
        ^ p1[(y >> _WORD_BITS) & _WORD]
        ^ p2[(y >> 2 * _WORD_BITS) & _WORD]
        ^ p3[(y >> 3 * _WORD_BITS) & _WORD]
    ]


def hj212_crc_reference(data: bytes | bytearray | memoryview) -> int:
    """The literal Appendix A loop (bitwise); slow, for tests and as executable spec."""
    crc = INIT
    for byte in bytes(data):
        crc = (crc >> BYTE_BITS) ^ byte
        for _ in range(BYTE_BITS):
            crc = (crc >> 1) ^ POLY if crc & 1 else crc >> 1
    return crc


def modbus_crc(data: bytes | bytearray | memoryview) -> int:
    """Standard CRC-16/MODBUS (init 0xFFFF, reflected poly 0xA001), table driven.

    Only computed when the HJ 212 CRC did not match, so a byte loop is fine here.
    """
    crc = INIT
    table = TABLE
    for byte in bytes(data):
        crc = (crc >> BYTE_BITS) ^ table[(crc ^ byte) & BYTE_MASK]
    return crc


def crc_hex(crc: int) -> str:
    """The 4-digit uppercase hex form written into frames."""
    return f"{crc:04X}"
