"""The roll-up worker refreshes dirty windows in rounds and survives a failing round."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dustgrid.config import Settings
from dustgrid.telemetry import tasks
from dustgrid.telemetry.models import Rollup, RollupDirty
from dustgrid.telemetry.store import write_readings
from tests.telemetry.telemetry_support import add_device, local, series


def _borrow(db: Session) -> Any:
    @contextmanager
    def factory() -> Iterator[Session]:
        yield db  # the test's session: its commits are savepoints, rolled back at the end

    return factory


def test_refresh_once_commits_a_round(db: Session, settings: Settings) -> None:
    dev = add_device(db, "TASKS0000000001")
    write_readings(db.connection(), series(dev.id, "pm10", local(2024, 5, 1, 10, 0), [5.0] * 20))
    assert tasks.refresh_once(settings, _borrow(db)) == 2
    assert db.scalar(select(func.count()).select_from(RollupDirty)) == 0
    n = db.scalar(select(func.count()).select_from(Rollup).where(Rollup.device_id == dev.id))
    assert n == 2 + 1 + 1  # two quarters, one hour, one day


def test_worker_loop_retries_and_stops(
    db: Session, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"n": 0}
    stop = threading.Event()

    def flaky(_settings: Settings, _factory: Any) -> int:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("database is down")
        if calls["n"] == 2:
            return tasks.ROUND  # a backlog: the next round starts at once
        stop.set()
        return 0

    monkeypatch.setattr(tasks, "refresh_once", flaky)
    fast = settings.model_copy(update={"telemetry_rollup_interval_s": 0.01})
    worker = threading.Thread(
        target=tasks.run_rollup_worker, args=(fast, stop), kwargs={"session_factory": _borrow(db)}
    )
    worker.start()
    worker.join(10)
    assert not worker.is_alive() and calls["n"] == 3
