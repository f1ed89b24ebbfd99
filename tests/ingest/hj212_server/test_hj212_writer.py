"""The listener's writer without a database: frames encoded as rows, metric states merged."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine

from dustgrid.ingest.hj212 import DataItem, build_data_frame, decode
from dustgrid.ingest.hj212.devicecache import DeviceInfo
from dustgrid.ingest.hj212.rows import Job, frame_rows, merge_seen
from dustgrid.ingest.hj212.writer import Batch, BatchWriter
from dustgrid.telemetry import pgcopy
from tests.ingest.hj212_server.hj_support import TZ_NAME

TZ = ZoneInfo(TZ_NAME)
T0 = datetime(2024, 5, 1, 10, 0, 0)  # noqa: DTZ001 - device-local
NOW = datetime(2024, 5, 2, tzinfo=UTC)
UG = DeviceInfo(7, "DGWRITER0001", "123456", "ug/m3", False, None, False)
MG = DeviceInfo(8, "DGWRITER0002", "123456", "mg/m3", False, None, False)


def _frame(items: list[DataItem], *, cn: str = "2011") -> Any:
    return decode(build_data_frame(mn=UG.mn, pw=UG.password, data_time=T0, cn=cn, items=items))


ITEMS = [
    DataItem("a34002", "rtd", 85.3),
    DataItem("a34004", "rtd", 41.7),
    DataItem("LA", "rtd", 63.4),
    DataItem("a01007", "rtd", 2.5),
]


def _encode(dialect: str, frame: Any, device: DeviceInfo) -> tuple[Job, list[str], Counter[str]]:
    """``add_frame`` on a writer that is never started against a database."""
    stats: Counter[str] = Counter()
    engine = create_engine(
        "postgresql+psycopg://nobody@127.0.0.1:1/none" if dialect == "pg" else "sqlite://"
    )
    writer = BatchWriter(engine, batch_max=10**6, batch_ms=10**6, stats=stats, tz=TZ)

    async def scenario() -> tuple[Batch, int, list[str]]:
        writer.start()
        try:
            return writer.add_frame(frame, device, NOW)
        finally:
            assert writer._task is not None
            writer._task.cancel()

    batch, index, problems = asyncio.run(scenario())
    return batch.jobs[index], problems, stats


def _general(frame: Any, device: DeviceInfo) -> bytes:
    """The rows of ``frame`` encoded one by one from ``frame_rows``."""
    rows, _, _ = frame_rows(frame, device, tz=TZ, now=NOW, stats=Counter())
    return b"".join(
        pgcopy.copy_row_head(r.metric, r.kind, r.flag, r.valid)
        + pgcopy.copy_value(r.value)
        + pgcopy.copy_suffix(r.device_id, r.data_time, r.source, r.received_at)
        for r in rows
    )


@pytest.mark.parametrize(
    ("items", "device", "cn"),
    [
        (ITEMS, UG, "2011"),  # the usual frame: one struct call
        ([*ITEMS[:3], DataItem("Leq", "rtd", 64.0)], UG, "2011"),  # LA and Leq: the first
        ([ITEMS[0], DataItem("a34004", "rtd", 41.7, "D"), ITEMS[2]], UG, "2011"),  # invalid
        ([ITEMS[0], DataItem("a34004", "rtd", None, "D")], UG, "2011"),  # no value
        ([ITEMS[0], DataItem("a99999", "rtd", 1.0)], UG, "2011"),  # a code we do not map
        ([DataItem("a34002", "rtd", 0.0853), ITEMS[2]], MG, "2011"),  # mg/m3: converted
        ([DataItem("a34002", "avg", 70.0), DataItem("a34002", "max", 90.0)], UG, "2061"),
    ],
)
def test_encoded_rows_are_what_frame_rows_gives(
    items: list[DataItem], device: DeviceInfo, cn: str
) -> None:
    frame = _frame(items, cn=cn)
    job, problems, _ = _encode("pg", frame, device)
    rows, seen, _ = frame_rows(frame, device, tz=TZ, now=NOW, stats=Counter())
    assert problems == []
    assert job[0] == device.id and job[1] == NOW
    assert job[2] == datetime(2024, 5, 1, 2, 0, tzinfo=UTC)
    assert job[3] == _general(frame, device)
    assert job[4] == len(rows)
    assert dict(zip(job[5], job[6], strict=True)) == {m: v for m, (_, v) in seen.items()}

    sqlite_job, _, _ = _encode("sqlite", frame, device)
    assert sqlite_job[3] == rows  # SQLite: ReadingRow objects, for executemany


def test_mg_values_are_converted_and_unit_errors_skip_their_item() -> None:
    frame = _frame([DataItem("a34002", "rtd", 0.0853), ITEMS[2]])
    job, _, _ = _encode("sqlite", frame, MG)
    values = {r.metric: r.value for r in job[3]}
    assert values["pm10"] == pytest.approx(85.3) and values["noise"] == pytest.approx(63.4)
    odd = DeviceInfo(9, "DGWRITER0003", "123456", "ppm", False, None, False)
    job, problems, stats = _encode("pg", frame, odd)
    assert job[4] == 1 and stats["unit_errors"] == 1  # PM10 dropped, noise stored
    assert len(problems) == 1 and "a34002" in problems[0]


def test_a_frame_without_items_still_marks_the_device_seen() -> None:
    frame = _frame([])
    job, _, stats = _encode("pg", frame, UG)
    assert job[:2] == (UG.id, NOW) and job[4] == 0 and stats["readings_in"] == 0


def _job(device: int, at: int, minute: int, seen: dict[str, float]) -> Job:
    t = datetime(2024, 5, 1, 2, minute, tzinfo=UTC)
    return (device, NOW + timedelta(seconds=at), t, b"", 1, tuple(seen), tuple(seen.values()))


def test_merge_seen_keeps_the_newest_valid_value_per_metric() -> None:
    same = ("pm10", "noise")
    jobs: list[Job] = [
        _job(1, 0, 5, {"pm10": 5.0, "noise": 50.0}),
        _job(1, 1, 3, {"pm10": 3.0, "noise": 30.0, "pm25": 33.0}),  # older, one more metric
        _job(1, 2, 5, {"pm10": 5.5}),  # same data time as the first, later: it wins
        _job(2, 3, 1, {}),  # nothing valid: the device is still seen
        (1, NOW, None, None, 0, (), ()),  # a frame without data
    ]
    jobs[0] = (*jobs[0][:5], same, (5.0, 50.0))
    merged = merge_seen(jobs)
    t = lambda m: datetime(2024, 5, 1, 2, m, tzinfo=UTC)  # noqa: E731
    assert merged[1] == (
        NOW + timedelta(seconds=2),
        {"pm10": (t(5), 5.5), "noise": (t(5), 50.0), "pm25": (t(3), 33.0)},
    )
    assert merged[2] == (NOW + timedelta(seconds=3), {})


def test_merge_seen_skips_older_frames_of_the_same_shape() -> None:
    names = ("pm10", "noise")
    jobs = [(1, NOW, datetime(2024, 5, 1, 2, m, tzinfo=UTC), b"", 2, names, (float(m), 1.0))
            for m in (3, 1, 2)]  # fmt: skip
    _, metrics = merge_seen(jobs)[1]
    assert metrics["pm10"] == (datetime(2024, 5, 1, 2, 3, tzinfo=UTC), 3.0)
