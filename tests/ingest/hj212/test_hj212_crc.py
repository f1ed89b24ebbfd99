"""The HJ 212 Appendix A CRC (fast fold implementation) against independent references."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from dustgrid.ingest.hj212.crc import crc_hex, hj212_crc, hj212_crc_reference, modbus_crc
from tests.ingest.hj212.hj212_frames import bitwise_hj212

STANDARD_SEGMENT = (
    b"QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;"
    b"Flag=5;CP=&&RtdInterval=30&&"
)


def bitwise_modbus(data: bytes) -> int:
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def test_standard_example_crc_is_1c80() -> None:
    assert len(STANDARD_SEGMENT) == 101
    assert bitwise_hj212(STANDARD_SEGMENT) == 0x1C80
    assert hj212_crc(STANDARD_SEGMENT) == 0x1C80
    assert crc_hex(hj212_crc(STANDARD_SEGMENT)) == "1C80"


def test_hj212_crc_is_not_modbus() -> None:
    assert modbus_crc(STANDARD_SEGMENT) != hj212_crc(STANDARD_SEGMENT)
    assert modbus_crc(b"123456789") == 0x4B37  # the published CRC-16/MODBUS check value
    assert bitwise_modbus(STANDARD_SEGMENT) == modbus_crc(STANDARD_SEGMENT)


def test_empty_input_is_the_initial_register() -> None:
    assert hj212_crc(b"") == bitwise_hj212(b"") == 0xFFFF


def test_fast_matches_bitwise_on_every_length_up_to_600() -> None:
    rng = random.Random(212)
    for n in range(600):
        data = bytes(rng.randrange(256) for _ in range(n))
        assert hj212_crc(data) == bitwise_hj212(data), n
        assert hj212_crc_reference(data) == bitwise_hj212(data), n


def test_fast_matches_bitwise_beyond_precomputed_fold_levels() -> None:
    rng = random.Random(7)
    for n in (9999, 65535, 65536, 65537, 140_001):
        data = rng.randbytes(n)
        assert hj212_crc(data) == bitwise_hj212(data), n


def test_accepts_bytearray_and_memoryview() -> None:
    assert hj212_crc(bytearray(STANDARD_SEGMENT)) == 0x1C80
    assert hj212_crc(memoryview(STANDARD_SEGMENT)) == 0x1C80


@settings(max_examples=300)
@given(st.binary(max_size=2048))
def test_fast_matches_bitwise_on_arbitrary_bytes(data: bytes) -> None:
    assert hj212_crc(data) == bitwise_hj212(data)
    assert modbus_crc(data) == bitwise_modbus(data)
