"""The daily detection over stored fixes: a window of days, the stays cache, the engines."""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest

from dustgrid.demo.fleet import Fleet, FleetSpec, generate_fleet, precision_recall
from dustgrid.trajectories.clusters import find_suspects
from dustgrid.trajectories.daily import (
    LocalEngine,
    Partition,
    detect_day,
    stays_path,
    stays_root,
    window_days,
)
from dustgrid.trajectories.policy import DEFAULT_TRAJECTORY_POLICY, TrajectoryPolicy
from dustgrid.trajectories.stays import Fixes, Stays, detect_stays
from dustgrid.trajectories.store import FixStore
from tests.trajectories.traj_kit import away, merge, still, track

MATCH_M = 250.0
DAY1, DAY2 = date(2026, 5, 4), date(2026, 5, 5)
SITE_NORTH = 3000.0  # metres north of the kit's base point


class CountingEngine(LocalEngine):
    """The local engine, remembering which partitions it was asked for."""

    def __init__(self) -> None:
        super().__init__(threads=2)
        self.asked: list[Partition] = []

    def partition_stays(
        self, store: FixStore, partitions: Sequence[Partition], policy: TrajectoryPolicy
    ) -> list[Stays]:
        self.asked.extend(partitions)
        return super().partition_stays(store, partitions, policy)


def loading(terminal: str, day_offset: int) -> Fixes:
    """``terminal`` loads 20 minutes at the site on day 1 + ``day_offset``, then leaves."""
    t0 = day_offset * 86_400 + 3600
    return track(still(t0, 20, north=SITE_NORTH) + away(t0 + 1230, north=9000), terminal)


def suspect_places(found: Sequence[object]) -> list[tuple[float, float]]:
    return [(s.cluster.lat, s.cluster.lon) for s in found]  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def fleet() -> Fleet:
    return generate_fleet(FleetSpec(seed=1))


@pytest.fixture(scope="module")
def fleet_store(fleet: Fleet, tmp_path_factory: pytest.TempPathFactory) -> FixStore:
    store = FixStore(tmp_path_factory.mktemp("fleet") / "fixes")
    store.write(fleet.fixes(), "fleet-1")
    return store


def test_the_window_ends_at_the_day() -> None:
    days = window_days(date(2026, 5, 10))
    assert len(days) == DEFAULT_TRAJECTORY_POLICY.suspect_window_days == 7
    assert days[0] == date(2026, 5, 4) and days[-1] == date(2026, 5, 10)


def test_detect_day_finds_the_hidden_sites_of_the_fleet(
    fleet: Fleet, fleet_store: FixStore
) -> None:
    last = fleet.spec.first_day + timedelta(days=fleet.spec.days - 1)
    result = detect_day(fleet_store, last, fleet.known)
    precision, recall = precision_recall(suspect_places(result.suspects), fleet.hidden, MATCH_M)
    assert precision >= 0.85 and recall >= 0.9, (precision, recall)
    # the same suspects as the whole pipeline on every fix at once
    whole = find_suspects(detect_stays(fleet.fixes()), fleet.known)
    assert [s.as_json() for s in result.suspects] == [s.as_json() for s in whole]
    # the stays returned are the day's own; the window holds every day of the fleet
    local_day = (last - date(1970, 1, 1)).days
    assert len(result.stays) > 0 and set(result.stays.day.tolist()) == {local_day}
    assert result.window_stays == len(detect_stays(fleet.fixes()))
    scores = [s.score for s in result.suspects]
    assert scores == sorted(scores, reverse=True)


def test_one_day_alone_makes_no_suspect(fleet: Fleet, fleet_store: FixStore) -> None:
    one_day = dataclasses.replace(DEFAULT_TRAJECTORY_POLICY, suspect_window_days=1)
    result = detect_day(fleet_store, fleet.spec.first_day + timedelta(days=2), fleet.known,
                        one_day)  # fmt: skip
    assert result.clusters and result.suspects == []


def test_stays_are_cached_and_a_new_batch_for_an_old_day_is_taken(tmp_path: Path) -> None:
    store = FixStore(tmp_path / "fixes")
    store.write(merge(loading("沪A001", 0), loading("沪A002", 0)), "b1")
    store.write(merge(loading("沪A001", 1), loading("沪A002", 1)), "b2")
    engine = CountingEngine()
    first = detect_day(store, DAY2, [], engine=engine)
    assert first.computed_days == (DAY1, DAY2)
    assert stays_path(store, DAY1).is_file() and stays_path(store, DAY2).is_file()
    assert stays_path(store, DAY1).parent.parent == stays_root(store) == tmp_path / "stays"
    assert len(first.clusters) == 1 and first.clusters[0].trucks == 2 and first.suspects == []

    engine.asked.clear()  # the next day's run: nothing changed, nothing computed
    again = detect_day(store, DAY2, [], engine=engine)
    assert engine.asked == [] and again.computed_days == ()
    assert [c.visits for c in again.clusters] == [c.visits for c in first.clusters]

    # a late batch for the old day: a third truck loaded there on day 1
    store.write(loading("沪A003", 0), "b3-late")
    engine.asked.clear()
    late = detect_day(store, DAY2, [], engine=engine)
    assert late.computed_days == (DAY1,)
    assert engine.asked == [(DAY1, store.buckets_of(["沪A003"])[0])]  # only its bucket
    assert len(late.suspects) == 1
    only = late.suspects[0].cluster
    assert (only.trucks, only.days, only.visits) == (3, 2, 5)
    assert len(late.stays) == 2  # day 2's own stays


def test_a_changed_stay_rule_recomputes_the_cache(tmp_path: Path) -> None:
    store = FixStore(tmp_path / "fixes")
    store.write(merge(loading("沪A001", 0), loading("沪A002", 0)), "b1")
    detect_day(store, DAY1, [])
    engine = CountingEngine()
    longer = dataclasses.replace(DEFAULT_TRAJECTORY_POLICY, stay_min_minutes=30)
    result = detect_day(store, DAY1, [], longer, engine=engine)
    assert result.computed_days == (DAY1,) and len(result.stays) == 0
    # a cache file that is not Parquet is computed again, not trusted
    stays_path(store, DAY1).write_bytes(b"garbage")
    assert detect_day(store, DAY1, []).computed_days == (DAY1,)


def test_the_detect_command(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from dustgrid.cli import app

    store = FixStore(tmp_path / "trajectories" / "fixes")
    for k, name in enumerate(("沪A001", "沪A002", "沪A003")):
        store.write(merge(loading(name, 0), loading(name, 1)), f"b{k}")
    known = tmp_path / "known.csv"
    known.write_text("name,kind,lat,lon,radius_m\nDepot,depot,41.70,123.43,150\n", "utf-8")
    base = ["trajectories", "detect", "--day", "2026-05-05", "--data-dir", str(tmp_path)]
    result = CliRunner().invoke(app, [*base, "--known", str(known), "--json"])
    assert result.exit_code == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 1 and lines[0]["trucks"] == 3 and lines[0]["days"] == 2
    assert "1 suspects" in result.stderr
    text = CliRunner().invoke(app, base)
    assert text.exit_code == 0 and "3 trucks, 2 days" in text.stdout
    bad = CliRunner().invoke(app, [*base[:3], "5 May", "--data-dir", str(tmp_path)])
    assert bad.exit_code == 2 and "--day" in bad.stderr
    no_scheduler = CliRunner().invoke(app, [*base, "--engine", "dask"])
    assert no_scheduler.exit_code == 2 and "--scheduler" in no_scheduler.stderr


def test_the_dask_engine_gives_the_same_suspects_as_the_local_one(
    fleet: Fleet, fleet_store: FixStore
) -> None:
    import distributed  # the dev extra installs it (no skip: a missing engine is a failure)

    from dustgrid.trajectories.dask_engine import DaskEngine

    last = fleet.spec.first_day + timedelta(days=fleet.spec.days - 1)
    shutil.rmtree(stays_root(fleet_store), ignore_errors=True)
    local = detect_day(fleet_store, last, fleet.known)
    shutil.rmtree(stays_root(fleet_store))
    with (
        # Two worker processes, as on a real cluster: partitions and stays are pickled across
        # process boundaries. (In-process worker threads hung in gather twice in CI runs.)
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                 dashboard_address=None, memory_limit="1GiB") as cluster,
        distributed.Client(cluster) as client,
    ):  # fmt: skip
        on_dask = detect_day(fleet_store, last, fleet.known, engine=DaskEngine(client))
    assert on_dask.computed_days == local.computed_days
    assert [s.as_json() for s in on_dask.suspects] == [s.as_json() for s in local.suspects]
    assert len(on_dask.suspects) >= 1
    assert np.array_equal(np.sort(on_dask.stays.start), np.sort(local.stays.start))


def test_the_detect_command_on_a_dask_cluster_of_worker_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--engine dask --scheduler ADDRESS``: tasks and their stays cross process boundaries
    (pickled), as on a real cluster, and the output is the local engine's."""
    import distributed
    from typer.testing import CliRunner

    from dustgrid.cli import app

    store = FixStore(tmp_path / "trajectories" / "fixes")
    for k, name in enumerate(("沪A001", "沪A002", "沪A003")):
        store.write(merge(loading(name, 0), loading(name, 1)), f"b{k}")
    base = ["trajectories", "detect", "--day", "2026-05-05", "--data-dir", str(tmp_path), "--json"]
    local = CliRunner().invoke(app, base)
    shutil.rmtree(tmp_path / "trajectories" / "stays")
    one_process = {"n_workers": 1, "threads_per_worker": 1, "processes": True}
    with distributed.LocalCluster(**one_process, dashboard_address=None) as cluster:
        address = cluster.scheduler_address
        on_dask = CliRunner().invoke(app, [*base, "--engine", "dask", "--scheduler", address])
    assert on_dask.exit_code == 0, on_dask.stderr
    assert on_dask.stdout == local.stdout and len(local.stdout.splitlines()) == 1
    assert stays_path(store, DAY1).is_file()  # the cache is written by the caller
    monkeypatch.setattr("dustgrid.trajectories.dask_engine.CONNECT_TIMEOUT_S", 2.0)
    gone = CliRunner().invoke(app, [*base, "--engine", "dask", "--scheduler", address])
    assert gone.exit_code == 2 and "Dask scheduler" in gone.stderr
