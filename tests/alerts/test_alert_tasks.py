"""The alert worker's round: parts in their own transactions, resumable, throttled tasks."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from dustgrid.alerts import tasks
from dustgrid.alerts.evaluate import prune_windows
from dustgrid.alerts.models import AlertWindow, AlertWindowState
from tests.alerts.alert_kit import (
    POLICY,
    TZ,
    add_device,
    alerts_of,
    local,
    rows,
    run,
    store,
    use_rule,
)
from tests.fixtures.city import City


def _factory(db: Session):  # type: ignore[no-untyped-def]
    return lambda: Session(bind=db.connection(), join_transaction_mode="create_savepoint")


def test_round_resumes_and_throttles(db: Session, city: City) -> None:
    use_rule(db, city, "shanghai-db31-964-2016")
    dev = add_device(db, city, "TASK0000000001", site="HP-003").id
    store(
        db, rows(dev, "pm10", local(2026, 11, 20, 10, 0), [120.0] * 15), local(2026, 11, 20, 10, 16)
    )
    db.commit()
    first = tasks.run_round(_factory(db), now=local(2026, 11, 20, 10, 18), tz=TZ, policy=POLICY)
    assert not first.failed and first.parts["exceedance"].raised == 1
    assert first.parts["quality"] is not None and first.parts["prune"] is not None
    # a new process: everything it needs is in the database
    again = tasks.run_round(_factory(db), now=local(2026, 11, 20, 10, 19), tz=TZ, policy=POLICY)
    assert again.parts["exceedance"].windows == 0 and again.parts["exceedance"].raised == 0
    assert again.parts["quality"] is None  # not due yet (quality_every)
    (alert,) = alerts_of(db, city.sites["HP-003"])
    assert alert.started_at == local(2026, 11, 20, 10, 0)


def test_a_failing_part_does_not_stop_the_others(
    db: Session, city: City, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*_a: object, **_k: object) -> None:
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(tasks, "evaluate_exceedances", boom)
    report = tasks.run_round(_factory(db), now=local(2026, 11, 20, 12, 0), tz=TZ, policy=POLICY)
    assert report.failed == ["exceedance"]
    assert "offline" in report.parts and "stale_key" in report.parts


def test_pruned_windows_leave_their_counters_behind(db: Session, city: City) -> None:
    use_rule(db, city, "shanghai-db31-964-2016", raise_after=1, clear_after=3)
    dev = add_device(db, city, "TASK0000000002", site="HP-002").id
    store(
        db, rows(dev, "pm10", local(2026, 11, 10, 10, 0), [150.0] * 15), local(2026, 11, 10, 10, 16)
    )
    run(db, local(2026, 11, 10, 10, 18))
    site = city.sites["HP-002"]
    assert prune_windows(db, now=local(2026, 11, 10, 10, 18) + POLICY.window_retention * 2) == 1
    state = db.get(AlertWindowState, (f"site:{site}", "shanghai-db31-964-2016"))
    assert state is not None and state.base["open"]["first_window"]
    assert db.get(AlertWindow, (site, "shanghai-db31-964-2016", local(2026, 11, 10, 10, 0))) is None
