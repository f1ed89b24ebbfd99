"""Backfill: a device back after a silence is asked for its minute data, which is stored."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from dustgrid.config import Settings
from dustgrid.ingest.hj212 import (
    DataItem,
    build_data_frame,
    build_execution_result,
    build_request_reply,
)
from dustgrid.ingest.hj212.backfill import DONE
from dustgrid.simulator.device import DeviceSpec, Faults, SimDevice
from dustgrid.simulator.model import Background, SiteModel
from tests.ingest.hj212_server.hj_support import TZ_NAME, Client, readings, rtd, serving

TZ = ZoneInfo(TZ_NAME)


def _local(dt: datetime) -> datetime:
    return dt.astimezone(TZ).replace(tzinfo=None, microsecond=0)


def test_reconnect_after_silence_requests_history_and_stores_it(
    hj_settings: Settings, hj_engine: Engine, make_device
) -> None:
    last_seen = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0)
    dev = make_device(last_seen_at=last_seen)

    async def scenario() -> None:
        async with serving(hj_settings) as (srv, port):
            c = await Client.connect(port)
            await c.send(rtd(dev, _local(datetime.now(UTC))))
            await c.expect("9014")
            req = await c.expect("2051")  # after the ack, the history request
            begin = datetime.strptime(req.cp["BeginTime"], "%Y%m%d%H%M%S")  # noqa: DTZ007
            end = datetime.strptime(req.cp["EndTime"], "%Y%m%d%H%M%S")  # noqa: DTZ007
            assert begin == _local(last_seen)
            assert abs((end - _local(datetime.now(UTC))).total_seconds()) < 5
            assert req.ack_wanted and req.mn == dev.mn and req.pw == dev.pw
            assert [b.device_id for b in srv.backfill.pending()] == [dev.id]

            await c.send(build_request_reply(req, 1))
            for minute in (1, 2, 3):
                t = begin.replace(second=0) + timedelta(minutes=minute)
                await c.send(
                    build_data_frame(
                        mn=dev.mn, pw=dev.pw, data_time=t, cn="2051",
                        qn=f"{t:%Y%m%d%H%M%S}{minute:03d}",
                        items=[DataItem("a34002", "avg", 60.0 + minute),
                               DataItem("a34002", "max", 70.0 + minute)],
                    )
                )  # fmt: skip
                await c.expect("9014")
            await c.send(build_execution_result(req, 1))
            await asyncio.sleep(0.2)
            (done,) = srv.backfill.history
            assert done.state == DONE and done.frames == 3
            assert srv.backfill.pending() == []
            # Reconnecting now (just seen) asks for nothing.
            await c.close()
            c2 = await Client.connect(port)
            await c2.send(rtd(dev, _local(datetime.now(UTC)) + timedelta(seconds=1)))
            await c2.expect("9014")
            assert await c2.silent(0.3)
            await c2.close()

    asyncio.run(scenario())
    history = [r for r in readings(hj_engine, dev.id) if r.kind == "avg"]
    first = last_seen.replace(second=0) + timedelta(minutes=1)
    assert [r.data_time for r in history] == [first + timedelta(minutes=i) for i in range(3)]
    assert [r.value for r in history] == [61.0, 62.0, 63.0]


def test_no_backfill_for_a_device_seen_recently_or_never(
    hj_settings: Settings, make_device
) -> None:
    recent = make_device(last_seen_at=datetime.now(UTC) - timedelta(minutes=2))
    new = make_device()

    async def scenario() -> None:
        async with serving(hj_settings) as (srv, port):
            for dev in (recent, new):
                c = await Client.connect(port)
                await c.send(rtd(dev, _local(datetime.now(UTC))))
                await c.expect("9014")
                assert await c.silent(0.3)
                await c.close()
            assert srv.stats["backfill_requests"] == 0

    asyncio.run(scenario())


def test_simulated_device_answers_the_backfill(
    hj_settings: Settings, hj_engine: Engine, make_device
) -> None:
    last_seen = datetime.now(UTC) - timedelta(minutes=20)
    dev = make_device(last_seen_at=last_seen)

    async def scenario() -> None:
        async with serving(hj_settings) as (srv, port):
            sim = SimDevice(
                spec=DeviceSpec(dev.mn, dev.pw, seed=7),
                model=SiteModel(7, Background({})),
                host="127.0.0.1",
                port=port,
                interval=0.5,
                speedup=1.0,
                faults=Faults(),
                tz=TZ,
                rng=random.Random(1),
            )
            stop = asyncio.Event()
            task = asyncio.create_task(sim.run(stop))
            for _ in range(100):
                await asyncio.sleep(0.1)
                if srv.backfill.history:
                    break
            stop.set()
            await task
            assert srv.backfill.history[-1].state == DONE
            assert sim.stats["history_requests"] == 1 and sim.stats["acked"] >= 1

    asyncio.run(scenario())
    minutes = {r.data_time for r in readings(hj_engine, dev.id) if r.kind == "avg"}
    assert len(minutes) >= 19  # every minute of the 20-minute gap
    assert min(minutes) >= last_seen - timedelta(minutes=1)
