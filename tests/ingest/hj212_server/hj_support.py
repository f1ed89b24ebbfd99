"""Helpers of the HJ 212 server tests: a device record, frame builders, a socket client."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select

from dustgrid.config import Settings
from dustgrid.db import SQLITE_DEFERRED
from dustgrid.devices.models import QuarantinedMN
from dustgrid.ingest.hj212 import (
    DataItem,
    Frame,
    FrameSplitter,
    HJ212Error,
    build_data_frame,
    decode,
)
from dustgrid.ingest.hj212.server import Hj212Server
from dustgrid.telemetry.models import Reading

TZ_NAME = "Asia/Shanghai"


@dataclass(frozen=True)
class Dev:
    id: int
    mn: str
    pw: str


def rtd(dev: Dev, when: datetime, *, pm10: float = 85.3, flag: str = "N", **kw: object) -> bytes:
    """A 2011 frame (Flag=5, ack wanted) with PM10, PM2.5 and noise."""
    items = [
        DataItem("a34002", "rtd", pm10, flag),
        DataItem("a34004", "rtd", 41.7, "N"),
        DataItem("LA", "rtd", 63.4, "N"),
    ]
    return build_data_frame(mn=dev.mn, pw=kw.pop("pw", dev.pw), data_time=when, items=items, **kw)  # type: ignore[arg-type]


class Client:
    """A device-side socket: send bytes, read decoded frames from the server."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.splitter = FrameSplitter()
        self.frames: list[Frame] = []

    @classmethod
    async def connect(cls, port: int) -> Client:
        r, w = await asyncio.open_connection("127.0.0.1", port)
        return cls(r, w)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def next(self, timeout: float = 5.0) -> Frame:
        while not self.frames:
            data = await asyncio.wait_for(self.reader.read(65536), timeout)
            if not data:
                raise ConnectionError("server closed the connection")
            for raw in self.splitter.feed(data):
                if not isinstance(raw, HJ212Error):
                    self.frames.append(decode(raw, allow_modbus=True))  # a Modbus device's
        return self.frames.pop(0)

    async def expect(self, cn: str, timeout: float = 5.0) -> Frame:
        frame = await self.next(timeout)
        assert frame.cn == cn, f"expected CN {cn}, got {frame.cn} {frame.cp}"
        return frame

    async def silent(self, seconds: float = 0.3) -> bool:
        """True when nothing arrives for ``seconds``."""
        try:
            await self.next(seconds)
        except TimeoutError:
            return True
        return False

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()


@contextlib.asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[tuple[Hj212Server, int]]:
    """An in-process listener on a free loopback port."""
    srv = Hj212Server(settings)
    port = await srv.start("127.0.0.1", 0)
    try:
        yield srv, port
    finally:
        await srv.close()


def readings(engine: Engine, device_id: int) -> list[Any]:
    """Every stored reading of a device (metric, kind, data_time, value, flag, valid, source).

    Read as a web page reads (a deferred transaction on SQLite: it never waits for a writer).
    """
    with engine.execution_options(**{SQLITE_DEFERRED: True}).connect() as conn:
        return list(
            conn.execute(
                select(
                    Reading.metric,
                    Reading.kind,
                    Reading.data_time,
                    Reading.value,
                    Reading.flag,
                    Reading.valid,
                    Reading.source,
                )
                .where(Reading.device_id == device_id)
                .order_by(Reading.data_time, Reading.metric, Reading.kind)
            ).all()
        )


def quarantined(engine: Engine, mn: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(QuarantinedMN).where(QuarantinedMN.mn == mn)).first()


def qn_of(frame: bytes) -> str:
    """The QN of a frame built by ``build_data_frame`` (``##dddd`` + ``QN=`` + 17 digits)."""
    return frame[9:26].decode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
