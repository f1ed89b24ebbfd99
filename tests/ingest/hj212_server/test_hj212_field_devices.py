"""What real clients found (issue 9): the public sample frames, a Modbus-CRC device, broken
clocks, long passwords, floods of bad frames - over a real TCP socket, with the recorded
frames of tests/fixtures/hj212 (``public_samples.txt``: eight frames in the shape of the
standard's samples; frame 3 carries a 24-character PW as field devices send it)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from dustgrid.alerts.models import QualityFlagRow
from dustgrid.config import Settings
from dustgrid.devices.models import CrcVariant, Device, DeviceKind, Lifecycle, QuarantinedMN
from dustgrid.ingest.hj212 import (
    CRC_HJ212,
    CRC_MODBUS,
    DataItem,
    FrameSplitter,
    HJ212Error,
    build_data_frame,
    crc_variant,
    decode,
)
from dustgrid.ingest.hj212.loglimit import LogLimiter
from tests.ingest.hj212_server.hj_support import TZ_NAME, Client, Dev, readings, rtd, serving

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "hj212"
SAMPLE_MN = "010000A8900016F000169DC0"
SAMPLE3_MN = "391000A8901200Y0000000X3"
SAMPLE3_PW = "Zq7Lw2Vd9Kp4Rt6Hy1Nm8Xc3"  # 24 characters: more than the standard's 6
MODBUS_MN = "399100A0130009SITE0009"
LOCAL_2024 = datetime(2024, 5, 1)  # noqa: DTZ001 - device-local


def recorded(name: str) -> list[bytes]:
    raw = (FIXTURES / name).read_bytes()
    return [line + b"\r\n" for line in raw.split(b"\r\n") if line]


def register(engine: Engine, mn: str, pw: str, crc: CrcVariant = CrcVariant.hj212) -> Dev:
    """The device of a recorded frame (created, or set to ``pw``/``crc`` if it exists)."""
    with Session(engine) as s:
        d = s.scalar(select(Device).where(Device.mn == mn))
        if d is None:
            d = Device(mn=mn, kind=DeviceKind.dust_monitor, lifecycle=Lifecycle.active)
            s.add(d)
        d.password, d.crc_variant = pw, crc
        s.commit()
        return Dev(d.id, mn, pw)


async def raw_replies(c: Client, count: int, timeout: float = 5.0) -> list[bytes]:
    """The next ``count`` frames the server sends, as bytes (any CRC variant)."""
    splitter, out = FrameSplitter(), list[bytes]()
    while len(out) < count:
        data = await asyncio.wait_for(c.reader.read(65536), timeout)
        if not data:
            raise ConnectionError("server closed the connection")
        out += [r for r in splitter.feed(data) if not isinstance(r, HJ212Error)]
    return out


def _crc_of(frame: bytes) -> str:
    body = frame.rstrip(b"\r\n")
    return crc_variant(body[6:-4], body[-4:])


def local_now() -> datetime:
    return datetime.now(ZoneInfo(TZ_NAME)).replace(tzinfo=None, microsecond=0)


# ----------------------------------------------------------------- the public sample frames


def test_every_public_sample_frame_is_answered(hj_settings: Settings, hj_engine: Engine) -> None:
    frames = recorded("public_samples.txt")
    assert len(frames) == 8
    register(hj_engine, SAMPLE_MN, "123456")
    dev3 = register(hj_engine, SAMPLE3_MN, SAMPLE3_PW)
    want = ["9014", "9014", "9014", "9014", "9014", "9014", "9014", "1011"]

    async def scenario() -> None:
        async with serving(hj_settings) as (srv, port):
            c = await Client.connect(port)
            got = []
            for raw in frames:
                await c.send(raw)
                got.append(await c.next())
            assert [f.cn for f in got] == want
            assert [f.qn for f in got] == [decode(raw).qn for raw in frames]
            assert got[2].pw == SAMPLE3_PW  # answered with the device's own PW
            assert "QnRtn" not in got[4].cp  # CN 2081 is an upload, not an unknown command
            assert srv.stats["internal_errors"] == 0 and srv.stats["unsupported_cn"] == 0
            assert srv.stats["uploads_2081"] == 1 and srv.stats["uploads_2021"] == 1
            assert srv.stats["uploads_2041"] == 1
            await c.close()

    asyncio.run(scenario())
    hour = {(r.metric, r.kind) for r in readings(hj_engine, dev3.id)}
    assert hour == {(m, k) for m in ("pm10", "pm25") for k in ("hmin", "havg", "hmax")}


# ------------------------------------------------------------------------------ passwords


def test_a_24_character_password_gets_9011_when_wrong_and_9014_when_right(
    hj_settings: Settings, hj_engine: Engine
) -> None:
    sample3 = recorded("public_samples.txt")[2]
    register(hj_engine, SAMPLE3_MN, "another-long-password-of-32-char")

    async def scenario() -> None:
        async with serving(hj_settings) as (srv, port):
            c = await Client.connect(port)
            await c.send(sample3)
            refused = await c.expect("9011")
            assert refused.cp["QnRtn"] == "3" and refused.pw == SAMPLE3_PW
            register(hj_engine, SAMPLE3_MN, SAMPLE3_PW)
            srv.directory.forget(SAMPLE3_MN)
            await c.send(sample3)
            assert (await c.expect("9014")).pw == SAMPLE3_PW
            assert srv.stats["internal_errors"] == 0
            await c.close()

    asyncio.run(scenario())


def test_the_api_listener_and_builder_share_one_password_limit(
    hj_settings: Settings, hj_engine: Engine
) -> None:
    from dustgrid.devices.schemas import DeviceUpdate
    from dustgrid.ingest.hj212.codes import MAX_PW_LEN

    longest = "P" * MAX_PW_LEN
    assert DeviceUpdate(password=longest).password == longest
    with pytest.raises(ValueError, match="64"):
        DeviceUpdate(password=longest + "P")
    dev = register(hj_engine, "PWLIMIT0000000000000001", longest)
    when = local_now() - timedelta(minutes=5)

    async def scenario() -> None:
        async with serving(hj_settings) as (srv, port):
            c = await Client.connect(port)
            await c.send(rtd(dev, when))
            assert (await c.expect("9014")).pw == longest
            pw_field = b"PW=" + longest.encode()
            too_long = _recrc(rtd(dev, when).replace(pw_field, pw_field + b"P"))
            await c.send(too_long)  # refused by the decoder: no reply, counted
            assert await c.silent(0.3)
            assert srv.stats["bad_field"] == 1 and srv.stats["internal_errors"] == 0
            await c.close()

    asyncio.run(scenario())


# ----------------------------------------------------------------------------- data times


@pytest.mark.parametrize(
    ("data_time", "verdict"),
    [("99991231235959", "time_ahead"), ("00010101000000", "time_invalid"),
     ("20160801085800", "time_behind")],
)  # fmt: skip
def test_a_reading_outside_the_time_window_is_answered_not_stored(
    hj_settings: Settings, hj_engine: Engine, make_device, data_time: str, verdict: str
) -> None:
    settings = hj_settings.model_copy(update={"telemetry_max_age_days": 30})
    dev = make_device()
    good_time = local_now() - timedelta(minutes=3)
    good = rtd(dev, good_time)
    stamp = good_time.strftime("%Y%m%d%H%M%S")
    bad = build_data_frame(
        mn=dev.mn, pw=dev.pw, data_time=LOCAL_2024, qn="20240501100000000",
        items=[DataItem("a34002", "rtd", 85.3, "N")],
    )  # fmt: skip
    bad = _recrc(bad.replace(b"DataTime=20240501000000", b"DataTime=" + data_time.encode()))
    assert stamp.encode() in good

    async def scenario() -> None:
        async with serving(settings) as (srv, port):
            c = await Client.connect(port)
            await c.send(bad)
            assert (await c.expect("9014")).qn == "20240501100000000"  # no resend loop
            await asyncio.sleep(0.3)
            assert readings(hj_engine, dev.id) == []  # nothing stored
            await c.send(good)
            await c.expect("9014")
            assert srv.stats[f"frames_{verdict}"] == 1
            assert srv.stats["readings_out_of_window"] == 1
            assert srv.stats["internal_errors"] == 0
            await c.close()

    asyncio.run(scenario())
    assert {r.data_time for r in readings(hj_engine, dev.id)} == {
        good_time.replace(tzinfo=ZoneInfo(TZ_NAME)).astimezone(UTC)
    }
    with Session(hj_engine) as s:
        device = s.get(Device, dev.id)
        assert device is not None and device.last_seen_at is not None
        assert device.last_seen_at <= datetime.now(UTC)  # moved by the good frame only
        flags = s.scalars(select(QualityFlagRow).where(QualityFlagRow.device_id == dev.id))
        assert [(f.kind, data_time in f.detail) for f in flags] == [(verdict, True)]


def test_an_out_of_window_frame_alone_does_not_move_last_seen(
    hj_settings: Settings, hj_engine: Engine, make_device
) -> None:
    dev = make_device()
    frame = _recrc(
        rtd(dev, LOCAL_2024).replace(b"DataTime=20240501000000", b"DataTime=99991231235959")
    )

    async def scenario() -> None:
        async with serving(hj_settings) as (_srv, port):
            c = await Client.connect(port)
            await c.send(frame)
            await c.expect("9014")
            await c.close()

    asyncio.run(scenario())
    with Session(hj_engine) as s:
        device = s.get(Device, dev.id)
        assert device is not None and device.last_seen_at is None


def _recrc(frame: bytes) -> bytes:
    from dustgrid.ingest.hj212 import wrap

    body = frame.rstrip(b"\r\n")
    return wrap(body[6:-4])


# ------------------------------------------------------------------------------ Modbus CRC


def test_a_modbus_device_gets_every_reply_in_modbus_crc(
    hj_settings: Settings, hj_engine: Engine
) -> None:
    settings = hj_settings.model_copy(update={"hj212_time_drift_s": 60})
    frames = recorded("modbus_crc.txt")
    assert all(_crc_of(f) == CRC_MODBUS for f in frames)
    dev = register(hj_engine, MODBUS_MN, "123456", CrcVariant.modbus)

    async def scenario() -> None:
        async with serving(settings) as (_srv, port):
            c = await Client.connect(port)
            await c.send(frames[0])
            # our clock request (1011, remembered variant) and the 9014, both Modbus CRC
            first = await raw_replies(c, 2)
            await c.send(frames[1])
            second = await raw_replies(c, 1)
            await c.close()
            replies = first + second
            assert [_crc_of(r) for r in replies] == [CRC_MODBUS] * 3
            cns = sorted(decode(r, allow_modbus=True).cn for r in replies)
            assert cns == ["1011", "9014", "9014"]
            # and a device on the standard's CRC keeps getting the standard's CRC
            std = register(hj_engine, "STDCRC00000000000000001", "123456")
            c = await Client.connect(port)
            await c.send(rtd(std, local_now()))
            assert {_crc_of(r) for r in await raw_replies(c, 2)} == {CRC_HJ212}
            await c.close()

    asyncio.run(scenario())
    assert {r.source for r in readings(hj_engine, dev.id)} == {"hj212mb"}


def test_a_wrong_password_from_a_modbus_device_is_answered_in_modbus(
    hj_settings: Settings, hj_engine: Engine
) -> None:
    register(hj_engine, MODBUS_MN, "not-the-one", CrcVariant.modbus)
    frame = recorded("modbus_crc.txt")[0]

    async def scenario() -> None:
        async with serving(hj_settings) as (_srv, port):
            c = await Client.connect(port)
            await c.send(frame)
            (reply,) = await raw_replies(c, 1)
            assert _crc_of(reply) == CRC_MODBUS
            assert decode(reply, allow_modbus=True).cp["QnRtn"] == "3"
            await c.close()

    asyncio.run(scenario())


# ------------------------------------------------------------------------------------ logs


def test_a_flood_of_bad_frames_logs_one_line_and_counts_the_rest(
    hj_settings: Settings, make_device, caplog: pytest.LogCaptureFixture
) -> None:
    settings = hj_settings.model_copy(update={"hj212_log_every_s": 3600.0})
    dev = make_device()
    frame = rtd(dev, local_now())
    broken = frame[:-6] + (b"0000" if frame[-6:-2] != b"0000" else b"1111") + b"\r\n"

    async def scenario() -> None:
        async with serving(settings) as (srv, port):
            for _ in range(3):  # reconnecting does not reset the quota
                c = await Client.connect(port)
                await c.send(broken * 20)
                await c.send(frame)
                await c.expect("9014")
                await c.close()
            assert srv.stats["bad_crc"] == 60
            assert srv.stats["log_suppressed"] == 59
            with caplog.at_level(logging.INFO, logger="dustgrid.hj212"):
                srv.log_stats()

    with caplog.at_level(logging.DEBUG, logger="dustgrid.hj212"):
        asyncio.run(scenario())
    crc_lines = [r for r in caplog.records if "CRC mismatch" in r.getMessage()]
    assert len(crc_lines) == 1
    assert sum(len(r.getMessage()) for r in crc_lines) < 400  # a line, not a traceback
    stats_line = next(r.getMessage() for r in caplog.records if "hj212 stats" in r.getMessage())
    assert "bad_crc=60" in stats_line and "log_suppressed=59" in stats_line


def test_log_limiter_per_peer_and_reason_with_the_count_held_back() -> None:
    from collections import Counter

    now = [0.0]
    stats: Counter[str] = Counter()
    limiter = LogLimiter(10.0, stats, clock=lambda: now[0])
    assert limiter.allow("10.0.0.1:5000", "bad_crc") == 0
    assert limiter.allow("10.0.0.1:5001", "bad_crc") is None  # same host, new port
    assert limiter.allow("10.0.0.1:5001", "bad_field") == 0  # another reason
    assert limiter.allow("10.0.0.2:5000", "bad_crc") == 0  # another peer
    now[0] = 10.0
    assert limiter.allow("10.0.0.1:5002", "bad_crc") == 1  # one line held back since
    assert stats["log_suppressed"] == 1
    assert LogLimiter(0, stats).allow("p:1", "r") == 0  # 0: every line


# ------------------------------------------------------------------------------ quarantine


def _quarantine(engine: Engine, mn: str) -> dict[str, int]:
    with Session(engine) as s:
        rows = s.scalars(select(QuarantinedMN).where(QuarantinedMN.mn == mn)).all()
        assert all(r.first_seen_at <= r.last_seen_at and r.last_frame for r in rows)
        return {r.reason: r.frames for r in rows}


def test_quarantine_keeps_one_row_per_mn_and_reason(
    hj_settings: Settings, hj_engine: Engine
) -> None:
    register(hj_engine, MODBUS_MN, "123456", CrcVariant.hj212)  # not set to Modbus CRC
    modbus = recorded("modbus_crc.txt")
    wrong_pw = rtd(Dev(0, MODBUS_MN, "x"), local_now())  # the device's PW is 123456
    before = _quarantine(hj_engine, MODBUS_MN)

    async def scenario() -> None:
        async with serving(hj_settings) as (_srv, port):
            c = await Client.connect(port)
            await c.send(wrong_pw)
            await c.expect("9011")
            await c.send(modbus[0])  # a CRC variant the device is not set to: no reply
            await c.send(modbus[1])
            await asyncio.sleep(0.5)
            await c.close()

    asyncio.run(scenario())
    after = _quarantine(hj_engine, MODBUS_MN)
    added = {reason: n - before.get(reason, 0) for reason, n in after.items()}
    assert added == {"bad_password": 1, "crc_variant": 2}
