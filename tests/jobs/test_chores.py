"""The worker's chores (``periodic.chore``): what a chore writes persists once the pass has
run (a new session sees it), and one failing chore does not cost the others their work."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from dustgrid import periodic
from dustgrid.background import worker_loop
from dustgrid.config import Settings
from dustgrid.inspections.grading import service as grading
from dustgrid.inspections.grading.models import SiteGradeHistory
from dustgrid.inspections.grading.rule import DEFAULT_GRADING_POLICY
from dustgrid.jobs import scheduler
from dustgrid.sites.models import Grade, Site
from tests.fixtures.city import City
from tests.inspections.test_grading_service import submit


@pytest.fixture
def factory(db: Session) -> Callable[[], Session]:
    """Sessions as the worker opens them, on the test's connection: what one commits is
    seen by the next; what it does not commit is gone when it closes (all of it is rolled
    back after the test)."""
    conn = db.connection()
    return lambda: Session(
        bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False
    )


Chore = Callable[[Session, Settings], int]
UseChores = Callable[[dict[str, Chore]], None]


@pytest.fixture
def use_chores(monkeypatch: pytest.MonkeyPatch) -> UseChores:
    """The pass runs only the chores given (by name), not every registered one."""

    def use(chores: dict[str, Chore]) -> None:
        monkeypatch.setattr(periodic, "CHORES", chores)

    return use


def _stale_site(db: Session, city: City) -> int:
    """SH-001 graded on a visit that has since gone stale (older than ``stale_after``)."""
    visited = datetime.now(UTC) - DEFAULT_GRADING_POLICY.stale_after - timedelta(days=2)
    submit(db, city, "SH-001", by="insp_sh1", at=visited)
    site_id = city.sites["SH-001"]
    grading.regrade_site(db, site_id, now=visited)
    db.commit()
    return site_id


def test_a_chores_writes_persist_after_the_pass(
    db: Session,
    city: City,
    settings: Settings,
    factory: Callable[[], Session],
    use_chores: UseChores,
) -> None:
    site_id = _stale_site(db, city)
    use_chores({"grading.stale": grading._stale_chore})
    assert scheduler.gc(factory, settings) == 1  # one site regraded
    with factory() as fresh:  # a new session: only committed work is there
        site = fresh.get(Site, site_id)
        assert site is not None and site.grade == Grade.basic  # the stale visit counts less
        last = fresh.scalars(
            select(SiteGradeHistory)
            .where(SiteGradeHistory.site_id == site_id)
            .order_by(SiteGradeHistory.id.desc())
        ).first()
        assert last is not None and last.stale
    assert scheduler.gc(factory, settings) == 0  # said once: the next pass leaves it alone


def test_a_failing_chore_costs_the_others_nothing(
    db: Session,
    city: City,
    settings: Settings,
    factory: Callable[[], Session],
    use_chores: UseChores,
) -> None:
    site_id = _stale_site(db, city)

    def broken(session: Session, settings: Settings) -> int:
        site = session.get(Site, site_id)
        assert site is not None
        site.name = "half-done"
        session.flush()
        raise RuntimeError("a broken chore")

    use_chores({"broken": broken, "grading.stale": grading._stale_chore})
    assert scheduler.gc(factory, settings) == 1
    with factory() as fresh:
        site = fresh.get(Site, site_id)
        assert site is not None
        assert site.grade == Grade.basic  # the regrade after the failure was kept
        assert site.name != "half-done"  # the failed chore's work was rolled back


def test_the_chores_run_on_the_first_round_then_hourly(
    settings: Settings, factory: Callable[[], Session], use_chores: UseChores
) -> None:
    runs: list[int] = []

    def count(session: Session, settings: Settings) -> int:
        runs.append(1)
        return 1

    use_chores({"count": count})
    clock = scheduler.ChoreClock()
    assert clock.run_if_due(factory, settings) is True
    assert clock.run_if_due(factory, settings) is False  # not again within the hour
    assert clock.last is not None
    clock.last -= periodic.CHORE_INTERVAL_S
    assert clock.run_if_due(factory, settings) is True
    assert runs == [1, 1]


def test_serves_embedded_worker_runs_the_chores(
    settings: Settings,
    factory: Callable[[], Session],
    monkeypatch: pytest.MonkeyPatch,
    use_chores: UseChores,
) -> None:
    """``dustgrid serve``'s worker thread (the default layout) runs the chores too."""
    stop = threading.Event()

    def last_chore(session: Session, settings: Settings) -> int:
        stop.set()  # the round ends after this: the loop stops
        return 1

    monkeypatch.setattr(periodic, "IN_PROCESS_SWEEPS", {})
    monkeypatch.setattr(periodic, "SWEEPS", {})
    use_chores({"last": last_chore})
    worker = threading.Thread(target=worker_loop, args=(settings, stop, factory), daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert stop.is_set() and not worker.is_alive()


def test_the_monthly_close_persists_through_the_chore_pass(
    db: Session,
    city: City,
    settings: Settings,
    factory: Callable[[], Session],
    use_chores: UseChores,
) -> None:
    """The assessment's monthly close commits through the pass, not by itself."""
    from dustgrid.assessments import repository as assessment_repo
    from dustgrid.assessments import tasks
    from dustgrid.assessments.months import Month

    use_chores({"assessments.close": tasks.close_last_month})
    assert scheduler.gc(factory, settings) == 1
    from zoneinfo import ZoneInfo

    today = datetime.now(UTC).astimezone(ZoneInfo(settings.timezone)).date()
    last_month = str(Month.of(today).previous)
    with factory() as fresh:
        row = assessment_repo.month_row(fresh, last_month)
        assert row is not None and row.state == "closed"
    assert scheduler.gc(factory, settings) == 0  # closed once
