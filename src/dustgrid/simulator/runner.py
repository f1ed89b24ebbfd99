"""``dustgrid simulate``: run N simulated devices against an HJ 212 server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from dustgrid.config import Settings

from .demo_devices import DEMO_DEVICE_PASSWORD, DEMO_MN_PREFIX, make_mn
from .device import DeviceSpec, Faults, SimDevice
from .model import Background, SiteModel, hash_key

log = logging.getLogger("dustgrid.simulator")

__all__ = ["Faults", "SimOptions", "SimReport", "device_specs", "run_simulation"]


@dataclass
class SimOptions:
    devices: int = 5
    host: str = "127.0.0.1"
    port: int = 9212
    duration: float | None = None
    interval: float = 60.0
    speedup: float = 1.0
    mn_prefix: str = ""
    mns: list[str] = field(default_factory=list)
    password: str = ""
    from_db: bool = False
    seed: int = 1
    background_csv: Path | None = None
    faults: Faults = field(default_factory=Faults)
    dusty: float = 0.0  # share of devices at sites whose dust control failed


def device_specs(options: SimOptions, settings: Settings | None = None) -> list[DeviceSpec]:
    """Which devices to be: from the database, explicit MNs, or generated ones."""
    password = options.password or DEMO_DEVICE_PASSWORD
    if options.from_db:
        from dustgrid.db import make_engine
        from dustgrid.devices.models import CrcVariant, Device, DeviceKind, Lifecycle

        assert settings is not None
        engine = make_engine(settings.database_url)
        try:
            with engine.connect() as conn:
                rows = conn.execute(
                    select(Device.mn, Device.password, Device.particulate_unit, Device.crc_variant)
                    .where(
                        Device.kind == DeviceKind.dust_monitor, Device.lifecycle == Lifecycle.active
                    )
                    .order_by(Device.id)
                    .limit(options.devices)
                ).all()
        finally:
            engine.dispose()
        return [
            DeviceSpec(mn, pw or password, unit or "ug/m3", crc == CrcVariant.modbus, hash_key(mn))
            for mn, pw, unit, crc in rows
        ]
    mns = list(options.mns) or [
        make_mn(options.mn_prefix or DEMO_MN_PREFIX, i) for i in range(1, options.devices + 1)
    ]
    return [DeviceSpec(mn, password, seed=hash_key(options.seed, mn)) for mn in mns]


@dataclass
class SimReport:
    """The devices after a run; ``str()`` is the one-line summary the CLI prints."""

    devices: list[SimDevice]

    def totals(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for dev in self.devices:
            total.update(dev.stats)
        return total

    def __str__(self) -> str:
        if not self.devices:
            return "no devices to simulate (with --from-db: run `dustgrid demo` first)"
        counters = " ".join(f"{k}={v}" for k, v in sorted(self.totals().items()))
        return f"simulated {len(self.devices)} devices: {counters}"


def is_dusty(spec: DeviceSpec, share: float) -> bool:
    """Whether this device's site lacks dust control: the same devices on every run."""
    return share > 0 and random.Random(hash_key(spec.seed, "dusty")).random() < share


async def run_simulation(options: SimOptions, settings: Settings) -> SimReport:
    """Run until ``duration`` (or SIGINT/SIGTERM)."""
    specs = device_specs(options, settings)
    if not specs:
        return SimReport([])
    background = Background.load(options.background_csv)
    tz = ZoneInfo(settings.timezone)
    rng = random.Random(options.seed)
    devices = [
        SimDevice(
            spec=spec,
            model=SiteModel(spec.seed, background, dusty=is_dusty(spec, options.dusty)),
            host=options.host,
            port=options.port,
            interval=options.interval,
            speedup=options.speedup,
            faults=options.faults,
            tz=tz,
            rng=random.Random(rng.random()),
        )
        for spec in specs
    ]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    log.info(
        "simulating %d devices -> %s:%s every %.1f s (background: %s)",
        len(devices),
        options.host,
        options.port,
        options.interval,
        "PRSA CSV" if background.real else "synthetic",
    )

    async def _stagger(i: int, dev: SimDevice) -> None:
        # Spread first connections over one interval, as real devices are not in step.
        await asyncio.sleep(options.interval * i / max(1, len(devices)))
        await dev.run(stop)

    tasks = [asyncio.create_task(_stagger(i, d)) for i, d in enumerate(devices)]
    if options.duration is not None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), options.duration)
        stop.set()
    else:
        await stop.wait()
    await asyncio.gather(*tasks, return_exceptions=True)
    return SimReport(devices)
