"""Fixtures for the HJ 212 server tests: a database of their own, devices, a socket client.

The server commits through its own engine, so these tests cannot use the rolled-back
session of tests/conftest.py: they get a temporary SQLite file, or - when ``--dburl`` is
PostgreSQL - a database of their own created next to the given one and dropped after.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from dustgrid import migrate
from dustgrid.config import Settings
from dustgrid.db import make_engine
from dustgrid.devices.models import CrcVariant, Device, DeviceKind, Lifecycle
from tests.ingest.hj212_server.hj_support import TZ_NAME, Dev

_MN_SEQ = itertools.count(1)
RECORDED_FRAMES_MAX_AGE_DAYS = 100 * 366


@pytest.fixture(scope="session")
def hj_db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    given = str(request.config.getoption("--dburl"))
    if not given.startswith("postgresql"):
        url = f"sqlite:///{tmp_path_factory.mktemp('hj212db') / 'hj212.db'}"
        migrate.upgrade(url)
        yield url
        return
    base = make_url(given)
    name = f"dg_hj212_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    migrate.upgrade(url)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def hj_engine(hj_db_url: str) -> Iterator[Engine]:
    eng = make_engine(hj_db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def hj_settings(hj_db_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=hj_db_url,
        var_dir=tmp_path,
        secret_key="x" * 40,
        timezone=TZ_NAME,
        hj212_batch_ms=5,
        hj212_stats_every_s=0,
        hj212_device_cache_s=0.2,
        hj212_quarantine_every_s=0,
        hj212_idle_timeout_s=30,
        # the recorded frames and most tests use fixed 2024 data times: a window that takes
        # them (tests of the window itself set their own)
        telemetry_max_age_days=RECORDED_FRAMES_MAX_AGE_DAYS,
    )


@pytest.fixture
def make_device(hj_engine: Engine):  # type: ignore[no-untyped-def]
    """``make_device(unit="mg/m3", crc=CrcVariant.modbus, ...)`` -> a committed device."""

    def _make(
        *,
        unit: str = "ug/m3",
        crc: CrcVariant = CrcVariant.hj212,
        pw: str = "123456",
        lifecycle: Lifecycle = Lifecycle.active,
        last_seen_at: datetime | None = None,
    ) -> Dev:
        mn = f"T{os.getpid() % 100000:05d}{uuid.uuid4().hex[:8].upper()}{next(_MN_SEQ):04d}"
        with Session(hj_engine) as s:
            d = Device(
                mn=mn,
                kind=DeviceKind.dust_monitor,
                password=pw,
                particulate_unit=unit,
                crc_variant=crc,
                lifecycle=lifecycle,
                last_seen_at=last_seen_at,
            )
            s.add(d)
            s.commit()
            return Dev(d.id, mn, pw)

    return _make
