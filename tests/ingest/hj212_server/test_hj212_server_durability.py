"""A 9014 is a promise: the frame is on disk. Checked in-process and by SIGKILL-ing a server."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, select

from dustgrid.config import Settings
from dustgrid.ingest.hj212 import FrameSplitter, HJ212Error, decode
from dustgrid.telemetry import store as telemetry_store
from dustgrid.telemetry.models import Reading
from tests.ingest.hj212_server.hj_support import (
    TZ_NAME,
    Client,
    Dev,
    free_port,
    qn_of,
    readings,
    rtd,
    serving,
)

# device-local, recent: inside the reading time window (older frames are acked, not stored)
T0 = (datetime.now(ZoneInfo(TZ_NAME)) - timedelta(hours=2)).replace(tzinfo=None, microsecond=0)
SLOW_S = 0.6


def test_ack_is_sent_only_after_the_commit(
    hj_settings: Settings, hj_engine: Engine, make_device, monkeypatch: pytest.MonkeyPatch
) -> None:
    dev = make_device()
    original = telemetry_store.write_readings

    def slow_write(conn, rows):  # type: ignore[no-untyped-def]
        n = original(conn, rows)
        time.sleep(SLOW_S)  # inserted, not yet committed
        return n

    monkeypatch.setattr(telemetry_store, "write_readings", slow_write)

    async def scenario() -> None:
        async with serving(hj_settings) as (_srv, port):
            c = await Client.connect(port)
            sent = time.monotonic()
            await c.send(rtd(dev, T0))
            await asyncio.sleep(SLOW_S / 2)
            assert readings(hj_engine, dev.id) == []  # being written: no ack yet either
            assert c.frames == [] and await c.silent(0.05)
            await c.expect("9014", timeout=5)
            assert time.monotonic() - sent >= SLOW_S
            assert len(readings(hj_engine, dev.id)) == 3  # visible from another connection
            await c.close()

    asyncio.run(scenario())


# --------------------------------------------------------------------------- SIGKILL


@contextlib.contextmanager
def _listener(db_url: str, port: int, workdir: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "DUSTGRID_DATABASE_URL": db_url,
        "DUSTGRID_VAR_DIR": str(workdir),
        "DUSTGRID_TIMEZONE": TZ_NAME,
        "DUSTGRID_HJ212_BATCH_MS": "5",
        "DUSTGRID_HJ212_STATS_EVERY_S": "0",
    }
    code = "import sys; from dustgrid.cli import main; sys.argv[0] = 'dustgrid'; main()"
    cmd = [sys.executable, "-c", code, "hj212", "listen", "--host", "127.0.0.1"]
    proc = subprocess.Popen(
        [*cmd, "--port", str(port)],
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(workdir / f"listener-{port}-{time.time_ns()}.log", "wb"),  # noqa: SIM115
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("listener did not start") from None
                time.sleep(0.1)
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


async def _stream(port: int, dev: Dev, start: int, count: int, kill_after: int | None,
                  proc: subprocess.Popen[bytes] | None) -> tuple[set[int], int]:  # fmt: skip
    """Send frames ``start..start+count`` pipelined; return (numbers acknowledged, sent).

    With ``kill_after``, SIGKILL the server once that many acks came back (frames still
    in flight), then keep reading until the connection dies.
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    qn_to_i = {}
    acked: set[int] = set()
    sent = 0
    done = asyncio.Event()

    async def read() -> None:
        splitter = FrameSplitter()
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    return
                for raw in splitter.feed(data):
                    if isinstance(raw, HJ212Error):
                        continue
                    frame = decode(raw)
                    if frame.cn == "9014" and frame.qn in qn_to_i:
                        acked.add(qn_to_i[frame.qn])
                        if kill_after is not None and len(acked) == kill_after:
                            assert proc is not None
                            proc.send_signal(signal.SIGKILL)
                if kill_after is None and len(acked) == count:
                    return
        except (ConnectionError, OSError):
            return
        finally:
            done.set()

    reading = asyncio.create_task(read())
    try:
        for i in range(start, start + count):
            frame = rtd(dev, T0 + timedelta(seconds=i), pm10=float(i))
            qn_to_i[qn_of(frame)] = i
            writer.write(frame)
            await writer.drain()
            sent += 1
            if i % 20 == 0:
                await asyncio.sleep(0.005)  # keep several batches in flight
            if done.is_set():
                break
    except (ConnectionError, OSError):
        pass
    await asyncio.wait_for(reading, 30)
    writer.close()
    return acked, sent


def test_sigkill_mid_stream_loses_no_acknowledged_reading(
    hj_db_url: str, hj_engine: Engine, make_device, tmp_path: Path
) -> None:
    dev = make_device()
    port = free_port()
    with _listener(hj_db_url, port, tmp_path) as proc:
        acked_before, sent = asyncio.run(_stream(port, dev, 0, 3000, kill_after=300, proc=proc))
        assert proc.wait(10) == -signal.SIGKILL
    assert len(acked_before) >= 300
    assert sent > len(acked_before)  # killed with frames in flight
    with _listener(hj_db_url, port, tmp_path):  # restart on the same database
        acked_after, _ = asyncio.run(_stream(port, dev, 5000, 50, kill_after=None, proc=None))
    assert len(acked_after) == 50

    stored = {
        int(r.value): r for r in readings(hj_engine, dev.id) if r.metric == "pm10"
    }  # value == frame number
    missing = sorted((acked_before | acked_after) - stored.keys())
    assert not missing, f"acknowledged but not stored: {missing[:10]}"
    for i in acked_before:
        local = T0 + timedelta(seconds=i)
        assert stored[i].data_time == (local - timedelta(hours=8)).replace(tzinfo=UTC)
    with hj_engine.connect() as conn:
        dupes = conn.execute(
            select(Reading.metric, Reading.kind, Reading.data_time, func.count())
            .where(Reading.device_id == dev.id)
            .group_by(Reading.metric, Reading.kind, Reading.data_time)
            .having(func.count() > 1)
        ).all()
    assert dupes == []
