"""HJ 212 ingest end to end: N devices over loopback into the database, against a raw COPY.

Target (issue "Smart sensing", ingest): at least 100,000 readings/s sustained and at least
0.3 of a raw COPY of the same rows on a 2-core machine, with no acknowledged reading lost
(team rule: data acknowledged to a device is on disk).

Run (PostgreSQL; the database is dropped and created, so its name must contain ``bench``)::

    .venv/bin/python bench/ingest.py --devices 100 --duration 30
    .venv/bin/python bench/ingest.py --devices 1000 \\
        --dburl postgresql+psycopg://postgres@127.0.0.1:5432/dustgrid_bench_ingest
    .venv/bin/python bench/ingest.py --sqlite --devices 100   # the same on a temp SQLite file

What it does:

1. creates a dedicated database (PostgreSQL: ``--dburl``, created and dropped through the
   ``postgres`` maintenance database; ``--sqlite``: a temporary file), migrates it with
   Alembic and registers ``--devices`` active dust monitors;
2. starts the real listener IN ITS OWN PROCESS (``dustgrid hj212 listen`` with
   ``DUSTGRID_DATABASE_URL`` set), so the clients do not share its interpreter lock;
3. connects ``--devices`` asyncio clients (one TCP connection each, in this process, or
   spread over ``--client-procs`` processes), each sending CN=2011 real-time frames with 10
   pollutants and ``Flag=5`` (9014 wanted) as fast as the 9014s come back, keeping up to
   ``--window`` frames outstanding per connection; every frame has its own data time (one
   second apart per device, in the past), so every reading is new;
4. measures, over ``--duration`` seconds after ``--warmup``: acknowledged frames x 10 =
   sustained readings/s, and the ack latency (send -> 9014 received) p50/p99;
5. stops sending, waits for the acks still owed, stops the listener (SIGTERM) and checks
   the database: every acknowledged reading must be stored exactly once (``lost`` counts
   acknowledged readings missing or stored a different number of times: must be 0);
6. baseline, same run: a raw binary ``COPY`` (psycopg ``cursor.copy``, ``write_row``) of
   the same number of rows - the same devices, data times, metrics and values - into a fresh
   table with the ``reading`` table's schema and key, committed (SQLite: ``executemany`` of
   a plain INSERT into such a table). Printed: ingest readings/s / COPY rows/s.

Also printed: the machine, the load average, how busy the listener process and the
database backends were (CPU seconds per second of the measured window, and per 1,000
readings - the figure that hardly moves when other programs share the cores), and the
listener's own counters (batches, rows per batch, time per step of a batch) - where the
time goes.

Other options: ``--window`` (frames outstanding per connection, default 8),
``--client-procs N`` (spread the devices over N client processes), ``--env NAME=VALUE``
(a listener setting, e.g. ``DUSTGRID_HJ212_BATCH_MAX=5000``), ``--listener-src DIR`` (run
the listener from another source tree's ``src/``: a before/after comparison in the same
conditions), ``--sql STATEMENT`` (run after migrating: schema experiments), ``--keep``,
``--no-baseline``, ``--strict`` (exit 1 unless every target is met). Exit status 1 when a
reading was lost or a client saw an error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing as mp
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

from _common import LoadSampler, busy_warning, free_port, load_average, machine_lines, percentile
from sqlalchemy import insert
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session

TARGET_READINGS_S: Final = 100_000
TARGET_RATIO: Final = 0.3
MAINTENANCE_DB: Final = "postgres"
DEFAULT_DBURL: Final = "postgresql+psycopg://postgres@127.0.0.1:5432/dustgrid_bench_ingest"
TZ_NAME: Final = "Asia/Shanghai"
MN_PREFIX: Final = "DGBENCH"  # + 6 digits
PASSWORD: Final = "123456"
#: HJ 212 code -> (metric, typical value): ~10 pollutants, as a dust monitor sends.
CODES: Final = {
    "a34001": ("tsp", 180.0),
    "a34002": ("pm10", 85.0),
    "a34004": ("pm25", 42.0),
    "a34005": ("pm1", 25.0),
    "LA": ("noise", 62.0),
    "a01001": ("temperature", 21.0),
    "a01002": ("humidity", 55.0),
    "a01006": ("pressure", 101.3),
    "a01007": ("wind_speed", 2.5),
    "a01008": ("wind_direction", 180.0),
}
ITEMS: Final = len(CODES)
VALUE_CYCLE: Final = 64  # frame k carries value set k % VALUE_CYCLE
DRAIN_S: Final = 60.0  # at the end, wait this long at most for the acks still owed
SERVER_START_S: Final = 60.0


def value_of(code_index: int, k: int) -> float:
    """The value item ``code_index`` of frame ``k`` carries (one decimal, exact in text)."""
    base = list(CODES.values())[code_index][1]
    return round(base + (k % VALUE_CYCLE) * 0.1, 1)


# --- the database -------------------------------------------------------------------------


class Database:
    """A fresh, dedicated database for one run; dropped afterwards unless ``keep``."""

    def __init__(self, dburl: str | None, workdir: Path, keep: bool) -> None:
        self.keep = keep
        self.url: URL = make_url(dburl) if dburl else make_url(f"sqlite:///{workdir / 'ingest.db'}")
        self.backend = self.url.get_backend_name()
        if self.backend not in ("sqlite", "postgresql"):
            sys.exit(f"unsupported database backend {self.backend!r} (sqlite or postgresql)")
        self.url_text = self.url.render_as_string(hide_password=False)

    def _maintenance(self) -> Any:
        import psycopg

        maintenance = self.url.set(drivername="postgresql", database=MAINTENANCE_DB)
        return psycopg.connect(maintenance.render_as_string(hide_password=False), autocommit=True)

    @property
    def name(self) -> str:
        name = self.url.database or ""
        if self.backend == "sqlite":
            return name
        if "bench" not in name or name in (MAINTENANCE_DB, "test", "template0", "template1"):
            sys.exit(
                f"refusing to recreate database {name!r}: the benchmark drops and creates its "
                "database, so its name must contain 'bench' (e.g. dustgrid_bench_ingest)"
            )
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            sys.exit(f"database name {name!r}: use letters, digits and underscores")
        return name

    def create(self) -> None:
        if self.backend == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.name}{suffix}").unlink(missing_ok=True)
            return
        with self._maintenance() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{self.name}"')

    def drop(self) -> None:
        if self.keep or self.backend == "sqlite":  # the SQLite file goes with the temp dir
            return
        with self._maintenance() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def raw_connect(self) -> Any:
        if self.backend == "sqlite":
            conn = sqlite3.connect(self.name, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")  # what the listener uses (durable acks)
            return conn
        import psycopg

        conninfo = self.url.set(drivername="postgresql").render_as_string(hide_password=False)
        return psycopg.connect(conninfo, autocommit=True)

    def version(self) -> str:
        if self.backend == "sqlite":
            return f"SQLite {sqlite3.sqlite_version} (temp file, WAL, synchronous=FULL)"
        import psycopg

        with self._maintenance() as conn:
            server = conn.execute("SHOW server_version").fetchone()[0]
            sync = conn.execute("SHOW synchronous_commit").fetchone()[0]
            fsync = conn.execute("SHOW fsync").fetchone()[0]
        return (
            f"PostgreSQL {server} (psycopg {psycopg.__version__}; "
            f"synchronous_commit={sync}, fsync={fsync})"
        )


def prepare(db: Database, devices: int, sql: Sequence[str] = ()) -> list[tuple[int, str]]:
    """Migrate, run the ``--sql`` statements (schema experiments), register ``devices``
    active dust monitors; return (id, MN) in id order."""
    from dustgrid import migrate
    from dustgrid.db import make_engine
    from dustgrid.devices.models import CrcVariant, Device, DeviceKind, Lifecycle

    migrate.upgrade(db.url_text)
    engine = make_engine(db.url_text)
    try:
        if sql:
            with engine.begin() as conn:
                for statement in sql:
                    conn.exec_driver_sql(statement)
        with Session(engine) as session:
            session.execute(
                insert(Device),
                [
                    {
                        "mn": f"{MN_PREFIX}{i:06d}",
                        "kind": DeviceKind.dust_monitor,
                        "name": f"bench monitor {i}",
                        "password": PASSWORD,
                        "particulate_unit": "ug/m3",
                        "crc_variant": CrcVariant.hj212,
                        "lifecycle": Lifecycle.active,
                        "online": False,
                    }
                    for i in range(1, devices + 1)
                ],
            )
            session.commit()
            rows = session.execute(
                Device.__table__.select()
                .with_only_columns(Device.id, Device.mn)
                .order_by(Device.id)
            ).all()
        if engine.dialect.name == "postgresql":
            with engine.connect() as conn:
                conn.exec_driver_sql("ANALYZE")
                conn.commit()
    finally:
        engine.dispose()
    return [(int(i), str(mn)) for i, mn in rows]


# --- the listener process -------------------------------------------------------------------


class Listener:
    """``dustgrid hj212 listen`` in a child process, its log kept for the counters."""

    def __init__(
        self,
        url: str,
        port: int,
        var_dir: Path,
        env_extra: dict[str, str],
        src: Path | None = None,
    ) -> None:
        self.port = port
        self.log_path = var_dir / "listener.log"
        env = dict(os.environ)
        env.update(
            DUSTGRID_DATABASE_URL=url,
            DUSTGRID_VAR_DIR=str(var_dir),
            DUSTGRID_SECRET_KEY="bench-" + "x" * 40,
            DUSTGRID_TIMEZONE=TZ_NAME,
            DUSTGRID_HJ212_STATS_EVERY_S="0",
            DUSTGRID_HJ212_MAX_CONNECTIONS="100000",
            DUSTGRID_HJ212_IDLE_TIMEOUT_S="600",
            **env_extra,
        )
        exe = Path(sys.executable).with_name("dustgrid")
        cmd = [str(exe)]
        if src is not None or not exe.exists():  # another source tree (A/B): same CLI
            cmd = [sys.executable, "-c", "from dustgrid.cli import main; main()"]
        if src is not None:
            env["PYTHONPATH"] = os.pathsep.join([str(src), env.get("PYTHONPATH", "")])
        self.cmd = [*cmd, "hj212", "listen", "--host", "127.0.0.1", "--port", str(port)]
        self.log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(self.cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + SERVER_START_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"the listener exited ({self.proc.returncode}):\n{self.log_text()}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2),
            ):
                return
            time.sleep(0.1)
        self.stop()
        sys.exit("the listener did not start listening")

    def cpu_seconds(self) -> float:
        return proc_cpu_seconds(self.proc.pid)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode

    def log_text(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text(errors="replace")

    def counters(self) -> dict[str, int]:
        """The last ``hj212 stats:`` line of the listener's log, as a dict."""
        found: dict[str, int] = {}
        for line in self.log_text().splitlines():
            if "hj212 stats:" in line:
                found = {
                    k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line.split("hj212 stats:")[1])
                }
        return found


_CLK_TCK: Final = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads) from /proc."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _CLK_TCK
    except (OSError, IndexError, ValueError):
        return 0.0


def backend_cpu_seconds(dbname: str) -> float:
    """CPU seconds of the PostgreSQL backends connected to ``dbname`` (plus the WAL writer,
    which does the fsyncs of commits), from /proc: what the database spent on us."""
    total = 0.0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if cmd.startswith("postgres: ") and (f" {dbname} " in cmd or "walwriter" in cmd):
            total += proc_cpu_seconds(int(pid))
    return total


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            parts = [int(x) for x in f.readline().split()[1:]]
    except OSError:
        return 0.0, 0.0
    idle = parts[3] + (parts[4] if len(parts) > 4 else 0)
    total = sum(parts[:8])
    return (total - idle) / _CLK_TCK, total / _CLK_TCK


# --- the devices (clients) ------------------------------------------------------------------


#: Frame 0's data time lies this far back: inside the reading time window
#: (``telemetry_max_age_days``, 30 by default; older frames are answered but not stored).
BASE_AGE: Final = timedelta(days=20)


def base_time() -> datetime:
    """Device-local data time of frame 0: midnight ``BASE_AGE`` ago (every reading is new)."""
    now = datetime.now(ZoneInfo(TZ_NAME)).replace(tzinfo=None)
    return (now - BASE_AGE).replace(hour=0, minute=0, second=0, microsecond=0)


class FrameMaker:
    """CN=2011 frames of one device, fast (a template, the codec's CRC): frame ``k`` has
    data time ``base + k`` seconds and QN = that time + ``000``."""

    def __init__(self, mn: str, base: datetime) -> None:
        from dustgrid.ingest.hj212.crc import hj212_crc

        self._crc = hj212_crc
        self._head = f"ST=39;CN=2011;PW={PASSWORD};MN={mn};Flag=5;CP=&&DataTime="
        self._bodies = [
            ";".join(
                f"{code}-Rtd={value_of(i, k):.1f},{code}-Flag=N" for i, code in enumerate(CODES)
            )
            for k in range(VALUE_CYCLE)
        ]
        self._base = base

    def frame(self, k: int) -> tuple[bytes, bytes]:
        """(frame bytes, QN bytes) of frame ``k``."""
        stamp = (self._base + timedelta(seconds=k)).strftime("%Y%m%d%H%M%S")
        qn = stamp + "000"
        seg = f"QN={qn};{self._head}{stamp};{self._bodies[k % VALUE_CYCLE]}&&".encode("ascii")
        return b"##%04d%s%04X\r\n" % (len(seg), seg, self._crc(seg)), qn.encode("ascii")


@dataclass
class ClientResult:
    """What one client process saw (sent to the parent)."""

    acked: dict[str, list[int]] = field(default_factory=dict)  # MN -> acknowledged k
    ack_times: list[float] = field(default_factory=list)  # wall time of each ack
    latencies: list[tuple[float, float]] = field(default_factory=list)  # (ack time, latency s)
    sent: int = 0
    other_frames: int = 0  # frames from the server that were not 9014 (backfill, time)
    errors: list[str] = field(default_factory=list)
    outstanding_at_end: int = 0
    cpu_s: float = 0.0


class DeviceConn(asyncio.Protocol):
    """One device: keeps ``window`` frames outstanding, records each 9014's latency."""

    def __init__(self, mn: str, base: datetime, window: int, res: ClientResult) -> None:
        self.mn = mn
        self.maker = FrameMaker(mn, base)
        self.window = window
        self.res = res
        self.k = 0
        self.pending: dict[bytes, tuple[int, float]] = {}
        self.acked: list[int] = res.acked.setdefault(mn, [])
        self.buf = b""
        self.sending = True
        self.transport: asyncio.Transport | None = None
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.fill()

    def fill(self) -> None:
        if not self.sending or self.transport is None or self.transport.is_closing():
            return
        out = []
        now = time.perf_counter()
        while len(self.pending) < self.window:
            frame, qn = self.maker.frame(self.k)
            self.pending[qn] = (self.k, now)
            self.k += 1
            out.append(frame)
        if out:
            self.res.sent += len(out)
            self.transport.writelines(out)

    def data_received(self, data: bytes) -> None:
        frames = (self.buf + data).split(b"\r\n")
        self.buf = frames.pop()
        now = time.perf_counter()
        for f in frames:
            i = f.find(b"QN=")
            if i < 0 or b";CN=9014;" not in f:
                self.res.other_frames += 1
                continue
            hit = self.pending.pop(f[i + 3 : i + 20], None)
            if hit is None:
                self.res.errors.append(f"{self.mn}: unexpected 9014 {f[:60]!r}")
                continue
            self.acked.append(hit[0])
            self.res.latencies.append((now, now - hit[1]))
        self.fill()

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None or self.sending:
            self.res.errors.append(f"{self.mn}: connection lost ({exc})")
        if not self.closed.done():
            self.closed.set_result(None)


async def drive(
    mns: Sequence[str], port: int, window: int, base: datetime, stop_at: float
) -> ClientResult:
    """Connect every device, send until ``stop_at`` (perf_counter), collect owed acks."""
    loop = asyncio.get_running_loop()
    res = ClientResult()
    conns: list[DeviceConn] = []

    async def connect(mn: str) -> None:
        _, proto = await loop.create_connection(
            lambda: DeviceConn(mn, base, window, res), "127.0.0.1", port
        )
        conns.append(proto)

    for i in range(0, len(mns), 200):  # connect in bursts (accept backlog)
        await asyncio.gather(*(connect(mn) for mn in mns[i : i + 200]))
    await asyncio.sleep(max(0.0, stop_at - time.perf_counter()))
    for c in conns:
        c.sending = False
    deadline = time.perf_counter() + DRAIN_S
    while any(c.pending for c in conns) and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    res.outstanding_at_end = sum(len(c.pending) for c in conns)
    for c in conns:
        if c.transport is not None:
            c.transport.close()
    await asyncio.gather(*(c.closed for c in conns), return_exceptions=True)
    return res


def client_process(
    mns: list[str], port: int, window: int, base: datetime, stop_at_wall: float, out: Any
) -> None:
    """A client process: ``drive`` its devices, send the result back through ``out``."""
    stop_at = time.perf_counter() + (stop_at_wall - time.time())
    res = asyncio.run(drive(mns, port, window, base, stop_at))
    # perf_counter is per process: hand the parent wall-clock times
    shift = time.time() - time.perf_counter()
    res.latencies = [(t + shift, lat) for t, lat in res.latencies]
    res.cpu_s = time.process_time()
    out.send(res)
    out.close()


# --- checking what was stored -----------------------------------------------------------------


def check_stored(
    db: Database, ids: dict[str, int], acked: dict[str, list[int]], base: datetime
) -> tuple[int, int, int]:
    """(acknowledged readings, lost, stored rows): ``lost`` counts acknowledged readings not
    stored exactly once (missing, or a count per frame other than 10)."""
    tz = ZoneInfo(TZ_NAME)
    base_utc = base.replace(tzinfo=tz).astimezone(UTC)
    base_epoch = int(base_utc.timestamp())
    conn = db.raw_connect()
    try:
        if db.backend == "postgresql":
            sql = (
                "SELECT device_id, extract(epoch FROM data_time)::bigint, count(*) "
                "FROM reading GROUP BY 1, 2"
            )
            rows = conn.execute(sql).fetchall()
        else:
            sql = (
                "SELECT device_id, CAST(strftime('%s', data_time) AS INTEGER), count(*) "
                "FROM reading GROUP BY device_id, data_time"
            )
            rows = conn.execute(sql).fetchall()
    finally:
        conn.close()
    stored = {(int(d), int(t) - base_epoch): int(n) for d, t, n in rows}
    lost = 0
    expected = 0
    for mn, ks in acked.items():
        dev = ids[mn]
        if len(set(ks)) != len(ks):
            lost += ITEMS * (len(ks) - len(set(ks)))  # acked twice: cannot be
        for k in ks:
            expected += ITEMS
            n = stored.get((dev, k), 0)
            if n != ITEMS:
                lost += abs(ITEMS - n)
    return expected, lost, sum(stored.values())


# --- the raw COPY baseline --------------------------------------------------------------------


def baseline_rows(
    ids: dict[str, int], acked: dict[str, list[int]], base: datetime, n: int
) -> list[tuple[Any, ...]]:
    """``n`` rows shaped like the listener's: the acknowledged frames' readings."""
    tz = ZoneInfo(TZ_NAME)
    base_utc = base.replace(tzinfo=tz).astimezone(UTC)
    now = datetime.now(UTC)
    metrics = [m for m, _ in CODES.values()]
    rows: list[tuple[Any, ...]] = []
    for mn, ks in acked.items():
        dev = ids[mn]
        for k in ks:
            t = base_utc + timedelta(seconds=k)
            for i, metric in enumerate(metrics):
                rows.append((dev, metric, "rtd", t, value_of(i, k), "N", True, "hj212", now))
            if len(rows) >= n:
                return rows[:n]
    return rows


def raw_copy(db: Database, rows: list[tuple[Any, ...]]) -> float:
    """Seconds for a binary COPY of ``rows`` into a fresh table like ``reading``, committed
    (SQLite: executemany of a plain INSERT, committed)."""
    cols = "device_id, metric, kind, data_time, value, flag, valid, source, received_at"
    conn = db.raw_connect()
    try:
        if db.backend == "postgresql":
            conn.execute("DROP TABLE IF EXISTS reading_rawcopy")
            conn.execute("CREATE TABLE reading_rawcopy (LIKE reading INCLUDING ALL)")
            conn.execute("CHECKPOINT")
            types = ("int4", "text", "text", "timestamptz", "float8", "text", "bool", "text",
                     "timestamptz")  # fmt: skip
            t0 = time.perf_counter()
            copy_sql = f"COPY reading_rawcopy ({cols}) FROM STDIN (FORMAT BINARY)"
            with conn.transaction(), conn.cursor() as cur, cur.copy(copy_sql) as cp:
                cp.set_types(types)
                write = cp.write_row
                for row in rows:
                    write(row)
            elapsed = time.perf_counter() - t0
            conn.execute("DROP TABLE reading_rawcopy")
            return elapsed
        conn.execute("DROP TABLE IF EXISTS reading_rawcopy")
        ddl = conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'reading'"
        ).fetchone()[0]
        conn.execute(ddl.replace("reading", "reading_rawcopy", 1))
        fmt = lambda t: t.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")  # noqa: E731
        t0 = time.perf_counter()
        params = [(r[0], r[1], r[2], fmt(r[3]), r[4], r[5], 1, r[7], fmt(r[8])) for r in rows]
        conn.execute("BEGIN")
        conn.executemany(f"INSERT INTO reading_rawcopy ({cols}) VALUES (?,?,?,?,?,?,?,?,?)", params)
        conn.execute("COMMIT")
        elapsed = time.perf_counter() - t0
        conn.execute("DROP TABLE reading_rawcopy")
        return elapsed
    finally:
        conn.close()


# --- main -------------------------------------------------------------------------------------


def chunks(items: list[str], n: int) -> Iterator[list[str]]:
    size = -(-len(items) // n)
    for i in range(0, len(items), size):
        yield items[i : i + size]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=100, help="simulated devices (connections)")
    parser.add_argument("--duration", type=float, default=30.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=5.0, help="unmeasured seconds first")
    parser.add_argument("--window", type=int, default=8, help="frames outstanding per device")
    parser.add_argument("--dburl", default=None, help=f"PostgreSQL URL (default {DEFAULT_DBURL})")
    parser.add_argument("--sqlite", action="store_true", help="a temp SQLite file instead")
    parser.add_argument("--client-procs", type=int, default=1, help="client processes")
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE",
        help="extra listener setting, e.g. DUSTGRID_HJ212_BATCH_MAX=5000 (repeatable)",
    )  # fmt: skip
    parser.add_argument(
        "--listener-src", type=Path, default=None, metavar="DIR",
        help="run the listener from another source tree (its src/ folder), e.g. an older "
        "version for a before/after comparison on the same machine",
    )  # fmt: skip
    parser.add_argument(
        "--sql", action="append", default=[], metavar="STATEMENT",
        help="run after migrating (schema experiments, e.g. "
        "'ALTER TABLE metric_state SET (fillfactor = 50)'; repeatable)",
    )  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    parser.add_argument("--no-baseline", action="store_true", help="skip the raw COPY")
    parser.add_argument("--strict", action="store_true", help="exit 1 unless every target is met")
    args = parser.parse_args(argv)
    env_extra = dict(e.split("=", 1) for e in args.env)

    tmp = tempfile.TemporaryDirectory(prefix="dustgrid-bench-ingest-")
    workdir = Path(tmp.name)
    db = Database(None if args.sqlite else (args.dburl or DEFAULT_DBURL), workdir, args.keep)
    print(
        f"DustGrid HJ 212 ingest benchmark: {args.devices} devices, window {args.window}, "
        f"{args.duration:g} s measured after {args.warmup:g} s warm-up"
    )
    for line in machine_lines(
        [
            ("database", f"{db.version() if db.backend == 'postgresql' else ''}".strip() or "-"),
            ("client procs", str(args.client_procs)),
            ("listener env", " ".join(args.env) or "(defaults)"),
            ("listener src", str(args.listener_src or "this tree")),
            ("schema extra", "; ".join(args.sql) or "(none)"),
        ]
    ):
        print(line)
    t0 = time.perf_counter()
    db.create()
    devices = prepare(db, args.devices, args.sql)
    if db.backend == "sqlite":
        print(f"database     : {db.version()}")
    ids = {mn: dev_id for dev_id, mn in devices}
    print(f"setup        : migrate + {len(devices)} devices in {time.perf_counter() - t0:.1f} s")

    port = free_port()
    listener = Listener(db.url_text, port, workdir, env_extra, args.listener_src)
    code = 1
    try:
        listener.wait_ready()
        base = base_time()
        mns = [mn for _, mn in devices]
        start_wall = time.time()
        measure_from = start_wall + args.warmup
        measure_to = measure_from + args.duration
        cpu_marks: dict[str, tuple[float, float, float, float]] = {}

        def mark(label: str) -> None:
            busy, total = machine_cpu()
            cpu_marks[label] = (
                listener.cpu_seconds(),
                backend_cpu_seconds(db.name) if db.backend == "postgresql" else 0.0,
                busy,
                total,
            )

        with LoadSampler() as load:
            if args.client_procs <= 1:
                from threading import Timer

                timers = [
                    Timer(max(0.0, measure_from - time.time()), mark, ("from",)),
                    Timer(max(0.0, measure_to - time.time()), mark, ("to",)),
                ]
                for t in timers:
                    t.start()
                stop_at = time.perf_counter() + (measure_to - time.time())
                res = asyncio.run(drive(mns, port, args.window, base, stop_at))
                shift = time.time() - time.perf_counter()
                res.latencies = [(t + shift, lat) for t, lat in res.latencies]
                res.cpu_s = time.process_time()
                results = [res]
                for t in timers:
                    t.join()
            else:
                ctx = mp.get_context("spawn")
                pipes, procs = [], []
                for part in chunks(mns, args.client_procs):
                    recv, send = ctx.Pipe(duplex=False)
                    p = ctx.Process(
                        target=client_process,
                        args=(part, port, args.window, base, measure_to, send),
                    )
                    p.start()
                    pipes.append(recv)
                    procs.append(p)
                time.sleep(max(0.0, measure_from - time.time()))
                mark("from")
                time.sleep(max(0.0, measure_to - time.time()))
                mark("to")
                results = [r.recv() for r in pipes]
                for p in procs:
                    p.join()
        stop_code = listener.stop()
        counters = listener.counters()

        acked: dict[str, list[int]] = {}
        lat_window: list[float] = []
        acks_in_window = 0
        sent = other = outstanding = 0
        errors: list[str] = []
        client_cpu = 0.0
        for r in results:
            for mn, ks in r.acked.items():
                acked.setdefault(mn, []).extend(ks)
            for t, lat in r.latencies:
                if measure_from <= t < measure_to:
                    acks_in_window += 1
                    lat_window.append(lat * 1000)
            sent += r.sent
            other += r.other_frames
            outstanding += r.outstanding_at_end
            errors += r.errors
            client_cpu += r.cpu_s
        total_acked = sum(len(ks) for ks in acked.values())
        rate = acks_in_window * ITEMS / args.duration
        expected, lost, stored = check_stored(db, ids, acked, base)

        print()
        print(f"frames sent          : {sent:,} ({total_acked:,} acknowledged, "
              f"{outstanding} unacknowledged at the end, {other} other server frames)")  # fmt: skip
        print(f"readings stored      : {stored:,} (acknowledged: {expected:,})")
        print(f"readings lost        : {lost:,}  {'OK' if lost == 0 else 'FAIL'} (must be 0)")
        if errors:
            print(f"client errors        : {len(errors)}, first: {errors[:3]}")
        print(f"listener exit        : {stop_code}")
        ok_rate = rate >= TARGET_READINGS_S
        print(
            f"sustained            : {rate:,.0f} readings/s "
            f"({acks_in_window / args.duration:,.0f} frames/s)  "
            f"{'PASS' if ok_rate else 'FAIL'} (target >= {TARGET_READINGS_S:,})"
        )
        if lat_window:
            print(
                f"ack latency          : p50 {percentile(lat_window, 50):.1f} ms, "
                f"p99 {percentile(lat_window, 99):.1f} ms, max {max(lat_window):.1f} ms"
            )
        if "from" in cpu_marks and "to" in cpu_marks:
            a, b = cpu_marks["from"], cpu_marks["to"]
            span = args.duration
            machine_busy = (b[2] - a[2]) / max(1e-9, b[3] - a[3]) * (os.cpu_count() or 1)
            print(
                f"CPU (cores busy)     : listener {(b[0] - a[0]) / span:.2f}, database backends "
                f"{(b[1] - a[1]) / span:.2f}, whole machine {machine_busy:.2f} of "
                f"{os.cpu_count()} (clients: {client_cpu:.1f} s CPU in all)"
            )
            if acks_in_window:
                per_k = 1e6 / (acks_in_window * ITEMS)  # CPU s -> ms per 1,000 readings
                print(
                    f"CPU per 1,000 rdgs   : listener {(b[0] - a[0]) * per_k:.1f} ms, database "
                    f"backends {(b[1] - a[1]) * per_k:.1f} ms (hardly depends on others' load)"
                )
        if counters:
            batches = max(1, counters.get("batches", 0))
            write_ms = counters.get("write_seconds_ms", 0)
            rows_written = counters.get("rows_written", 0)
            print(
                f"listener writer      : {counters.get('batches', 0):,} batches, "
                f"{rows_written / batches:,.0f} rows/batch, {write_ms / batches:.1f} ms/batch "
                f"(writer threads busy {write_ms / 1000:.1f} s in all)"
            )
            steps = [
                (label, counters.get(f"write_{key}_us", 0) / batches / 1000)
                for label, key in (
                    ("rows+states", "prepare"),
                    ("write_readings", "readings"),
                    ("mark_seen_many", "mark_seen"),
                    ("commit", "commit"),
                )
            ]
            if any(ms for _, ms in steps):
                print(
                    "  per batch          : "
                    + ", ".join(f"{label} {ms:.1f} ms" for label, ms in steps)
                )
            print(
                f"  counters           : rows_duplicate={counters.get('rows_duplicate', 0)} "
                f"batch_failures={counters.get('batch_failures', 0)} "
                f"acks_withheld={counters.get('acks_withheld', 0)} "
                f"internal_errors={counters.get('internal_errors', 0)}"
            )
        warning = busy_warning(load.peak, own_load=2.0)
        print(f"load average         : {load_average()} now; peak 1-min {load.peak or 0:.2f}")
        if warning:
            print(
                "WARNING: the machine was busy while measuring (others' load): readings/s and "
                "latencies are depressed, and the COPY baseline runs after the ingest, not "
                "interleaved with it, so a change of load moves the ratio too; the CPU per "
                "1,000 readings is the stable figure"
            )

        ok_ratio = True
        if not args.no_baseline and expected:
            n = expected
            rows = baseline_rows(ids, acked, base, n)
            elapsed = raw_copy(db, rows)
            copy_rate = len(rows) / elapsed
            r = rate / copy_rate
            ok_ratio = r >= TARGET_RATIO
            what = "raw COPY" if db.backend == "postgresql" else "raw executemany INSERT"
            print(
                f"baseline             : {what} of the same {len(rows):,} rows in "
                f"{elapsed:.2f} s = {copy_rate:,.0f} rows/s"
            )
            print(
                f"{'ratio ingest/' + ('COPY' if db.backend == 'postgresql' else 'INSERT'):<21}: "
                f"{r:.2f}  {'PASS' if ok_ratio else 'FAIL'} (target >= {TARGET_RATIO})"
            )
        code = (
            0 if (lost == 0 and not errors and (not args.strict or (ok_rate and ok_ratio))) else 1
        )
    finally:
        if listener.proc.poll() is None:
            listener.stop()
        db.drop()
        tmp.cleanup()
    return code


if __name__ == "__main__":
    sys.exit(main())
