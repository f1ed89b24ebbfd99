"""Builders answer strictly: exact standard bytes, and refusal of anything non-standard."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dustgrid.ingest.hj212 import (
    CRC_HJ212,
    CRC_MODBUS,
    BuildError,
    DataItem,
    HJ212Error,
    build_data_frame,
    build_data_reply,
    build_execution_result,
    build_frame,
    build_history_request,
    build_request_reply,
    build_time_get,
    build_time_set,
    crc_variant,
    decode,
    encode,
    format_value,
    make_qn,
    modbus_crc,
    wrap,
)
from tests.ingest.hj212.hj212_frames import frame_of

STANDARD = (
    b"##0101QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;"
    b"Flag=5;CP=&&RtdInterval=30&&1C80\r\n"
)
MN = "010000A8900016F000169DC0"


def local(text: str) -> datetime:
    """A naive device-local time: HJ 212 carries no zone (the caller attaches the city's)."""
    return datetime.fromisoformat(text)


def test_wrap_reproduces_the_standard_example() -> None:
    assert wrap(STANDARD[6:-6]) == STANDARD


def test_data_reply_9014() -> None:
    reply = build_data_reply(decode(STANDARD))
    assert reply == frame_of(f"QN=20160801085857223;ST=91;CN=9014;PW=100000;MN={MN};Flag=4;CP=&&&&")
    f = decode(reply)
    assert (f.flag, f.version, f.ack_wanted) == (4, 1, False)


def test_request_reply_and_execution_result() -> None:
    req = decode(STANDARD)
    assert build_request_reply(req) == frame_of(
        f"QN=20160801085857223;ST=91;CN=9011;PW=100000;MN={MN};Flag=4;CP=&&QnRtn=1&&"
    )
    assert build_execution_result(req, 2) == frame_of(
        f"QN=20160801085857223;ST=91;CN=9012;PW=100000;MN={MN};Flag=4;CP=&&ExeRtn=2&&"
    )


def test_reply_needs_a_qn() -> None:
    legacy = decode(wrap("ST=39;CN=2011;PW=1;MN=M;CP=&&&&"))
    with pytest.raises(BuildError, match="has no QN"):
        build_data_reply(legacy)


def test_history_request() -> None:
    frame = build_history_request(
        mn="M1",
        pw="123456",
        cn="2061",
        begin=local("2024-05-01T00:00:00"),
        end=local("2024-05-01T23:59:59"),
        qn="20240502080000000",
    )
    assert frame == frame_of(
        "QN=20240502080000000;ST=39;CN=2061;PW=123456;MN=M1;Flag=5;"
        "CP=&&BeginTime=20240501000000;EndTime=20240501235959&&"
    )
    assert decode(frame).cp["EndTime"] == "20240501235959"
    with pytest.raises(BuildError, match="not a history command"):
        build_history_request(
            mn="M1",
            pw="1",
            cn="2011",
            begin=local("2024-05-01T00:00:00"),
            end=local("2024-05-01T00:00:00"),
            qn="",
        )
    with pytest.raises(BuildError, match="after EndTime"):
        build_history_request(
            mn="M1",
            pw="1",
            cn="2051",
            begin=local("2024-05-02T00:00:00"),
            end=local("2024-05-01T00:00:00"),
            qn="20240502080000000",
        )


def test_time_set_and_get() -> None:
    frame = build_time_set(
        mn="M1", pw="123456", system_time=local("2024-05-01T08:00:01"), qn="20240501080001000"
    )
    assert frame == frame_of(
        "QN=20240501080001000;ST=39;CN=1012;PW=123456;MN=M1;Flag=5;CP=&&SystemTime=20240501080001&&"
    )
    with_pol = decode(
        build_time_set(
            mn="M1",
            pw="1",
            system_time=local("2024-05-01T00:00:00"),
            qn="20240501080001000",
            pol_id="a34002",
        )
    )
    assert list(with_pol.cp) == ["PolId", "SystemTime"]
    assert build_time_get(mn="M1", pw="1", qn="20240501080001000") == frame_of(
        "QN=20240501080001000;ST=39;CN=1011;PW=1;MN=M1;Flag=5;CP=&&&&"
    )


def test_data_frame_groups_fields_per_pollutant() -> None:
    frame = build_data_frame(
        mn="M1",
        pw="123456",
        data_time=local("2024-05-01T10:00:00"),
        items=[
            DataItem("a34002", "min", 80.1),
            DataItem("a34002", "avg", "85.30"),  # preformatted keeps its decimals
            DataItem("a34002", "max", 90),
            DataItem("a34004", "rtd", None, None),
        ],
        cn="2051",
    )
    assert frame == frame_of(
        "QN=20240501100000000;ST=39;CN=2051;PW=123456;MN=M1;Flag=5;CP=&&DataTime=20240501100000;"
        "a34002-Min=80.1,a34002-Avg=85.30,a34002-Max=90,a34002-Flag=N;a34004-Rtd=&&"
    )


def test_split_packet_header() -> None:
    frame = build_frame(
        st="39", cn="2011", pw="1", mn="M", flag=7, qn="20240501100000000", pnum=2, pno=1
    )
    assert b";Flag=7;PNUM=2;PNO=1;CP=&&&&" in frame
    f = decode(frame)
    assert (f.split, f.pnum, f.pno) == (True, 2, 1)


def test_encode_round_trips_fixtures(fixture_frames: dict[str, list[bytes]]) -> None:
    for name in ("standard_1062", "dust_rtd_st39", "ambient_minute_st22"):
        for raw in fixture_frames[name]:
            assert encode(decode(raw)) == raw


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (85.3, "85.3"),
        (1e-7, "0.0000001"),
        (1e20, "100000000000000000000"),
        (-0.5, "-0.5"),
        (12, "12"),
        (None, ""),
        ("0.150", "0.150"),
    ],
)
def test_format_value(value: float | str | None, text: str) -> None:
    assert format_value(value) == text


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "1;2", "abc", " 1", True, "nan"])
def test_format_value_rejects(value: object) -> None:
    with pytest.raises(BuildError):
        format_value(value)  # type: ignore[arg-type]


def test_make_qn() -> None:
    assert make_qn(local("2016-08-01T08:58:57.223456")) == "20160801085857223"
    with pytest.raises(BuildError, match="naive"):
        make_qn(datetime(2016, 8, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mn": "M" * 25}, "MN"),
        ({"mn": "A;B"}, "separator"),
        ({"pw": "P" * 65}, "PW"),
        ({"pw": "a&b"}, "separator"),
        ({"st": "3a"}, "ST"),
        ({"cn": "12345678"}, "CN"),
        ({"flag": 256}, "Flag"),
        ({"flag": True}, "Flag"),
        ({"flag": 7}, "PNUM/PNO"),
        ({"pnum": 2, "pno": 1}, "PNUM/PNO"),
        ({"flag": 7, "pnum": 2, "pno": 3}, "PNO 3"),
        ({"qn": "20241301000000000"}, "QN"),
        ({"items": [DataItem("a34002", "avgx", 1.0)]}, "unknown item kind"),
        ({"items": [DataItem("a34002", "rtd", 1.0)] * 2}, "given twice"),
        (
            {"items": [DataItem("a34002", "min", 1.0, "N"), DataItem("a34002", "max", 2.0, "D")]},
            "two different flags",
        ),
        ({"items": [DataItem("a34002", "rtd", 1.0, "Z")]}, "unknown data flag"),
        ({"extra": {"DataTime": "20240101000000"}}, "pass DataTime"),
        ({"extra": {"Key": "a&&b"}}, "separator"),
        ({"items": [DataItem(f"c{i:05d}", "rtd", 1.0) for i in range(500)]}, "9999"),
    ],
)
def test_builder_refuses_non_standard_input(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"st": "39", "cn": "2011", "pw": "1", "mn": "M", "flag": 5}
    args["qn"] = "20240501100000000"
    args["data_time"] = local("2024-05-01T00:00:00")
    args.update(kwargs)
    with pytest.raises(BuildError, match=message):
        build_frame(**args)  # type: ignore[arg-type]


def test_replies_to_a_modbus_frame_carry_a_modbus_crc(
    fixture_frames: dict[str, list[bytes]],
) -> None:
    """A Modbus-CRC device rejects the standard's CRC (D4C1 where it expects E861)."""
    frame = decode(fixture_frames["modbus_crc"][0], allow_modbus=True)
    assert frame.crc == CRC_MODBUS
    for reply in (build_data_reply(frame), build_request_reply(frame, 3)):
        body = reply.rstrip(b"\r\n")
        assert crc_variant(body[6:-4], body[-4:]) == CRC_MODBUS
        assert decode(reply, allow_modbus=True).qn == frame.qn
        with pytest.raises(HJ212Error, match="CRC-16/MODBUS"):
            decode(reply)  # not the standard's CRC
    std = decode(fixture_frames["dust_rtd_st39"][0])
    body = build_data_reply(std).rstrip(b"\r\n")
    assert crc_variant(body[6:-4], body[-4:]) == CRC_HJ212


def test_wrap_takes_either_crc_variant_and_nothing_else() -> None:
    segment = STANDARD[6:-6]
    assert wrap(segment, CRC_HJ212) == STANDARD
    modbus = wrap(segment, CRC_MODBUS)
    assert modbus[:-6] == STANDARD[:-6] and modbus[-6:-2] == b"%04X" % modbus_crc(segment)
    with pytest.raises(BuildError, match="CRC variant"):
        wrap(segment, "crc32")
