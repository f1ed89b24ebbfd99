"""Engine and sessions. Services never commit: the request dependency commits or rolls back."""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import anyio
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from dustgrid.config import Settings, get_settings

#: Execution option: begin SQLite transactions deferred (for sessions that only read).
SQLITE_DEFERRED: Final = "dustgrid_sqlite_deferred"
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class PoolLimits:
    """Connections one process may hold, and how long a request waits for one.

    The pool follows the request threads (``web_threads`` + ``db_pool_extra`` for the
    background loops): a thread never waits for a connection another thread of the same
    process could not have needed, and a request that still cannot get one within
    ``timeout_s`` is refused (503 Busy) instead of waiting SQLAlchemy's default 30 s.
    """

    size: int
    timeout_s: float


def pool_limits(settings: Settings) -> PoolLimits:
    return PoolLimits(settings.web_threads + settings.db_pool_extra, settings.db_pool_timeout_s)


def make_engine(url: str, echo: bool = False, pool: PoolLimits | None = None) -> Engine:
    """Create an engine with the pragmas SQLite needs to behave like a server database."""
    parsed = make_url(url)
    kwargs: dict[str, Any] = {"echo": echo, "future": True}
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database
        if db and db != ":memory:":
            Path(db).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    else:
        kwargs["pool_pre_ping"] = True
    if pool is not None and parsed.database not in (None, "", ":memory:"):
        # A fixed pool, no overflow: the limit is the one the threads were sized for.
        kwargs.update(pool_size=pool.size, max_overflow=0, pool_timeout=pool.timeout_s)
    engine = create_engine(url, **kwargs)
    if parsed.get_backend_name() == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin, so
            # that SAVEPOINTs (used by imports and tests) work as documented.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # Writers take the write lock up front (IMMEDIATE): a deferred transaction that
            # reads and then writes cannot wait for a concurrent writer (SQLite answers
            # "database is locked" at once, busy_timeout or not), and the listener, the
            # roll-ups, the worker and the web all write at once. Connections marked
            # READ_ONLY (the web's GET requests) stay deferred so that readers never queue
            # behind writers (WAL).
            deferred = conn.get_execution_options().get(SQLITE_DEFERRED, False)
            conn.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")

    return engine


@lru_cache
def get_engine() -> Engine:
    """The process-wide engine for the configured database."""
    s = get_settings()
    return make_engine(s.database_url, echo=s.sql_echo, pool=pool_limits(s))


@lru_cache
def get_sessionmaker() -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(), expire_on_commit=False)


@lru_cache
def get_read_engine() -> Engine:
    """The process-wide engine for sessions that only read (same pool, deferred BEGIN)."""
    return get_engine().execution_options(**{SQLITE_DEFERRED: True})


async def get_session(request: Request) -> AsyncIterator[Session]:
    """FastAPI dependency: one session per request, committed once at the end.

    Safe methods read through :func:`get_read_engine`, so on SQLite they never wait for
    the listener's or the worker's writes.

    ``async`` on purpose: creating a session touches no connection, so it happens on the
    event loop instead of in a worker thread (FastAPI runs a plain generator's start and
    end in one each); only the end (commit or roll back, close: database round trips)
    goes to a worker thread, shielded so that a cancelled request still returns its
    connection to the pool.
    """
    factory = get_sessionmaker()
    safe = request.method in SAFE_METHODS
    steps = serve(factory(bind=get_read_engine()) if safe else factory())
    session = next(steps)
    try:
        yield session
    except BaseException as exc:
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(_end, steps, exc)
        raise
    with anyio.CancelScope(shield=True):
        await run_in_threadpool(_end, steps, None)


def _end(steps: Generator[Session, None, None], error: BaseException | None) -> None:
    """Run :func:`serve`'s end: commit (``error`` None), or roll back and re-raise."""
    try:
        if error is None:
            next(steps)
        else:
            steps.throw(error)
    except StopIteration:
        return


def serve(session: Session, *, close: bool = True) -> Generator[Session, None, None]:
    """The body of a request's session dependency: yield ``session``, commit at the end,
    roll back on an error unless the error says what it wrote must persist
    (``DomainError.persist``), and close it (unless ``close`` is False: the caller owns it)."""
    try:
        yield session
        session.commit()
    except BaseException as exc:
        if getattr(exc, "persist", False):
            session.commit()
        else:
            session.rollback()
        raise
    finally:
        if close:
            session.close()


def refresh_planner_statistics(session: Session) -> None:
    """``ANALYZE`` after a bulk load (the demo city): without statistics PostgreSQL plans a
    5,000-site ledger page as if the table held 4 rows (a sort of every site per page,
    measured 40 ms instead of 0.6 ms) until autovacuum gets round to it. SQLite's planner
    reads the same statistics (``sqlite_stat1``)."""
    session.execute(text("ANALYZE"))
    session.commit()


def session_scope() -> Session:
    """A session for scripts and the CLI (the caller commits)."""
    return get_sessionmaker()()


def pg_array(values: Iterable[object], quoted: dict[Any, str] | None = None) -> str:
    """A PostgreSQL array literal of ``values`` (``None`` is NULL), to pass as ONE text
    parameter cast in SQL (``%s::int4[]``).

    psycopg dumps a list parameter element by element in Python (a regular expression per
    element in text form), ~8 µs an element: milliseconds of the writer's time per batch,
    taken under the interpreter lock from the event loop. Here numbers are joined in C;
    texts and datetimes (give ``quoted``: few distinct per batch) are quoted once each.
    """
    if quoted is None:
        return "{" + ",".join(["NULL" if v is None else repr(v) for v in values]) + "}"
    out = []
    for v in values:
        text = quoted.get(v)
        if text is None:
            escaped = str(v).replace("\\", "\\\\").replace('"', '\\"')
            text = quoted[v] = "NULL" if v is None else f'"{escaped}"'
        out.append(text)
    return "{" + ",".join(out) + "}"
