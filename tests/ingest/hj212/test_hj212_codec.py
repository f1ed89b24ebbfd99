"""Decoding: the standard's example, recorded fixtures, leniency and exact error messages."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from dustgrid.ingest.hj212 import (
    CRCError,
    FieldError,
    FrameError,
    HJ212Error,
    decode,
    parse_data_segment,
    peek,
    qn_datetime,
)
from dustgrid.ingest.hj212.build import build_data_reply, build_request_reply
from dustgrid.ingest.hj212.errors import E_CP, E_CRC, E_ENCODING, E_FIELD, E_HEADER, E_LENGTH
from tests.ingest.hj212.hj212_frames import bitwise_hj212, frame_of

STANDARD = (
    b"##0101QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;"
    b"Flag=5;CP=&&RtdInterval=30&&1C80\r\n"
)


def local(text: str) -> datetime:
    """A naive device-local time: HJ 212 carries no zone (the caller attaches the city's)."""
    return datetime.fromisoformat(text)


HEAD = "QN=20240501100002137;ST=39;CN=2011;PW=123456;MN=399100A0130001SITE0001;Flag=5"


def test_standard_example() -> None:
    f = decode(STANDARD)
    assert (f.qn, f.st, f.cn, f.pw, f.mn) == (
        "20160801085857223",
        "32",
        "1062",
        "100000",
        "010000A8900016F000169DC0",
    )
    assert (f.flag, f.version, f.ack_wanted, f.split) == (5, 1, True, False)
    assert f.cp == {"RtdInterval": "30"}
    assert f.items == [] and f.data_time is None and f.crc == "hj212"
    assert qn_datetime(f.qn or "") == local("2016-08-01T08:58:57.223000")


def test_dust_fixture(fixture_frames: dict[str, list[bytes]]) -> None:
    frames = [decode(raw) for raw in fixture_frames["dust_rtd_st39"]]
    assert len(frames) == 12
    first = frames[0]
    assert first.st == "39" and first.cn == "2011"
    assert first.data_time == local("2024-05-01T10:00:00")
    assert first.data_time.tzinfo is None  # device-local, caller attaches the zone
    assert [it.metric for it in first.items] == [
        "tsp",
        "pm10",
        "pm25",
        "pm1",
        "noise",
        "temperature",
        "humidity",
        "pressure",
        "wind_speed",
        "wind_direction",
    ]
    assert all(it.kind == "rtd" and it.flag == "N" and it.valid for it in first.items)
    assert first.values()["pm10"] == 85.3
    faulty = [it for f in frames for it in f.items if not it.valid]
    assert {(it.code, it.flag) for it in faulty} == {("a34002", "D"), ("LA", "M")}
    with_fault = next(f for f in frames if any(it.flag == "D" for it in f.items))
    assert "pm10" not in with_fault.values()
    assert "pm10" in with_fault.values(valid_only=False)


def test_ambient_minute_fixture(fixture_frames: dict[str, list[bytes]]) -> None:
    f = decode(fixture_frames["ambient_minute_st22"][1])
    assert f.st == "22" and f.cn == "2051"
    assert [(it.code, it.kind) for it in f.items[:3]] == [
        ("a34002", "min"),
        ("a34002", "avg"),
        ("a34002", "max"),
    ]
    calibrating = [it for it in f.items if it.code == "a34004"]
    assert {it.flag for it in calibrating} == {"C"} and not any(it.valid for it in calibrating)


def test_legacy_2005_fixture(fixture_frames: dict[str, list[bytes]]) -> None:
    f = decode(fixture_frames["legacy_2005"][0])
    assert f.qn is None and f.flag == 0 and f.version == 0 and not f.ack_wanted
    assert f.mn == "88888880000001"
    assert f.values() == {"tsp": 0.152, "pm10": 0.085, "pm25": 0.041}


def test_modbus_fixture_is_the_callers_choice(fixture_frames: dict[str, list[bytes]]) -> None:
    for raw in fixture_frames["modbus_crc"]:
        with pytest.raises(CRCError, match="CRC-16/MODBUS") as info:
            decode(raw)
        assert info.value.variant == "modbus" and info.value.code == E_CRC
        assert decode(raw, allow_modbus=True).crc == "modbus"


def test_every_fixture_decodes(fixture_frames: dict[str, list[bytes]]) -> None:
    for frames in fixture_frames.values():
        for raw in frames:
            json.dumps(decode(raw, allow_modbus=True).to_dict())


@pytest.mark.parametrize(
    "raw",
    [
        b"  \r\n" + STANDARD,  # whitespace before
        b"\x00\xffnoise" + STANDARD,  # garbage before
        STANDARD[:-2],  # no CRLF at end of stream
        STANDARD[:-6] + b"1c80\r\n",  # lowercase CRC
        STANDARD[:-2] + b"   \r\n",  # trailing blanks
        STANDARD + b"junk",  # garbage after the CRLF
        STANDARD[:-2] + b"xyz",  # garbage right after the CRC
        STANDARD.decode(),  # str input
        bytearray(STANDARD),
    ],
)
def test_lenient_envelope(raw: bytes | str) -> None:
    assert decode(raw).cp == {"RtdInterval": "30"}


def test_extra_separators_are_tolerated() -> None:
    seg = HEAD + ";;CP=&&DataTime=20240501100000;;a34002-Rtd=85.3,a34002-Flag=N;&&"
    f = decode(frame_of(seg))
    assert [(it.code, it.value) for it in f.items] == [("a34002", 85.3)]
    assert decode(frame_of(HEAD + ";CP=&&DataTime=20240501100000;a34002-Rtd=1&&;")).items


def test_header_in_any_order_with_split_fields() -> None:
    seg = (
        "MN=M1;ST=39;CN=2011;PW=1;QN=20240501100002137;Flag=7;PNUM=3;PNO=2;"
        "CP=&&DataTime=20240501100000;a34002-Rtd=1&&"
    )
    f = decode(frame_of(seg))
    assert (f.split, f.pnum, f.pno, f.ack_wanted, f.version) == (True, 3, 2, True, 1)


def test_cp_items_and_extras() -> None:
    seg = (
        HEAD + ";CP=&&DataTime=20240501100000;BeginTime=20240501000000;"
        "a99999-Rtd=7,a99999-Flag=N;a34002-Avg=,a34002-Flag=n;a34004-Rtd=3,a34004-Flag=X;"
        "a34001-Flag=D;a34002-ZsRtd=4&&"
    )
    f = decode(frame_of(seg))
    by_code = {it.code: it for it in f.items}
    assert by_code["a99999"].metric is None and by_code["a99999"].value == 7.0  # kept
    assert by_code["a34002"].value is None and by_code["a34002"].flag == "N"  # normalised
    assert by_code["a34004"].flag == "X" and not by_code["a34004"].valid  # unknown: invalid
    assert f.cp == {"BeginTime": "20240501000000", "a34002-ZsRtd": "4", "a34001-Flag": "D"}


def test_item_without_flag_is_valid() -> None:
    f = decode(frame_of(HEAD + ";CP=&&DataTime=20240501100000;a34002-Rtd=85&&"))
    assert f.items[0].flag == "N" and f.items[0].valid


def test_length_mismatch_message() -> None:
    bad = STANDARD.replace(b"##0101", b"##0123")
    with pytest.raises(FrameError) as info:
        decode(bad)
    assert str(info.value) == "length field says 0123 but data segment has 101 bytes"
    assert info.value.code == E_LENGTH


def test_crc_mismatch_message() -> None:
    with pytest.raises(CRCError) as info:
        decode(STANDARD.replace(b"1C80", b"4F2A"))
    msg = str(info.value)
    assert msg.startswith("CRC mismatch: frame says 4F2A, computed 1C80 (modbus would be ")
    assert info.value.variant == "bad"


def test_public_sample_frame_3_keeps_its_24_character_password(
    fixture_frames: dict[str, list[bytes]],
) -> None:
    """Field devices send longer PWs than the standard's 6 characters: decoded, and the
    reply repeats it (it used to fail: 'PW must be 1-9 ASCII characters')."""
    frame = decode(fixture_frames["public_samples"][2])
    assert frame.pw == "Zq7Lw2Vd9Kp4Rt6Hy1Nm8Xc3"
    reply = decode(build_data_reply(frame))
    assert (reply.cn, reply.pw, reply.mn, reply.qn) == ("9014", frame.pw, frame.mn, frame.qn)
    assert decode(build_request_reply(frame, 3)).pw == frame.pw


@pytest.mark.parametrize(
    ("segment", "message", "code"),
    [
        ("QN=20240501100002137;ST=39;CN=2011;PW=1;Flag=5;CP=&&&&", "missing MN", E_FIELD),
        ("QN=20240501100002137;CN=2011;MN=M;Flag=5;CP=&&&&", "missing ST, PW", E_FIELD),
        (HEAD + ";CP=&&DataTime=2024133;a34002-Rtd=1&&", "bad DataTime '2024133'", E_CP),
        (HEAD + ";CP=&&DataTime=20241332000000&&", "bad DataTime '20241332000000'", E_CP),
        (HEAD + ";CP=&&a34002-Rtd=1&&", "missing DataTime in CP (1 items)", E_CP),
        (HEAD + ";CP=&&DataTime=20240501100000;a34002-Rtd=abc&&", "bad value 'abc'", E_CP),
        (HEAD + ";CP=&&DataTime=20240501100000;a34002-Rtd=nan&&", "not finite", E_CP),
        (HEAD + ";CP=&&DataTime=20240501100000;oops&&", "CP item 'oops' is not", E_CP),
        (HEAD + ";CP=&&DataTime=20240501100000", "not closed by '&&'", E_CP),
        (HEAD, "missing CP=&&...&& block", E_CP),
        ("QN=2024;ST=39;CN=2011;PW=1;MN=M;CP=&&&&", "bad QN '2024'", E_FIELD),
        ("ST=3x;CN=2011;PW=1;MN=M;CP=&&&&", "bad ST '3x'", E_FIELD),
        ("ST=39;CN=2011;PW=1;MN=M;Flag=256;CP=&&&&", "bad Flag '256'", E_FIELD),
        ("ST=39;CN=2011;PW=1;MN=M;Flag=" + "9" * 5000 + ";CP=&&&&", "bad Flag", E_FIELD),
        (
            "ST=39;CN=2011;PW=1;MN=M;Flag=7;PNUM=" + "9" * 5000 + ";PNO=1;CP=&&&&",
            "bad PNUM",
            E_FIELD,
        ),
        ("ST=39;CN=2011;PW=1;MN=M;Flag=7;CP=&&&&", "PNUM/PNO is missing", E_FIELD),
        ("ST=39;CN=2011;PW=1;MN=M;Flag=7;PNUM=2;PNO=3;CP=&&&&", "PNO 3 is greater", E_FIELD),
        ("ST=39;CN=2011;PW=1;MN=" + "M" * 25 + ";CP=&&&&", "bad MN", E_FIELD),
        ("ST=39;CN=2011;PW=" + "P" * 65 + ";MN=M;CP=&&&&", "want 0-64 printable", E_FIELD),
        ("ST=39;CN=2011;PW=a&b;MN=M;CP=&&&&", "bad PW 'a&b'", E_FIELD),
        ("ST=39;CN=2011;PW=a\x00b;MN=M;CP=&&&&", "bad PW", E_FIELD),
        ("ST=39;CN=2011;PW=1;MN=M\x1b;CP=&&&&", "bad MN", E_FIELD),
        ("ST=39;CN=2011;PW;MN=M;CP=&&&&", "header field 'PW' is not key=value", E_FIELD),
    ],
)
def test_field_errors(segment: str, message: str, code: str) -> None:
    with pytest.raises(FieldError) as info:
        decode(frame_of(segment))
    assert message in str(info.value)
    assert info.value.code == code


@pytest.mark.parametrize(
    ("raw", "message", "code"),
    [
        (b"hello", "no '##' frame start", E_HEADER),
        (b"##01", "frame truncated", E_HEADER),
        (b"##01a1QN=1", "length field '01a1' is not 4 decimal digits", E_HEADER),
        (STANDARD[:-6] + b"1C8G\r\n", "CRC field '1C8G' is not 4 hex digits", E_CRC),
        (STANDARD[:50], "length field says 0101 but data segment has 40 bytes", E_LENGTH),
        (STANDARD[:8], "but the frame ends before its data segment", E_LENGTH),
        ("##0003QN=é1C80", "non-ASCII character 'é'", E_ENCODING),
        (b"##0003\xe9\xe9\xe9" + b"%04X" % bitwise_hj212(b"\xe9\xe9\xe9"), "non-ASCII", E_ENCODING),
    ],
)
def test_envelope_errors(raw: bytes | str, message: str, code: str) -> None:
    with pytest.raises(HJ212Error) as info:
        decode(raw)
    assert message in str(info.value)
    assert info.value.code == code


def test_verify_false_parses_despite_bad_crc() -> None:
    f = decode(STANDARD.replace(b"1C80", b"0000"), verify=False)
    assert f.crc == "bad" and f.cp == {"RtdInterval": "30"}


def test_parse_data_segment_accepts_str_and_rejects_non_ascii() -> None:
    assert parse_data_segment("ST=39;CN=2011;PW=1;MN=M;CP=&&&&").mn == "M"
    with pytest.raises(FrameError, match="non-ASCII"):
        parse_data_segment("ST=39;CN=2011;PW=1;MN=Ｍ;CP=&&&&")


def test_peek_never_raises() -> None:
    assert peek(STANDARD)["MN"] == "010000A8900016F000169DC0"
    assert peek("é") == {}
    assert peek(b"\xff\xfe") == {}


def test_qn_datetime_rejects_bad_values() -> None:
    with pytest.raises(FieldError):
        qn_datetime("20241301000000000")
