"""SQLite, the embedded default: concurrent writers queue instead of failing, readers never wait.

The serve process writes from several threads at once (HJ 212 listener, roll-ups, worker,
alert evaluator, web requests). A deferred transaction that read first and then writes
after another writer committed fails at once with "database is locked" (SQLite cannot
wait: its snapshot is stale); writers therefore BEGIN IMMEDIATE, readers stay deferred.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from sqlalchemy import Engine, text

from dustgrid.db import SQLITE_DEFERRED, make_engine


def _engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'lock.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (who TEXT)"))
    return engine


def test_a_writer_that_read_first_waits_for_the_other_writer(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    errors: list[BaseException] = []
    with engine.connect() as first:
        first.begin()
        first.execute(text("SELECT count(*) FROM t")).scalar_one()

        def other_writer() -> None:
            try:
                with engine.begin() as conn:
                    conn.execute(text("INSERT INTO t VALUES ('other')"))
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        thread = threading.Thread(target=other_writer)
        thread.start()
        time.sleep(0.2)  # the other writer is waiting now (before: it committed here)
        first.execute(text("INSERT INTO t VALUES ('first')"))
        first.commit()
        thread.join(10)
    assert errors == []
    with engine.connect() as conn:
        assert sorted(conn.execute(text("SELECT who FROM t")).scalars()) == ["first", "other"]


def test_a_reader_does_not_wait_for_a_writer(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    reader_engine = engine.execution_options(**{SQLITE_DEFERRED: True})
    with engine.connect() as writer:
        writer.begin()
        writer.execute(text("INSERT INTO t VALUES ('uncommitted')"))
        with reader_engine.connect() as reader:
            reader.execute(text("PRAGMA busy_timeout=0"))  # waiting would fail at once
            assert reader.execute(text("SELECT count(*) FROM t")).scalar_one() == 0
        writer.commit()
    with reader_engine.connect() as reader:
        assert reader.execute(text("SELECT count(*) FROM t")).scalar_one() == 1
