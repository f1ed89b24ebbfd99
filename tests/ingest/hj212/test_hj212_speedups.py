"""The optional C accelerator (``_speedups.c``) against the pure-Python decoder.

``decode`` hands a frame to the C code first; for anything but the plain case the C code
returns None and the pure-Python path (``decode_python``, the reference) runs. So on every
input both must give the same Frame (compared by ``repr``: exact floats, bools, None) or
the same error (type, message, code, CRC variant, offending bytes). With
``DUSTGRID_REQUIRE_SPEEDUPS=1`` (CI) the accelerator must be built and in use.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from dustgrid.ingest.hj212 import build_frame, codec, decode
from dustgrid.ingest.hj212.codec import decode_python
from dustgrid.ingest.hj212.cp import _TS_CACHE
from dustgrid.ingest.hj212.crc import hj212_crc_reference
from dustgrid.ingest.hj212.errors import HJ212Error
from tests.ingest.hj212.hj212_frames import envelope
from tests.ingest.hj212.test_hj212_properties import frames, standard_headers

REQUIRED = os.environ.get("DUSTGRID_REQUIRE_SPEEDUPS", "") not in ("", "0")
needs_speedups = pytest.mark.skipif(
    not codec.ACCELERATED, reason="C accelerator not built (pure-Python codec in use)"
)

HEAD = "QN=20240501100002137;ST=39;CN=2011;PW=123456;MN=399100A0130001SITE0001;Flag=5;CP=&&"
PLAIN = (
    HEAD + "DataTime=20240501100000;a34002-Rtd=85.3,a34002-Flag=N;a34004-Rtd=41.7,"
    "a34004-Flag=D;LA-Rtd=63.4,LA-Flag=N&&"
)


def outcome(fn: Callable[..., Any], raw: object, **kwargs: bool) -> tuple[object, ...]:
    try:
        return ("ok", repr(fn(raw, **kwargs)))
    except HJ212Error as exc:
        return ("error", type(exc), str(exc), exc.code, getattr(exc, "variant", None), exc.raw)


def assert_same(raw: object) -> None:
    """decode == decode_python, and the C function alone is None or that same Frame."""
    for kwargs in ({}, {"allow_modbus": True}, {"verify": False}):
        reference = outcome(decode_python, raw, **kwargs)
        assert outcome(decode, raw, **kwargs) == reference, raw
    if codec._decode_c is not None:
        reference = outcome(decode_python, raw)
        for _ in range(2):  # helpers' caches cold, then warm
            fast = codec._decode_c(raw)
            if fast is not None:
                assert reference == ("ok", repr(fast)), raw


def wrap(segment: str | bytes) -> bytes:
    data = segment.encode() if isinstance(segment, str) else segment
    return envelope(data)


# --- is it there? ---------------------------------------------------------------------


@pytest.mark.skipif(not REQUIRED, reason="DUSTGRID_REQUIRE_SPEEDUPS is not set")
def test_accelerator_is_built_and_used_when_required(monkeypatch: pytest.MonkeyPatch) -> None:
    from dustgrid.ingest.hj212 import _speedups

    assert codec.ACCELERATED, "DUSTGRID_REQUIRE_SPEEDUPS=1 but the codec runs in pure Python"
    assert codec._decode_c is _speedups.decode

    def python_path_taken(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a plain frame went through the pure-Python path")

    monkeypatch.setattr(codec, "unwrap", python_path_taken)
    frame = decode(wrap(PLAIN))
    assert [it.value for it in frame.items] == [85.3, 41.7, 63.4]


@needs_speedups
def test_c_crc_matches_the_appendix_a_loop() -> None:
    from dustgrid.ingest.hj212 import _speedups

    data = bytes(range(256)) * 3
    for n in range(len(data)):
        assert _speedups.crc(data[:n]) == hj212_crc_reference(data[:n]), n


@needs_speedups
def test_plain_frames_take_the_c_path(fixture_frames: dict[str, list[bytes]]) -> None:
    for stem, frames_of_file in fixture_frames.items():
        for raw in frames_of_file:
            assert_same(raw)
            # every fixture but the Modbus-CRC ones (a per-device option, Python) is plain
            assert (codec._decode_c(raw) is not None) == (stem != "modbus_crc"), raw


@needs_speedups
def test_long_passwords_take_the_c_path_too() -> None:
    for pw in ("Zq7Lw2Vd9Kp4Rt6Hy1Nm8Xc3", "P" * 64, ""):
        frame = codec._decode_c(wrap(PLAIN.replace("PW=123456", "PW=" + pw)))
        assert frame is not None and frame.pw == pw
    assert codec._decode_c(wrap(PLAIN.replace("PW=123456", "PW=" + "P" * 65))) is None


# --- examples at the edges of the C path ----------------------------------------------


EDGE_SEGMENTS = [
    PLAIN,
    HEAD + "&&",
    HEAD + "&&&",
    HEAD + "&&;",
    HEAD + "DataTime=20240501100000&&",
    HEAD + "DataTime=20240501100000;DataTime=20240501100100;a34002-Rtd=1&&",
    HEAD + "DataTime=20240230100000;DataTime=20240501100100;a34002-Rtd=1&&",
    HEAD + "DataTime=20240501100000;a34002-Rtd=1;DataTime=2024&&",
    HEAD + "DataTime=20240230100000;a34002-Rtd=1&&",
    HEAD + "a34002-Rtd=1&&",
    HEAD + "DataTime=20240501100000;;a34002-Rtd=1,,a34002-Flag=N;&&",
    HEAD + "DataTime=20240501100000;a34002-Rtd=,a34002-Flag=D&&",
    HEAD + "DataTime=20240501100000;a34002-Rtd=1=2&&",
    HEAD + "DataTime=20240501100000;=1&&",
    HEAD + "DataTime=20240501100000;a34002-Rtd&&",
    HEAD + "DataTime=20240501100000;a34002-Flag=N;a34002-Rtd=1;a34002-Flag=D&&",
    HEAD + "DataTime=20240501100000;a34001-Flag=D;a34001-Flag=M;PolId=x;PolId=y&&",
    HEAD + "DataTime=20240501100000;a34002-Rtd=1,a34002-Avg=2,a34002-Rtd=3&&",
    HEAD + "DataTime=20240501100000;-Flag=N;-Rtd=1;a-b-Rtd=2;x-ZsRtd=3;Flag=4&&",
    HEAD + "DataTime=20240501100000;CP=&&a34002-Rtd=1&&",
    HEAD.replace("PW=123456", "PW=CP=&&x") + "DataTime=20240501100000&&",
    HEAD.replace("PW=123456", "PW=") + "&&",
    HEAD.replace("QN=20240501100002137;", "") + "&&",
    HEAD.replace("QN=20240501100002137", "QN=20241301100002137") + "&&",
    HEAD.replace("QN=20240501100002137", "QN=2024050110000213") + "&&",
    HEAD.replace("Flag=5;", "") + "&&",
    HEAD.replace("Flag=5", "Flag=256") + "&&",
    HEAD.replace("Flag=5", "Flag=0005") + "&&",
    HEAD.replace("Flag=5", "Flag=7") + "&&",
    HEAD.replace("Flag=5", "Flag=5;PNUM=2;PNO=1") + "&&",
    HEAD.replace("Flag=5", "Flag=7;PNUM=2;PNO=1") + "&&",
    HEAD.replace("MN=399100A0130001SITE0001", "MN=" + "M" * 25) + "&&",
    HEAD.replace("MN=399100A0130001SITE0001", "MN=") + "&&",
    HEAD.replace("ST=39;CN=2011", "CN=2011;ST=39") + "&&",
    HEAD.replace("ST=39", "ST=391234") + "&&",
    HEAD.replace(";CP=&&", ";X=1;CP=&&") + "&&",
    # PW and MN: up to codes.MAX_PW_LEN / MAX_MN_LEN printable ASCII, no ';' or '&'
    HEAD.replace("PW=123456", "PW=" + "Zq7Lw2Vd9Kp4Rt6Hy1Nm8Xc3") + "&&",
    HEAD.replace("PW=123456", "PW=" + "P" * 64) + "&&",
    HEAD.replace("PW=123456", "PW=" + "P" * 65) + "&&",
    HEAD.replace("PW=123456", "PW=a b=c,d#e") + "&&",
    HEAD.replace("PW=123456", "PW=a&b") + "&&",
    HEAD.replace("PW=123456", "PW=a\x01b") + "&&",
    HEAD.replace("PW=123456", "PW=a\x7fb") + "&&",
    HEAD.replace("MN=399100A0130001SITE0001", "MN=A&B") + "&&",
    HEAD.replace("MN=399100A0130001SITE0001", "MN=A\x00B") + "&&",
]
NUMBERS = [
    "0", "-0", "+0", "-0.0", "85.3", "85.30", ".5", "5.", "-.5", "+5", "007", "1e5", "1E-5",
    "1e+5", "1e", "e5", ".", "-", "+", "1.2.3", "1_0", " 1", "1 ", "nan", "inf", "-Infinity",
    "1e400", "-1e400", "1e-400", "0x10", "9007199254740993", "9007199254740992.5",
    "0.1234567890123456789", "123456789012345678901234567890", "1" + "0" * 70,
    "0.0000000000000000000001", "0.00000000000000000000001", "4.35", "2.675", "1e22", "1e23",
    "\u0661",
]  # fmt: skip
FLAGS = ["N", "S", "F", "M", "D", "C", "T", "B", "n", " N", "N ", "X", "", "NN", "d"]


@pytest.mark.parametrize("segment", EDGE_SEGMENTS)
def test_edge_segments(segment: str) -> None:
    raw = wrap(segment)
    for candidate in (raw, raw[:-2], raw[:-6] + raw[-6:-2].lower() + b"\r\n", raw + b"x"):
        assert_same(candidate)


@pytest.mark.parametrize("number", NUMBERS)
def test_numbers(number: str) -> None:
    assert_same(wrap(f"{HEAD}DataTime=20240501100000;a34002-Rtd={number},a34002-Flag=N&&"))


@pytest.mark.parametrize("flag", FLAGS)
def test_flags(flag: str) -> None:
    assert_same(wrap(f"{HEAD}DataTime=20240501100000;a34002-Rtd=1,a34002-Flag={flag}&&"))


def test_other_input_types_and_envelopes() -> None:
    raw = wrap(PLAIN)
    for candidate in (
        raw.decode(),
        bytearray(raw),
        memoryview(raw),
        b"  " + raw,
        raw[:-2] + b" \r\n",
        raw.replace(b"##", b"##0", 1),
        raw[:6] + "é".encode() + raw[7:],
        wrap(PLAIN.replace("PW=123456", "PW=12345\u00e9").encode("latin-1")),
        b"##0000" + b"%04X" % hj212_crc_reference(b"") + b"\r\n",
    ):
        assert_same(candidate)


def test_cold_timestamp_cache() -> None:
    _TS_CACHE.clear()
    assert_same(wrap(PLAIN))
    _TS_CACHE.clear()
    assert_same(wrap(PLAIN.replace("20240501100000;", "20240230100000;")))


# --- properties -----------------------------------------------------------------------


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(frames())
def test_valid_frames_agree(spec: dict[str, object]) -> None:
    assert_same(build_frame(**spec))  # type: ignore[arg-type]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(frames(), st.data())
def test_mutated_frames_agree(spec: dict[str, object], data: st.DataObject) -> None:
    raw = bytearray(build_frame(**spec))  # type: ignore[arg-type]
    alphabet = b"=;,&-.#eEN0123456789 \r\n\xe9"
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(raw) - 1))
        op = data.draw(st.sampled_from(["set", "insert", "delete"]))
        byte = data.draw(st.one_of(st.integers(0, 255), st.sampled_from(list(alphabet))))
        if op == "set":
            raw[i] = byte
        elif op == "insert":
            raw.insert(i, byte)
        else:
            del raw[i]
    assert_same(bytes(raw))
    assert_same(envelope(bytes(raw[6:-6])))  # CRC made right again: the parser is tested


@settings(max_examples=300)
@given(st.binary(max_size=500))
def test_random_bytes_agree(data: bytes) -> None:
    for candidate in (data, b"##" + data, b"##%04d" % len(data) + data, envelope(data)):
        assert_same(candidate)


CP_KEYS = st.one_of(
    st.sampled_from(["DataTime", "a34002-Rtd", "a34002-Flag", "a34004-Avg", "LA-Min", "PolId"]),
    st.text("aZ-=Flag", max_size=6),
)
CP_VALUES = st.one_of(
    st.sampled_from([*NUMBERS, *FLAGS, "20240501100000", "20240230100000"]),
    st.floats(allow_nan=False).map(repr),
    st.integers().map(str),
    st.text("0123456789.eE+-=N ", max_size=8),
)


@settings(max_examples=600)
@example(pairs=[("DataTime", "20240501100000"), ("a34002-Rtd", "85.3")], seps=[";"] * 4)
@given(
    st.lists(st.tuples(CP_KEYS, CP_VALUES), max_size=10),
    st.lists(st.sampled_from([";", ",", ";;"]), min_size=10, max_size=10),
)
def test_cp_bodies_agree(pairs: list[tuple[str, str]], seps: list[str]) -> None:
    body = "".join(f"{seps[i] if i else ''}{k}={v}" for i, (k, v) in enumerate(pairs))
    assert_same(wrap(f"{HEAD}{body}&&"))


@settings(max_examples=400)
@given(standard_headers(), st.sampled_from(["DataTime=20240501100000;a34002-Rtd=1", "", "a=1"]))
def test_headers_agree(head: str, body: str) -> None:
    assert_same(wrap(f"{head}CP=&&{body}&&"))


def test_many_distinct_keys_cycle_the_key_cache() -> None:
    """More keys than the C key cache holds: cleared and refilled, results unchanged."""
    stamp = "20240501100000"
    for start in range(0, 2600, 60):  # 120 pairs a frame: under the C path's limit
        pairs = ";".join(f"k{i}-Rtd={i}.5,k{i}-Flag=N" for i in range(start, start + 60))
        raw = wrap(f"{HEAD}DataTime={stamp};{pairs}&&")
        assert_same(raw)
