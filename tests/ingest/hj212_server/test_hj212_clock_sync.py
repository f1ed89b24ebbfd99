"""1011/1012: the server reads a device's clock and sets it when it drifted too far."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta
from zoneinfo import ZoneInfo

from dustgrid.config import Settings
from dustgrid.simulator.device import DeviceSpec, Faults, SimDevice
from dustgrid.simulator.model import Background, SiteModel
from tests.ingest.hj212_server.hj_support import TZ_NAME, serving


def test_drifted_device_clock_is_read_and_set(hj_settings: Settings, make_device) -> None:
    dev = make_device()
    settings = hj_settings.model_copy(update={"hj212_time_drift_s": 60})

    async def scenario() -> None:
        async with serving(settings) as (srv, port):
            sim = SimDevice(
                spec=DeviceSpec(dev.mn, dev.pw, seed=3),
                model=SiteModel(3, Background({})),
                host="127.0.0.1",
                port=port,
                interval=0.3,
                speedup=1.0,
                faults=Faults(),
                tz=ZoneInfo(TZ_NAME),
                rng=random.Random(2),
                clock_offset=timedelta(hours=1),  # an hour fast
            )
            stop = asyncio.Event()
            task = asyncio.create_task(sim.run(stop))
            for _ in range(50):
                await asyncio.sleep(0.1)
                if sim.stats["time_set"]:
                    break
            stop.set()
            await task
            assert srv.stats["time_checks"] >= 1 and srv.stats["time_sets"] == 1
            assert abs(sim.clock_offset.total_seconds()) < 3

    asyncio.run(scenario())
