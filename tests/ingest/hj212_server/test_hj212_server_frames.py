"""The HJ 212 listener over real loopback sockets: framing, validation, replies, storage."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from dustgrid.config import Settings
from dustgrid.devices.models import CrcVariant
from dustgrid.ingest.hj212 import DataItem, build_data_frame, build_frame, modbus_crc
from tests.ingest.hj212_server.hj_support import (
    Client,
    Dev,
    qn_of,
    quarantined,
    readings,
    rtd,
    serving,
)

T0 = datetime(2024, 5, 1, 10, 0, 0)  # noqa: DTZ001 - device-local (Asia/Shanghai): 02:00 UTC


def _modbus(frame: bytes) -> bytes:
    return frame[:-6] + b"%04X\r\n" % modbus_crc(frame[6:-6])


def test_many_devices_at_once_each_ack_after_storage(
    hj_settings: Settings, hj_engine: Engine, make_device
) -> None:
    devs: list[Dev] = [make_device() for _ in range(20)]

    async def device(port: int, dev: Dev) -> list[str]:
        c = await Client.connect(port)
        acked = []
        for i in range(5):
            frame = rtd(dev, T0 + timedelta(minutes=i))
            await c.send(frame)
            reply = await c.expect("9014")
            acked.append(reply.qn)
        await c.close()
        return acked

    async def scenario() -> None:
        async with serving(hj_settings) as (srv, port):
            results = await asyncio.gather(*(device(port, d) for d in devs))
            assert all(len(r) == 5 for r in results)
            assert srv.stats["internal_errors"] == 0

    asyncio.run(scenario())
    for dev in devs:
        rows = readings(hj_engine, dev.id)
        assert len(rows) == 15  # 5 frames x (pm10, pm25, noise)
        assert rows[0].data_time == datetime(2024, 5, 1, 2, 0, tzinfo=UTC)  # local -> UTC
        assert {r.metric for r in rows} == {"pm10", "pm25", "noise"}


def test_split_across_reads_several_in_one_read_and_garbage(
    hj_settings: Settings, hj_engine: Engine, make_device
) -> None:
    dev = make_device()
    f1, f2, f3, f4 = (rtd(dev, T0 + timedelta(minutes=i)) for i in range(4))

    async def scenario() -> None:
        async with serving(hj_settings) as (srv, port):
            c = await Client.connect(port)
            for chunk in (f1[:7], f1[7:50], f1[50:-1], f1[-1:]):  # one frame, four writes
                await c.send(chunk)
                await asyncio.sleep(0.02)
            assert (await c.expect("9014")).qn == qn_of(f1)
            await c.send(b"\x00\xffjunk" + f2 + b"not a frame\r\n" + f3 + b"##zz" + f4)
            qns = [(await c.expect("9014")).qn for _ in range(3)]
            assert qns == [qn_of(f) for f in (f2, f3, f4)]
            assert srv.stats["stream_garbage"] >= 1
            await c.close()

    asyncio.run(scenario())
    assert len(readings(hj_engine, dev.id)) == 12


def test_bad_crc_gets_no_ack_and_connection_stays_usable(
    hj_settings: Settings, hj_engine: Engine, make_device
) -> None:
    dev = make_device()
    good = rtd(dev, T0)
    bad = good[:-6] + b"0000\r\n"

    async def scenario() -> None:
        async with serving(hj_settings) as (srv, port):
            c = await Client.connect(port)
            await c.send(bad)
            assert await c.silent(0.4)
            await c.send(good)
            assert (await c.expect("9014")).qn == qn_of(good)
            assert srv.stats["bad_crc"] == 1
            await c.close()

    asyncio.run(scenario())
    assert len(readings(hj_engine, dev.id)) == 3


def test_modbus_crc_only_for_devices_configured_so(
    hj_settings: Settings, hj_engine: Engine, make_device
) -> None:
    mb = make_device(crc=CrcVariant.modbus)
    std = make_device()

    async def scenario() -> None:
        async with serving(hj_settings) as (srv, port):
            c = await Client.connect(port)
            await c.send(_modbus(rtd(mb, T0)))
            await c.expect("9014")
            await c.send(_modbus(rtd(std, T0)))
            assert await c.silent(0.4)
            await c.send(rtd(std, T0))  # the same data with the standard CRC is fine
            await c.expect("9014")
            assert srv.stats["modbus_frames"] == 1
            assert srv.stats["rejected_crc_variant"] == 1
            await c.close()

    asyncio.run(scenario())
    assert {r.source for r in readings(hj_engine, mb.id)} == {"hj212mb"}  # flagged
    assert {r.source for r in readings(hj_engine, std.id)} == {"hj212"}
    assert quarantined(hj_engine, std.mn).reason == "crc_variant"


def test_wrong_password_answered_9011_qnrtn_3_and_recorded(
    hj_settings: Settings, hj_engine: Engine, make_device
) -> None:
    dev = make_device(pw="secret1")

    async def scenario() -> None:
        async with serving(hj_settings) as (_srv, port):
            c = await Client.connect(port)
            await c.send(rtd(dev, T0, pw="guess"))
            reply = await c.expect("9011")
            assert reply.cp["QnRtn"] == "3"
            await c.close()

    asyncio.run(scenario())
    assert readings(hj_engine, dev.id) == []
    assert quarantined(hj_engine, dev.mn).reason == "bad_password"


def test_unknown_mn_quarantined_then_adopted(
    hj_settings: Settings, hj_engine: Engine, make_device
) -> None:
    ghost = Dev(0, "GHOST0000000000000000001", "123456")

    async def scenario() -> None:
        async with serving(hj_settings) as (_srv, port):
            c = await Client.connect(port)
            for i in range(2):
                await c.send(rtd(ghost, T0 + timedelta(minutes=i)))
                assert (await c.expect("9011")).cp["QnRtn"] == "4"
            await c.close()

    asyncio.run(scenario())
    row = quarantined(hj_engine, ghost.mn)
    assert row.reason == "unknown_mn" and row.frames == 2
    assert "MN=GHOST" in row.last_frame and row.last_peer.startswith("127.0.0.1")


def test_duplicates_stored_once_invalid_flags_stored_invalid(
    hj_settings: Settings, hj_engine: Engine, make_device
) -> None:
    dev = make_device()
    frame = rtd(dev, T0, flag="D")  # PM10 from a faulty instrument

    async def scenario() -> None:
        async with serving(hj_settings) as (srv, port):
            c = await Client.connect(port)
            for _ in range(3):
                await c.send(frame)
            for _ in range(3):
                await c.expect("9014")  # every copy is answered: each is on disk
            assert srv.stats["rows_duplicate"] == 6
            await c.close()

    asyncio.run(scenario())
    rows = {r.metric: r for r in readings(hj_engine, dev.id)}
    assert len(rows) == 3
    assert rows["pm10"].flag == "D" and rows["pm10"].valid is False
    assert rows["pm10"].value == pytest.approx(85.3)
    assert rows["pm25"].valid is True


def test_mg_per_m3_device_stored_in_ug_per_m3(
    hj_settings: Settings, hj_engine: Engine, make_device
) -> None:
    dev = make_device(unit="mg/m3")

    async def scenario() -> None:
        async with serving(hj_settings) as (_srv, port):
            c = await Client.connect(port)
            await c.send(rtd(dev, T0, pm10=0.0853))
            await c.expect("9014")
            await c.close()

    asyncio.run(scenario())
    rows = {r.metric: r.value for r in readings(hj_engine, dev.id)}
    assert rows["pm10"] == pytest.approx(85.3)
    assert rows["noise"] == pytest.approx(63.4)  # not a particulate: unchanged


def test_split_packets_reassembled_and_acked_once_whole(
    hj_settings: Settings, hj_engine: Engine, make_device
) -> None:
    dev = make_device()
    qn = "20240501100000123"
    parts = [
        build_data_frame(
            mn=dev.mn, pw=dev.pw, data_time=T0, qn=qn, flag=7, pnum=2, pno=i + 1, items=items
        )
        for i, items in enumerate(
            [[DataItem("a34002", "rtd", 80.0)], [DataItem("a34004", "rtd", 40.0)]]
        )
    ]

    async def scenario() -> None:
        async with serving(hj_settings) as (srv, port):
            c = await Client.connect(port)
            await c.send(parts[1])  # out of order
            assert await c.silent(0.3)  # half a packet is not stored, so not acked
            await c.send(parts[0])
            assert (await c.expect("9014")).qn == qn
            assert srv.stats["split_reassembled"] == 1
            await c.close()

    asyncio.run(scenario())
    assert {r.metric for r in readings(hj_engine, dev.id)} == {"pm10", "pm25"}


def test_hour_and_day_data_get_their_own_kinds(
    hj_settings: Settings, hj_engine: Engine, make_device
) -> None:
    dev = make_device()
    items = [DataItem("a34002", "avg", 70.0), DataItem("a34002", "max", 90.0)]

    async def scenario() -> None:
        async with serving(hj_settings) as (_srv, port):
            c = await Client.connect(port)
            for cn, qn in (("2051", "20240501100000001"), ("2061", "20240501100000002")):
                await c.send(
                    build_data_frame(mn=dev.mn, pw=dev.pw, data_time=T0, cn=cn, qn=qn, items=items)
                )
                await c.expect("9014")
            await c.close()

    asyncio.run(scenario())
    kinds = {(r.kind, r.value) for r in readings(hj_engine, dev.id)}
    assert kinds == {("avg", 70.0), ("max", 90.0), ("havg", 70.0), ("hmax", 90.0)}


def test_idle_timeout_closes_the_connection(hj_settings: Settings) -> None:
    settings = hj_settings.model_copy(update={"hj212_idle_timeout_s": 0.3})

    async def scenario() -> None:
        async with serving(settings) as (srv, port):
            c = await Client.connect(port)
            data = await asyncio.wait_for(c.reader.read(100), 3)
            assert data == b""  # closed by the server
            assert srv.stats["idle_timeouts"] == 1

    asyncio.run(scenario())


def test_junk_oversize_and_odd_commands_never_kill_the_connection(
    hj_settings: Settings, hj_engine: Engine, make_device
) -> None:
    dev = make_device()
    settings = hj_settings.model_copy(update={"hj212_max_buffer": 2048})
    odd_cn = build_frame(st="39", cn="4999", pw=dev.pw, mn=dev.mn, qn="20240501100000001")
    time_get = build_frame(st="39", cn="1011", pw=dev.pw, mn=dev.mn, qn="20240501100000002")

    async def scenario() -> None:
        async with serving(settings) as (srv, port):
            c = await Client.connect(port)
            await c.send(b"##9999" + b"A" * 5000)  # declares a frame larger than the cap
            await c.send(bytes(range(256)) * 20)  # binary noise
            await c.send(b"##0010QN=1;ST=39;CP=&&&&0000\r\n")  # framed but broken
            await c.send(odd_cn)
            assert (await c.expect("9011")).cp["QnRtn"] == "8"
            await c.send(time_get)
            answer = await c.expect("1011")
            device_now = datetime.strptime(answer.cp["SystemTime"], "%Y%m%d%H%M%S")  # noqa: DTZ007
            shanghai_now = datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=8)
            assert abs((device_now - shanghai_now).total_seconds()) < 5
            await c.send(rtd(dev, T0))
            await c.expect("9014")
            assert srv.stats["stream_too_large"] >= 1
            assert srv.stats["internal_errors"] == 0
            await c.close()

    asyncio.run(scenario())
    assert len(readings(hj_engine, dev.id)) == 3


def test_a_peer_sending_only_rejected_frames_is_cut_off(hj_settings: Settings) -> None:
    ghost = Dev(0, "GHOST0000000000000000002", "123456")
    frames = b"".join(
        build_data_frame(
            mn=ghost.mn,
            pw="1",
            data_time=T0 + timedelta(seconds=i),
            flag=4,
            items=[DataItem("a34002", "rtd", 1.0)],
        )  # fmt: skip
        for i in range(150)
    )

    async def scenario() -> None:
        async with serving(hj_settings) as (srv, port):
            c = await Client.connect(port)
            await c.send(frames)
            assert await asyncio.wait_for(c.reader.read(), 10) == b""  # hung up
            assert srv.stats["closed_for_rejects"] == 1
            assert srv.stats["rejected_unknown_mn"] == 101

    asyncio.run(scenario())


def test_a_frame_waiting_for_its_look_up_keeps_the_order_of_replies(
    hj_settings: Settings, hj_engine: Engine, make_device
) -> None:
    """Frames of a cached device are handled at once, a new device's after its look-up:
    replies still follow the order of the frames."""
    known, new = make_device(), make_device()
    a1, a2, a3 = (rtd(known, T0 + timedelta(minutes=i)) for i in range(3))
    b1 = rtd(new, T0)
    ghost = rtd(Dev(0, "GHOST0000000000000000003", "123456"), T0)

    async def scenario() -> None:
        async with serving(hj_settings) as (_srv, port):
            c = await Client.connect(port)
            await c.send(a1)
            await c.expect("9014")  # the known device is now in the look-up cache
            await c.send(a2 + b1 + ghost + a3)  # one read: a2 at once, b1 and ghost wait
            replies = [await c.next() for _ in range(4)]
            assert [(r.cn, r.mn) for r in replies] == [
                ("9014", known.mn),
                ("9014", new.mn),
                ("9011", "GHOST0000000000000000003"),
                ("9014", known.mn),
            ]
            assert [r.qn for r in replies] == [qn_of(f) for f in (a2, b1, ghost, a3)]
            await c.close()

    asyncio.run(scenario())
    assert len(readings(hj_engine, known.id)) == 9 and len(readings(hj_engine, new.id)) == 3


def test_replies_still_come_after_the_device_closed_its_side(
    hj_settings: Settings, hj_engine: Engine, make_device
) -> None:
    dev = make_device()
    frames = [rtd(dev, T0 + timedelta(minutes=i)) for i in range(5)]
    ghost = rtd(Dev(0, "GHOST0000000000000000004", "123456"), T0)

    async def scenario() -> None:
        async with serving(hj_settings) as (_srv, port):
            c = await Client.connect(port)
            await c.send(b"".join(frames) + ghost[:-2])  # the last one without its CRLF
            c.writer.write_eof()  # like `nc -q 2`: done sending, still reading
            qns = [(await c.expect("9014")).qn for _ in frames]
            assert qns == [qn_of(f) for f in frames]
            assert (await c.expect("9011")).cp["QnRtn"] == "4"  # answered at EOF, no wait
            assert await asyncio.wait_for(c.reader.read(), 2) == b""  # then closed

    asyncio.run(scenario())
    assert len(readings(hj_engine, dev.id)) == 15


def test_a_fast_sender_is_held_back_not_dropped(
    hj_settings: Settings, hj_engine: Engine, make_device, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More frames than ``hj212_max_inflight`` at once, a slow database: the connection is
    read as replies go out; every frame is stored and acknowledged, in order."""
    from dustgrid.telemetry import store as telemetry_store

    dev = make_device()
    settings = hj_settings.model_copy(update={"hj212_max_inflight": 3})
    original = telemetry_store.write_readings

    def slow_write(conn, rows):  # type: ignore[no-untyped-def]
        time.sleep(0.02)
        return original(conn, rows)

    monkeypatch.setattr(telemetry_store, "write_readings", slow_write)
    frames = [rtd(dev, T0 + timedelta(seconds=i), pm10=float(i)) for i in range(40)]

    async def scenario() -> None:
        async with serving(settings) as (srv, port):
            c = await Client.connect(port)
            await c.send(b"".join(frames))
            qns = [(await c.expect("9014", timeout=20)).qn for _ in frames]
            assert qns == [qn_of(f) for f in frames]
            assert srv.stats["batches"] >= 2
            await c.close()

    asyncio.run(scenario())
    assert sorted(r.value for r in readings(hj_engine, dev.id) if r.metric == "pm10") == [
        float(i) for i in range(40)
    ]


def test_a_frame_replayed_long_after_is_flagged_a_quick_resend_is_not(
    hj_settings: Settings, hj_engine: Engine, make_device
) -> None:
    from sqlalchemy import select, update

    from dustgrid.alerts.models import QualityFlagRow
    from dustgrid.telemetry.models import Reading

    dev = make_device()
    first, second = rtd(dev, T0), rtd(dev, T0 + timedelta(minutes=1))

    async def scenario() -> None:
        async with serving(hj_settings) as (srv, port):
            c = await Client.connect(port)
            for frame in (first, second, second):  # a quick resend of the second
                await c.send(frame)
                await c.expect("9014")
            assert srv.stats["frames_replayed"] == 0
            with hj_engine.begin() as conn:  # as if the first had come an hour ago
                conn.execute(
                    update(Reading)
                    .where(Reading.device_id == dev.id, Reading.data_time == _utc(T0))
                    .values(received_at=datetime.now(UTC) - timedelta(hours=1))
                )
            await c.send(first)
            await c.expect("9014")  # answered and stored once, as every copy
            assert srv.stats["frames_replayed"] == 1
            await c.close()

    asyncio.run(scenario())
    with hj_engine.connect() as conn:
        flags = conn.execute(
            select(QualityFlagRow.kind, QualityFlagRow.start_at).where(
                QualityFlagRow.device_id == dev.id
            )
        ).all()
    assert [(k, t) for k, t in flags] == [("replayed_frame", _utc(T0))]


def _utc(local: datetime) -> datetime:
    from zoneinfo import ZoneInfo

    return local.replace(tzinfo=ZoneInfo("Asia/Shanghai")).astimezone(UTC)
