"""The case loop at city scale: a million cases in PostgreSQL, the inbox, the overdue board
and the escalation sweep, with p50/p95/p99 against the targets.

Targets (case-loop issue): an L2 unit's inbox, an officer's to-handle list and the overdue
board answer in under 150 ms at p95; the escalation sweep over all open cases runs in
under 5 s.

Run (PostgreSQL only; about 10 minutes for a million cases on two busy cores)::

    .venv/bin/python bench/cases.py --cases 1000000
    .venv/bin/python bench/cases.py --cases 50000 --samples 20      # a quick look

What it does: creates a dedicated database (default ``dustgrid_bench_cases``; dropped and
created through the ``postgres`` maintenance database; the name must contain ``bench``),
migrates it, loads the demo city (``build_demo(seed=1, n_sites=--sites)``), COPYs
``--cases`` cases (``_cases_data.py`` says how they are spread), ``VACUUM ANALYZE``, then
times, each on a fresh session like a request:

* the inbox page's data for the busiest L2 unit (default tab "to accept"): the tab's page
  of 50 (``repository.filtered`` + ``page``), the tab counts (``tab_counts``) and the rows
  (``views.case_rows``), exactly what ``web/case_pages.inbox`` calls;
* the same for the busiest officer (tab "to handle");
* the L2 unit's overdue tab, and the overdue board (``repository.overdue_board``) as L1
  (every unit) and as the L2 unit;
* ``escalation.sweep`` (reminders, escalations, reviews) in steady state (its previous run
  ``--fresh-minutes`` ago) and on a first run / after an outage (no previous run: every
  overdue open case is escalated, every passed reminder sent), each in a transaction
  rolled back afterwards so every run sees the same data.

``--reuse --keep`` measure again on the loaded database without reloading it (migrating it
first, so a new index is built on the loaded data). To measure an older version of the
code on the same data: downgrade the database to that version's schema, and run this
script with that source tree first on ``PYTHONPATH`` (see docs/performance.md "Cases").

Baseline, measured side by side (interleaved call by call): the SQL statements the
operation issued (captured from the engine on a warm-up call) replayed through a plain
``psycopg`` cursor on one open connection, rows fetched and nothing else. The ratio is
operation p95 / baseline p95: what the ORM, the scope clauses' Python and the row shaping
add on top of the database's own work.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from _cases_data import city_sites, l2_admins, load, rows, table_columns, unknown_columns
from _common import LoadSampler, Timing, busy_warning, machine_lines, measure_interleaved, ratio
from sqlalchemy import Engine, delete, event, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from dustgrid import migrate, wiring
from dustgrid.auth.models import User
from dustgrid.auth.service import load_principal
from dustgrid.cases import escalation, repository, views
from dustgrid.cases.models import OPEN_STATES, Case, CaseSweepMark
from dustgrid.cases.repository import Tab
from dustgrid.config import Settings
from dustgrid.db import make_engine
from dustgrid.demo.city import build_demo
from dustgrid.identity.principal import Principal

TARGET_MS = 150.0
SWEEP_TARGET_S = 5.0
MAINTENANCE_DB = "postgres"
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/dustgrid_bench_cases"
_OPEN = tuple(s.value for s in OPEN_STATES)


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dburl", default=DEFAULT_URL, help="PostgreSQL URL (name with 'bench')")
    ap.add_argument("--cases", type=int, default=1_000_000, help="cases to load")
    ap.add_argument("--sites", type=int, default=2000, help="sites of the demo city")
    ap.add_argument("--samples", type=int, default=50, help="timed calls per read operation")
    ap.add_argument("--sweeps", type=int, default=5, help="timed runs per sweep scenario")
    ap.add_argument(
        "--fresh-minutes",
        type=float,
        default=5.0,
        help="steady sweep: the previous run was this long ago",
    )
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--reuse", action="store_true", help="keep an existing loaded database")
    ap.add_argument("--keep", action="store_true", help="do not drop the database afterwards")
    ap.add_argument("--explain", action="store_true", help="print the plans of the reads")
    return ap.parse_args()  # fmt: skip


# --- the database ---------------------------------------------------------------------------


def _name(url: str) -> str:
    name = make_url(url).database or ""
    if "bench" not in name or name in (MAINTENANCE_DB, "test", "template0", "template1"):
        sys.exit(f"refusing to use database {name!r}: its name must contain 'bench'")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        sys.exit(f"database name {name!r}: use letters, digits and underscores")
    return name


def _dsn(url: str, database: str | None = None) -> str:
    u = make_url(url).set(drivername="postgresql")
    if database:
        u = u.set(database=database)
    return u.render_as_string(hide_password=False)


def _exists(url: str) -> bool:
    with psycopg.connect(_dsn(url, MAINTENANCE_DB), autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (_name(url),))
        return found.fetchone() is not None


def recreate(url: str) -> None:
    name = _name(url)
    with psycopg.connect(_dsn(url, MAINTENANCE_DB), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop(url: str) -> None:
    with psycopg.connect(_dsn(url, MAINTENANCE_DB), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{_name(url)}" WITH (FORCE)')


def build(url: str, args: argparse.Namespace, now: datetime) -> dict[str, float]:
    """Migrate, load the demo city and the cases; returns the seconds each step took."""
    took: dict[str, float] = {}
    t0 = time.perf_counter()
    migrate.upgrade(url)
    took["migrate"] = time.perf_counter() - t0
    engine = make_engine(url)
    t0 = time.perf_counter()
    with Session(engine) as s:
        build_demo(s, seed=1, n_sites=args.sites)
        s.commit()
        sites, admins = city_sites(s), l2_admins(s)
    took["demo city"] = time.perf_counter() - t0
    engine.dispose()
    t0 = time.perf_counter()
    with psycopg.connect(_dsn(url)) as conn:
        columns = table_columns(conn)
        if unknown_columns(columns):
            print(f"note: loaded as NULL (unknown to the generator): {unknown_columns(columns)}")
        lines = rows(args.cases, sites, admins, now, seed=args.seed, columns=columns)
        load(conn, lines, columns)
    took["COPY + indexes"] = time.perf_counter() - t0
    took["vacuum analyze"] = vacuum(url)
    return took


def vacuum(url: str) -> float:
    """VACUUM ANALYZE the case table: statistics, and the visibility map that index-only
    scans need (autovacuum's job in production; the rolled-back sweeps leave dead rows)."""
    t0 = time.perf_counter()
    with psycopg.connect(_dsn(url), autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) case_record")
    return time.perf_counter() - t0


# --- what is measured --------------------------------------------------------------------------


class Capture:
    """Records the SQL (statement, parameters) the engine sends while ``on``."""

    def __init__(self, engine: Engine) -> None:
        self.on, self.statements = False, []  # type: bool, list[tuple[str, Any]]
        self.split = 0
        event.listen(engine, "before_cursor_execute", self._hook)

    def _hook(self, _conn: Any, _cur: Any, stmt: str, params: Any, _ctx: Any, many: bool) -> None:
        if self.on:  # executemany's parameters are a list: keep them apart
            self.statements.append((stmt, Many(params) if many else params))

    def run(self, fn: Callable[[], Any]) -> list[tuple[str, Any]]:
        self.statements, self.on = [], True
        try:
            fn()
        finally:
            self.on = False
        return self.statements


class Many(list):  # type: ignore[type-arg]
    """Parameters of an ``executemany``."""


def execute(cur: psycopg.Cursor[Any], stmt: str, params: Any) -> int:
    """One captured statement on a raw cursor; the rows fetched (all of them)."""
    if isinstance(params, Many):
        cur.executemany(stmt, params)
        return 0
    cur.execute(stmt, params or None)
    return len(cur.fetchall()) if cur.description is not None else 0


def replay(conn: psycopg.Connection[Any], statements: list[tuple[str, Any]]) -> int:
    """Run the captured statements on a raw connection, fetch every row, roll back."""
    with conn.cursor() as cur:
        n = sum(execute(cur, stmt, params) for stmt, params in statements)
    conn.rollback()
    return n


def inbox_page(engine: Engine, p: Principal, tab: Tab, now: datetime) -> int:
    """What ``web/case_pages.inbox`` computes for one page (50 rows)."""
    with Session(engine) as s:
        stmt = repository.filtered(p, tab=tab, now=now)
        items, total = repository.page(s, stmt, offset=0, limit=50,
                                       order_due=tab not in (Tab.all, Tab.reported))  # fmt: skip
        repository.tab_counts(s, p, now)
        views.case_rows(s, items, now, "zh-CN")
        return total


def board(engine: Engine, p: Principal, now: datetime) -> int:
    with Session(engine) as s:
        return len(repository.overdue_board(s, p, now))


SWEEPS = ("reminders", "escalations", "reviews")  # the marks ``escalation`` keeps


def sweep_once(engine: Engine, now: datetime, settings: Settings, *,
               since: datetime | None, cap: Capture | None = None
               ) -> tuple[float, escalation.SweepReport]:  # fmt: skip
    """Seconds one ``escalation.sweep`` takes; the transaction is rolled back afterwards.

    First (untimed) the sweeps' marks are set: the previous run at ``since`` (steady
    state), or no previous run (``since`` None: everything already due, as after an
    outage or on the first run).
    """
    with Session(engine) as s:
        s.execute(delete(CaseSweepMark))
        if since is not None:
            s.add_all(CaseSweepMark(name=name, swept_until=since) for name in SWEEPS)
        s.flush()
        if cap is not None:
            cap.split = len(cap.statements)
        t0 = time.perf_counter()
        report = escalation.sweep(s, now, settings)
        took = time.perf_counter() - t0
        s.rollback()
    return took, report


def sweep_scenario(engine: Engine, cap: Capture, raw: psycopg.Connection[Any], now: datetime,
                   settings: Settings, *, since: datetime | None, n: int
                   ) -> tuple[list[float], list[float], escalation.SweepReport]:  # fmt: skip
    """Our sweep and its captured statements replayed raw, taking turns, ``n`` times each."""
    statements = cap.run(lambda: sweep_once(engine, now, settings, since=since, cap=cap))
    prep, work = statements[: cap.split], statements[cap.split :]
    ours, base = [], []
    report = escalation.SweepReport()
    for _ in range(n):
        took, report = sweep_once(engine, now, settings, since=since)
        ours.append(took)
        with raw.cursor() as cur:
            for stmt, params in prep:
                execute(cur, stmt, params)
            t0 = time.perf_counter()
            for stmt, params in work:
                execute(cur, stmt, params)
            base.append(time.perf_counter() - t0)
        raw.rollback()
    return ours, base, report


def principal(engine: Engine, username: str | None = None, **where: Any) -> Principal:
    with Session(engine) as s:
        stmt = select(User).where(*(getattr(User, k) == v for k, v in where.items()))
        if username:
            stmt = select(User).where(User.username == username)
        user = s.scalars(stmt.order_by(User.id)).first()
        assert user is not None, (username, where)
        return load_principal(s, user)


def busiest(engine: Engine, column: Any, states: tuple[str, ...]) -> int:
    with Session(engine) as s:
        stmt = select(column).where(Case.state.in_(states), column.is_not(None))
        return int(s.scalar(stmt.group_by(column).order_by(func.count().desc()).limit(1)) or 0)


def dataset(engine: Engine, now: datetime) -> list[tuple[str, str]]:
    with Session(engine) as s:
        total = s.scalar(select(func.count()).select_from(Case)) or 0
        open_ = s.scalar(select(func.count()).where(Case.state.in_(_OPEN))) or 0
        late = s.scalar(select(func.count()).where(Case.state.in_(_OPEN), Case.due_at < now))
        size = s.scalar(text("SELECT pg_size_pretty(pg_total_relation_size('case_record'))"))
        pg = s.scalar(text("SHOW server_version"))
    return [("cases", f"{total:,} ({open_:,} open, {late:,} overdue)"),
            ("case_record size", f"{size} with indexes"), ("postgresql", str(pg))]  # fmt: skip


def row(name: str, t: Timing, base: Timing, target: float) -> str:
    ok = "PASS" if t.p95 < target else "FAIL"
    return (f"{name:<46} {t.p50:8.1f} {t.p95:8.1f} {t.p99:8.1f} {base.p95:9.1f} "
            f"{ratio(t.p95, base.p95):>6} {target:7.0f}  {ok}")  # fmt: skip


def main() -> None:
    args = parse_args()
    url = args.dburl
    _name(url)
    wiring.load()  # the scope reaches the demo loader and the scope clauses need
    now = datetime.now(UTC).replace(microsecond=0)
    took: dict[str, float] = {}
    if args.reuse and _exists(url):
        engine = make_engine(url)
        with Session(engine) as s:  # the load's "now": the newest open case is minutes old
            latest = s.scalar(select(func.max(Case.opened_at)).where(Case.state.in_(_OPEN)))
        now = latest or now
        print(f"reusing {_name(url)} (loaded around {now:%Y-%m-%d %H:%M} UTC)")
        t0 = time.perf_counter()
        migrate.upgrade(url)  # a newer migration (an index) applies to the loaded data
        took["migrate"] = time.perf_counter() - t0
        took["vacuum analyze"] = vacuum(url)
    else:
        recreate(url)
        took = build(url, args, now)
        engine = make_engine(url)
    settings = Settings(database_url=url, var_dir=Path(tempfile.mkdtemp()), secret_key="b" * 48)
    cap = Capture(engine)
    l1 = principal(engine, "city_admin")
    unit = busiest(engine, Case.assigned_unit_id, ("dispatched",))
    l2 = principal(engine, role="district_admin", org_unit_id=unit)
    officer = principal(engine, id=busiest(engine, Case.responsible_user_id,
                                           ("accepted", "handling", "penalizing")))  # fmt: skip
    reads: dict[str, Callable[[], Any]] = {
        f"L2 inbox, to accept ({l2.username})": lambda: inbox_page(engine, l2, Tab.to_accept, now),
        f"L2 overdue tab ({l2.username})": lambda: inbox_page(engine, l2, Tab.overdue, now),
        f"officer to handle ({officer.username})": lambda: inbox_page(engine, officer,
                                                                      Tab.to_handle, now),
        "overdue board, L1 (every unit)": lambda: board(engine, l1, now),
        f"overdue board, L2 ({l2.username})": lambda: board(engine, l2, now),
    }  # fmt: skip
    raw = psycopg.connect(_dsn(url))
    fns: dict[str, Callable[[], Any]] = {}
    for name, fn in reads.items():
        statements = cap.run(fn)
        fns[name] = fn
        fns[f"{name} · raw SQL"] = lambda st=statements: replay(raw, st)  # type: ignore[misc]
        if args.explain:
            print(f"\n--- {name}")
            for stmt, params in statements:
                plan = raw.execute("EXPLAIN (ANALYZE, BUFFERS) " + stmt, params or None)
                print("\n".join(r[0] for r in plan.fetchall()))
                raw.rollback()
    with LoadSampler() as load_avg:
        timings = measure_interleaved(fns, n=args.samples, warmup=2)
        steady = now - timedelta(minutes=args.fresh_minutes)
        sweeps = {
            label: sweep_scenario(engine, cap, raw, now, settings, since=since, n=args.sweeps)
            for label, since in ((f"steady, every {args.fresh_minutes:g} min", steady),
                                 ("first run / after an outage", None))
        }  # fmt: skip
    raw.close()
    extra = [("database", _name(url)), *dataset(engine, now),
             *((f"build: {k}", f"{v:.1f} s") for k, v in took.items())]  # fmt: skip
    print("\n".join(machine_lines(extra)))
    print(f"\n{'operation (ms)':<46} {'p50':>8} {'p95':>8} {'p99':>8} {'raw p95':>9} "
          f"{'ratio':>6} {'target':>7}")  # fmt: skip
    for name in reads:
        print(row(name, timings[name], timings[f"{name} · raw SQL"], TARGET_MS))
    print(f"\n{'escalation sweep (s)':<46} {'p50':>8} {'max':>8} {'raw p50':>9} {'ratio':>6}")
    for label, (ours, base, report) in sweeps.items():
        t, b = Timing(label, [x * 1000 for x in ours]), Timing("raw", [x * 1000 for x in base])
        ok = "PASS" if max(ours) < SWEEP_TARGET_S else "FAIL"
        print(f"{'sweep, ' + label:<46} {t.p50 / 1000:8.2f} {max(ours):8.2f} "
              f"{b.p50 / 1000:9.2f} {ratio(t.p50, b.p50):>6}  target {SWEEP_TARGET_S:.0f} s  "
              f"{ok}  ({report})")  # fmt: skip
    warning = busy_warning(load_avg.peak, own_load=1.5)
    if warning:
        print("\n" + warning)
    engine.dispose()
    if not args.keep:
        drop(url)
    else:
        vacuum(url)  # the rolled-back sweeps left dead rows: leave the database clean


if __name__ == "__main__":
    main()
