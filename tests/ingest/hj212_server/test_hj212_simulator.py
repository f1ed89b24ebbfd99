"""The simulator: a plausible signal, repeatable history, faults the server survives."""

from __future__ import annotations

import asyncio
import statistics
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from dustgrid.config import Settings
from dustgrid.devices.models import Device, Lifecycle
from dustgrid.simulator.demo_devices import (
    DEMO_DEVICE_PASSWORD,
    DEMO_MN_PREFIX,
    ensure_demo_devices,
)
from dustgrid.simulator.device import DeviceSpec, Faults
from dustgrid.simulator.model import LA_CODE, PM10, PM25, TSP, Background, SiteModel
from dustgrid.simulator.runner import SimOptions, SimReport, is_dusty, run_simulation
from tests.fixtures.city import City
from tests.ingest.hj212_server.hj_support import TZ_NAME, readings, serving

DAY = datetime(2024, 4, 10)  # noqa: DTZ001 - device-local model time


def _mean(model: SiteModel, hour: int, code: str) -> float:
    return statistics.mean(
        model.values(DAY + timedelta(days=d, hours=hour, minutes=m))[code]
        for d in range(7)
        for m in range(0, 60, 10)
    )


def test_a_dusty_site_exceeds_the_liaoning_tsp_limit_while_working() -> None:
    calm, dusty = SiteModel(42, Background({})), SiteModel(42, Background({}), dusty=True)
    assert _mean(dusty, 10, TSP) > 800 > _mean(calm, 10, TSP)  # 0.8 mg/m³, built-up areas
    assert _mean(dusty, 3, TSP) < 800  # at night the site is quiet
    specs = [DeviceSpec(f"DG{i:04d}", "pw", seed=i) for i in range(200)]
    assert not any(is_dusty(s, 0.0) for s in specs) and all(is_dusty(s, 1.0) for s in specs)
    share = sum(is_dusty(s, 0.1) for s in specs) / len(specs)
    assert 0.03 < share < 0.2 and [is_dusty(s, 0.1) for s in specs] == [
        is_dusty(s, 0.1) for s in specs
    ]


def test_model_has_diurnal_shape_noise_ranges_and_is_repeatable() -> None:
    model = SiteModel(42, Background({}))
    assert _mean(model, 8, PM10) > _mean(model, 3, PM10)  # morning peak over the night
    assert _mean(model, 19, PM10) > _mean(model, 3, PM10)  # evening peak
    for minute in range(0, 24 * 60, 7):
        t = DAY + timedelta(minutes=minute)
        v = model.values(t)
        assert v[PM25] <= v[PM10]
        lo, hi = (50, 75) if 6 <= t.hour < 22 else (40, 55)
        assert lo <= v[LA_CODE] <= hi
        assert model.values(t) == v  # a pure function of time: history repeats itself


def test_background_comes_from_the_prsa_csv_when_present(tmp_path: Path) -> None:
    csv = tmp_path / "station.csv"
    csv.write_text(
        '"No","year","month","day","hour","PM2.5","PM10","station"\n'
        '1,2016,4,10,8,150,300,"X"\n'
        '2,2016,4,10,9,NA,NA,"X"\n'
    )
    bg = Background.load(csv)
    assert bg.real and bg.at(datetime(2025, 4, 10, 8, 0)) == (150.0, 300.0)  # noqa: DTZ001
    assert not Background.load(tmp_path / "missing.csv").real


def test_simulation_with_faults_only_loses_nothing_it_was_acked_for(
    hj_settings: Settings, hj_engine: Engine, make_device
) -> None:
    devs = [make_device() for _ in range(4)]
    faults = Faults(
        garbage=0.2, bad_crc=0.15, split=0.3, split_packets=0.15, duplicates=0.2,
        out_of_order=0.1, modbus_crc=0.1,
    )  # fmt: skip

    async def scenario() -> SimReport:
        async with serving(hj_settings) as (srv, port):
            options = SimOptions(
                host="127.0.0.1", port=port, duration=4.0, interval=0.25, speedup=60,
                mns=[d.mn for d in devs], password=devs[0].pw, seed=3, faults=faults,
            )  # fmt: skip
            report = await run_simulation(options, hj_settings)
            assert srv.stats["internal_errors"] == 0
            assert srv.stats["bad_crc"] >= 1 and srv.stats["stream_garbage"] >= 1
            assert srv.stats["split_reassembled"] >= 1
            return report

    report = asyncio.run(scenario())
    totals = report.totals()
    assert totals["acked"] >= 20 and totals["ack_timeouts"] >= 1 and totals["duplicates"] >= 1
    tz = ZoneInfo(TZ_NAME)
    for dev, sim in zip(devs, report.devices, strict=True):
        assert sim.spec.mn == dev.mn
        stored = {r.data_time for r in readings(hj_engine, dev.id) if r.metric == "pm10"}
        acked = {t.replace(tzinfo=tz).astimezone(UTC) for t in sim.acked}
        assert acked and acked <= stored


def test_demo_devices_are_idempotent(db: Session, city: City) -> None:
    first = ensure_demo_devices(db, 3)
    again = ensure_demo_devices(db, 3)
    assert first == again and len(first) >= 1
    assert all(mn.startswith(DEMO_MN_PREFIX) for mn in first)
    devices = db.scalars(select(Device).where(Device.mn.in_(first))).all()
    assert len(devices) == len(first)
    assert all(
        d.lifecycle == Lifecycle.active and d.password == DEMO_DEVICE_PASSWORD and d.site_id
        for d in devices
    )
