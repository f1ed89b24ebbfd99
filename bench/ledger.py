"""Ledger list and map data for a 10,000-site city: p50/p95/p99 through real HTTP.

Target (site-ledger issue): the ledger list and the map data for 10,000 sites answer in under
150 ms at p95.

Run: ``.venv/bin/python bench/ledger.py`` (SQLite in a temp file), or against PostgreSQL::

    .venv/bin/python bench/ledger.py \\
        --dburl postgresql+psycopg://postgres@127.0.0.1:5432/dustgrid_bench

What it does: creates a fresh database (for PostgreSQL a dedicated database, created and
dropped through the ``postgres`` maintenance database; its name must contain ``bench``),
migrates it with Alembic, loads the demo city with ``--sites`` sites, serves the real app
(``create_app``, demo mode, the production ``get_session``/engine) with uvicorn in a thread on
a free port, logs in through ``POST /api/v1/auth/token`` and times ``--requests`` GETs per
endpoint after ``--warmup`` unmeasured ones, over one keep-alive HTTP connection, one request
at a time. Each time is the client's wall clock from sending the request to the last body
byte (token check, principal, queries, serialisation, HTTP).

Baseline, measured side by side in the same run: the SQL the endpoint issued for its data
(captured from the engine during a warm-up request), run through a plain DBAPI cursor
(``sqlite3`` / ``psycopg``) on one open connection, the rows turned into the same JSON shape
with ``json.dumps``. Endpoint and baseline calls take turns (request, baseline, request, …),
so a change in machine load hits both alike. The ratio is endpoint p95 / baseline p95: what
HTTP, the framework, auth, the session and the ORM cost on top of the database and the JSON.

Printed: the machine (platform, CPU, cores, Python, libraries, database and version, load
average before and during the run), then per case p50/p95/p99, rows and body size, PASS/FAIL
against the target, and the baseline with the ratio. A warning says when other work kept
the machine busy (the figures are then inflated). ``CPU ms`` is the median CPU time the
process (client and server threads together) spent per call: it hardly grows when other work
competes for the cores, so it tells a slow machine from a busy one. ``full GC`` counts the
full (generation 2) garbage collections that ran during the measured calls: each one stops
the process for a while, and they are what a p95 far above the p50 usually is. ``--strict``
exits 1 on a FAIL.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import sqlite3
import sys
import tempfile
import threading
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastapi
import httpx
import sqlalchemy
import uvicorn
from _common import (
    LoadSampler,
    Timing,
    busy_warning,
    free_port,
    load_average,
    machine_lines,
    measure_interleaved,
    ratio,
)
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session

TARGET_MS = 150.0
MAINTENANCE_DB = "postgres"
JSON_SEPARATORS = (",", ":")  # what FastAPI's JSONResponse uses


@dataclass(frozen=True)
class Case:
    label: str
    path: str
    params: dict[str, str]
    user: str
    shape: str  # "list" or "map": how the baseline shapes the raw rows


CASES = (
    Case("ledger list, page 1", "/api/v1/sites", {"page": "1", "size": "50"}, "city_admin", "list"),
    Case(
        "ledger list, grade filter, page 3",
        "/api/v1/sites",
        {"grade": "non_compliant", "page": "3", "size": "50"},
        "city_admin",
        "list",
    ),
    Case("ledger list, text search q=住宅", "/api/v1/sites", {"q": "住宅"}, "city_admin", "list"),
    Case("map data, whole city", "/api/v1/sites/map", {}, "city_admin", "map"),
    Case("map data, one district", "/api/v1/sites/map", {}, "hunnan_admin", "map"),
)


# --- the database -----------------------------------------------------------------------------


class Database:
    """A fresh, dedicated database for one run; removed afterwards unless ``keep``."""

    def __init__(self, dburl: str | None, workdir: Path, keep: bool) -> None:
        self.keep = keep
        if dburl is None:
            self.url: URL = make_url(f"sqlite:///{workdir / 'bench.db'}")
        else:
            self.url = make_url(dburl)
        self.backend = self.url.get_backend_name()
        if self.backend not in ("sqlite", "postgresql"):
            sys.exit(f"unsupported database backend {self.backend!r} (sqlite or postgresql)")
        self.url_text = self.url.render_as_string(hide_password=False)

    # PostgreSQL: create/drop through the maintenance database ------------------------------

    def _maintenance(self) -> Any:
        import psycopg

        maintenance = self.url.set(drivername="postgresql", database=MAINTENANCE_DB)
        return psycopg.connect(maintenance.render_as_string(hide_password=False), autocommit=True)

    def _pg_name(self) -> str:
        name = self.url.database or ""
        if "bench" not in name or name in (MAINTENANCE_DB, "test", "template0", "template1"):
            sys.exit(
                f"refusing to recreate database {name!r}: the benchmark drops and creates its "
                "database, so its name must contain 'bench' (e.g. dustgrid_bench)"
            )
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            sys.exit(f"database name {name!r}: use letters, digits and underscores")
        return name

    def create(self) -> None:
        if self.backend == "sqlite":
            path = Path(self.url.database or "")
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            return
        name = self._pg_name()
        with self._maintenance() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')

    def drop(self) -> None:
        if self.keep or self.backend == "sqlite":  # the SQLite file goes with the temp dir
            return
        with self._maintenance() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self._pg_name()}" WITH (FORCE)')

    # plain DBAPI connection for the baseline ------------------------------------------------

    def raw_connect(self) -> Any:
        if self.backend == "sqlite":
            return sqlite3.connect(self.url.database or "")
        import psycopg

        conninfo = self.url.set(drivername="postgresql").render_as_string(hide_password=False)
        return psycopg.connect(conninfo, autocommit=True)

    def version(self) -> str:
        if self.backend == "sqlite":
            return f"SQLite {sqlite3.sqlite_version} (temp file, WAL)"
        import psycopg

        conn = self.raw_connect()
        try:
            server = conn.execute("SHOW server_version").fetchone()[0]
        finally:
            conn.close()
        return f"PostgreSQL {server} (psycopg {psycopg.__version__})"

    def describe(self) -> str:
        return self.url.render_as_string(hide_password=True)


def load_city(url: str, *, sites: int, seed: int) -> str:
    """Migrate and load the demo city; return a one-line account of how long it took."""
    from dustgrid import migrate
    from dustgrid.db import make_engine
    from dustgrid.demo.city import build_demo

    t0 = time.perf_counter()
    migrate.upgrade(url)
    t1 = time.perf_counter()
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            build_demo(session, seed=seed, n_sites=sites)
            session.commit()
        if engine.dialect.name == "postgresql":
            with engine.connect() as conn:  # fresh tables: give the planner statistics
                conn.exec_driver_sql("ANALYZE")
                conn.commit()
    finally:
        engine.dispose()
    t2 = time.perf_counter()
    return f"migrate {t1 - t0:.1f} s, demo city ({sites:,} sites, seed {seed}) {t2 - t1:.1f} s"


# --- the server -------------------------------------------------------------------------------


class LiveApp:
    """The real app over the production settings/engine path, served by uvicorn in a thread."""

    def __init__(self, url: str, var_dir: Path) -> None:
        # Settings are read from the environment (as in production), so the app's own
        # get_settings/get_engine/get_session serve the requests: no dependency overrides.
        os.environ.update(
            DUSTGRID_DATABASE_URL=url,
            DUSTGRID_VAR_DIR=str(var_dir),
            DUSTGRID_DEMO_MODE="true",
            DUSTGRID_COOKIE_SECURE="false",
            DUSTGRID_SECRET_KEY=secrets.token_urlsafe(48),
            DUSTGRID_SQL_ECHO="false",
        )
        from dustgrid.app import create_app
        from dustgrid.config import get_settings
        from dustgrid.db import get_engine, get_sessionmaker

        for cached in (get_settings, get_engine, get_sessionmaker):
            cached.cache_clear()
        settings = get_settings()
        assert settings.database_url == url and settings.demo_mode and not settings.cookie_secure
        self.engine = get_engine()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(settings),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            access_log=False,
            proxy_headers=True,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="uvicorn", daemon=True)
        self.loop_impl = config.loop
        self.http_impl = config.http

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                sys.exit("the server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
        self.engine.dispose()


def login(client: httpx.Client, username: str, password: str) -> dict[str, str]:
    resp = client.post("/api/v1/auth/token", data={"username": username, "password": password})
    if resp.status_code != 200:
        sys.exit(f"login as {username} failed: {resp.status_code} {resp.text}")
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


def capture_sql(engine: Any, call: Callable[[], Any]) -> list[tuple[str, Any]]:
    """The statements (and DBAPI parameters) ``call`` makes the engine run that read ``site``."""
    seen: list[tuple[str, Any]] = []

    def _listener(_c: Any, _cur: Any, statement: str, params: Any, _ctx: Any, _many: bool) -> None:
        seen.append((statement, params))

    event.listen(engine, "before_cursor_execute", _listener)
    try:
        call()
    finally:
        event.remove(engine, "before_cursor_execute", _listener)
    return [(s, p) for s, p in seen if re.search(r"\bFROM site\b", s)]


# --- the baseline -----------------------------------------------------------------------------


def _dbapi_params(params: Any) -> Any:
    if params is None:
        return ()
    if isinstance(params, dict) or hasattr(params, "keys"):
        return dict(params)
    return tuple(params)


def baseline(
    conn: Any, statements: Sequence[tuple[str, Any]], case: Case
) -> Callable[[], tuple[int, bytes]]:
    """A callable running ``statements`` on a plain cursor and ``json.dumps``-ing the rows."""
    prepared = [(sql, _dbapi_params(params)) for sql, params in statements]
    page, size = int(case.params.get("page", 1)), int(case.params.get("size", 50))

    def run() -> tuple[int, bytes]:
        cur = conn.cursor()
        total: int | None = None
        cols: list[str] = []
        rows: list[Any] = []
        for sql, params in prepared:
            cur.execute(sql, params)
            fetched = cur.fetchall()
            if sql.lstrip().lower().startswith("select count("):
                total = int(fetched[0][0])
            else:
                cols = [d[0] for d in cur.description]
                rows = fetched
        cur.close()
        if case.shape == "map":
            idx = [cols.index(c) for c in ("id", "lat", "lon", "grade", "name", "project_code")]
            body: dict[str, Any] = {
                "crs": "wgs84",
                "fields": ["id", "lat", "lon", "grade", "name", "code"],
                "rows": [[r[i] for i in idx] for r in rows],
            }
        else:
            items = [dict(zip(cols, r, strict=True)) for r in rows]
            body = {"items": items, "total": total, "page": page, "size": size}
        text = json.dumps(body, ensure_ascii=False, separators=JSON_SEPARATORS, default=str)
        return len(rows), text.encode("utf-8")

    return run


# --- main -------------------------------------------------------------------------------------


def display_width(text: str) -> int:
    """Terminal columns of ``text`` (CJK characters take two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def pad(text: str, width: int) -> str:
    return text + " " * max(0, width - display_width(text))


def rows_of(case: Case, resp: httpx.Response) -> tuple[int, str]:
    data = resp.json()
    if case.shape == "map":
        return len(data["rows"]), f"{len(data['rows']):,}"
    return len(data["items"]), f"{len(data['items'])} of {data['total']:,}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dburl",
        help="PostgreSQL URL of a dedicated database to (re)create, e.g. "
        "postgresql+psycopg://postgres@127.0.0.1:5432/dustgrid_bench (default: temp SQLite)",
    )
    parser.add_argument("--sites", type=int, default=10_000, help="sites in the demo city")
    parser.add_argument("--seed", type=int, default=1, help="demo city seed")
    parser.add_argument("--requests", type=int, default=200, help="measured requests per case")
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured requests first")
    parser.add_argument("--target-ms", type=float, default=TARGET_MS, help="p95 target")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the database afterwards (SQLite: moved to ./var/bench.db)",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a case fails")
    args = parser.parse_args(argv)

    from dustgrid.demo.city import DEMO_PASSWORD

    load_at_start = load_average()
    tmp = tempfile.TemporaryDirectory(prefix="dustgrid-bench-")
    workdir = Path(tmp.name)
    db = Database(args.dburl, workdir, args.keep)
    db.create()
    app: LiveApp | None = None
    try:
        loaded = load_city(db.url_text, sites=args.sites, seed=args.seed)
        db_version = db.version()
        app = LiveApp(db.url_text, workdir)
        app.start()
        with LoadSampler() as load:
            results = run_cases(args, db, app, DEMO_PASSWORD)
    finally:
        if app is not None:
            app.stop()
        db.drop()
        if args.keep and db.backend == "sqlite":
            kept = Path.cwd() / "var" / "bench.db"
            kept.parent.mkdir(parents=True, exist_ok=True)
            Path(db.url.database or "").replace(kept)
            print(f"kept the database at {kept}")
        tmp.cleanup()

    print(f"DustGrid ledger benchmark: {args.sites:,} sites, {args.requests} requests per case "
          f"after {args.warmup} warm-ups, one keep-alive connection, sequential")  # fmt: skip
    extra = [
        ("database", db_version if db.backend == "sqlite" else f"{db_version} [{db.describe()}]"),
        ("libraries", f"SQLAlchemy {sqlalchemy.__version__}, FastAPI {fastapi.__version__}, "
         f"uvicorn {uvicorn.__version__} (loop {app.loop_impl if app else '?'}, "
         f"http {app.http_impl if app else '?'}), httpx {httpx.__version__}"),
        ("setup", loaded),
        ("load at start", load_at_start),
        ("peak 1-min load", f"{load.peak:.2f} while measuring" if load.peak is not None else "n/a"),
    ]  # fmt: skip
    for line in machine_lines(extra):
        print(line)
    print()
    labels = [
        f"GET {c.path}"
        + ("?" + "&".join(f"{k}={v}" for k, v in c.params.items()) if c.params else "")
        + f"  [{c.user}]"
        for c, *_ in results
    ]
    base_label = "  baseline: same SQL, DBAPI cursor, json.dumps"
    width = max(display_width(x) for x in [*labels, base_label])
    print(
        f"{pad('case', width)} {'rows':>12} {'KiB':>7} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'p99 ms':>8} {'CPU ms':>7} {'full GC':>7}  p95 < {args.target_ms:g} ms?"
    )
    failed = 0
    for label, (_case, ep, raw, rows_text, size) in zip(labels, results, strict=True):
        ok = ep.p95 < args.target_ms
        failed += not ok
        print(
            f"{pad(label, width)} {rows_text:>12} {size / 1024:7.1f} "
            f"{ep.p50:8.1f} {ep.p95:8.1f} {ep.p99:8.1f} {ep.cpu_p50:7.1f} {ep.gc_full:7d}  "
            f"{'PASS' if ok else 'FAIL'}"
        )
        raw_rows, raw_body = raw.result
        print(
            f"{pad(base_label, width)} {raw_rows:>12,} {len(raw_body) / 1024:7.1f} "
            f"{raw.p50:8.1f} {raw.p95:8.1f} {raw.p99:8.1f} {raw.cpu_p50:7.1f} {raw.gc_full:7d}  "
            f"ratio p95 {ratio(ep.p95, raw.p95)}"
        )
    print()
    verdict = "all cases PASS" if not failed else f"{failed} case(s) FAIL"
    print(f"{verdict} (target: p95 < {args.target_ms:g} ms)")
    warning = busy_warning(load.peak)
    if warning:
        print(warning)
    return 1 if failed and args.strict else 0


def run_cases(
    args: argparse.Namespace, db: Database, app: LiveApp, password: str
) -> list[tuple[Case, Timing, Timing, str, int]]:
    results = []
    raw_conn = db.raw_connect()
    with httpx.Client(base_url=app.url, timeout=60.0) as client:
        tokens = {u: login(client, u, password) for u in dict.fromkeys(c.user for c in CASES)}
        for case in CASES:

            def call(case: Case = case) -> httpx.Response:
                resp = client.get(case.path, params=case.params, headers=tokens[case.user])
                if resp.status_code != 200:
                    raise SystemExit(f"{case.label}: HTTP {resp.status_code} {resp.text[:300]}")
                return resp

            statements = capture_sql(app.engine, call)
            if not statements:
                sys.exit(f"{case.label}: no SQL reading the site table was captured")
            timings = measure_interleaved(
                {"app": call, "raw": baseline(raw_conn, statements, case)},
                n=args.requests,
                warmup=args.warmup,
            )
            ep, raw = timings["app"], timings["raw"]
            n_rows, rows_text = rows_of(case, ep.result)
            if raw.result[0] != n_rows:
                sys.exit(f"{case.label}: baseline returned {raw.result[0]} rows, app {n_rows}")
            results.append((case, ep, raw, rows_text, len(ep.result.content)))
    raw_conn.close()
    return results


if __name__ == "__main__":
    sys.exit(main())
