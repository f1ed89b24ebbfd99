"""Fix storage: Parquet by day and terminal hash, idempotent per batch id."""

from __future__ import annotations

import zlib
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from dustgrid.trajectories.stays import Fixes, detect_stays
from dustgrid.trajectories.store import BadBatchId, FixStore
from tests.trajectories.traj_kit import T0, away, merge, still, track


def two_days() -> Fixes:
    # truck A stays on 4 May (local) and 5 May; truck B on 4 May
    a1 = track(still(0, 20) + away(1500), "沪A001")
    a2 = track(still(86_400, 30) + away(86_400 + 2000), "沪A001")
    b = track(still(3600, 15, north=2000) + away(3600 + 1200), "沪B002")
    return merge(a1, a2, b)


def test_partitions_by_local_day_and_terminal_bucket(tmp_path: Path) -> None:
    store = FixStore(tmp_path)
    store.write(two_days(), "batch-1")
    days = sorted(p.name for p in tmp_path.iterdir())
    assert days == ["day=2026-05-04", "day=2026-05-05"]
    bucket = zlib.crc32("沪A001".encode()) % store.policy.storage_buckets
    assert (tmp_path / "day=2026-05-05" / f"bucket={bucket:02d}" / "part-batch-1.parquet").is_file()
    assert sum(len(store.read(date(2026, 5, 4), b)) for b in store.buckets(date(2026, 5, 4))) == (
        len(still(0, 20) + away(1500)) + len(still(3600, 15) + away(4800))
    )


def test_the_same_batch_twice_stores_its_fixes_once(tmp_path: Path) -> None:
    store = FixStore(tmp_path)
    store.write(two_days(), "b7")
    first = [len(f) for f in store.iter_day(date(2026, 5, 4))]
    store.write(two_days(), "b7")
    assert [len(f) for f in store.iter_day(date(2026, 5, 4))] == first
    store.write(two_days(), "b8")  # another batch adds (detection then drops repeated fixes)
    assert [len(f) for f in store.iter_day(date(2026, 5, 4))] == [2 * n for n in first]
    assert len(store.stays_of_day(date(2026, 5, 4))) == 2


def test_stays_bucket_by_bucket_equal_stays_of_the_whole_day(tmp_path: Path) -> None:
    store = FixStore(tmp_path)
    fixes = two_days()
    store.write(fixes, "x")
    whole = detect_stays(fixes.select((fixes.t - T0) < 86_400 - 8 * 3600))
    by_bucket = store.stays_of_day(date(2026, 5, 4))
    order = np.lexsort((by_bucket.start, by_bucket.terminal))
    assert np.array_equal(by_bucket.start[order], whole.start)
    assert [by_bucket.terminals[i] for i in by_bucket.terminal[order]] == [
        whole.terminals[i] for i in whole.terminal
    ]
    assert store.buckets(date(2026, 6, 1)) == [] and len(store.stays_of_day(date(2026, 6, 1))) == 0


@pytest.mark.parametrize("bad", ["", "/".join(["..", "up"]), "a/b", "x" * 65, "..", "批次"])
def test_a_batch_id_must_name_a_file(tmp_path: Path, bad: str) -> None:
    with pytest.raises(BadBatchId):
        FixStore(tmp_path).write(two_days(), bad)


def test_the_store_command_writes_the_partitions(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from dustgrid.cli import app

    src = tmp_path / "f.csv"
    fixes = two_days()
    rows = "\n".join(
        f"{fixes.terminals[c]},{t},{la},{lo}"
        for c, t, la, lo in zip(fixes.terminal, fixes.t, fixes.lat, fixes.lon, strict=True)
    )
    src.write_text("terminal_id,time,lat,lon\n" + rows + "\nX,bad,1,2\n", "utf-8")
    args = ["trajectories", "store", "--fixes", str(src), "--data-dir", str(tmp_path / "var")]
    result = CliRunner().invoke(app, [*args, "--batch-id", "2026-05-04.1"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"{len(fixes)} fixes stored")
    assert "line " in result.stderr and "1 bad row(s) skipped" in result.stderr
    stored = FixStore(tmp_path / "var" / "trajectories" / "fixes")
    assert sum(len(f) for f in stored.iter_day(date(2026, 5, 5))) > 0
    bad = CliRunner().invoke(app, [*args, "--batch-id", "/".join(["..", "x"])])
    assert bad.exit_code == 2 and "batch id" in bad.stderr
