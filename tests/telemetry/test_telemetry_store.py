"""The write path: idempotent batches, late data at its data time, dirty windows, units."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from dustgrid.telemetry.metrics import UnitError
from dustgrid.telemetry.models import Reading, RollupDirty
from dustgrid.telemetry.pgcopy import (
    CopyRows,
    CopyTemplate,
    copy_row_head,
    copy_suffix,
    copy_value,
)
from dustgrid.telemetry.store import (
    ReadingRow,
    to_canonical,
    window_start,
    write_readings,
)
from tests.fixtures.city import City
from tests.telemetry.telemetry_support import RECEIVED, add_device, local, reading_count, series


def _dirty(db: Session, device_id: int) -> dict[datetime, int]:
    stmt = select(RollupDirty.window_start, RollupDirty.version).where(
        RollupDirty.device_id == device_id
    )
    return {ws: v for ws, v in db.execute(stmt)}


def test_same_batch_twice_is_stored_once(db: Session, city: City) -> None:
    dev = add_device(db, "STORE0000000001", site_id=city.sites["HP-001"])
    rows = series(dev.id, "pm10", local(2024, 5, 1, 10, 0), range(30))
    rows += series(dev.id, "pm25", local(2024, 5, 1, 10, 0), range(30))
    assert write_readings(db.connection(), rows) == 60
    db.commit()
    assert write_readings(db.connection(), rows) == 0
    assert write_readings(db.connection(), list(reversed(rows))) == 0
    db.commit()
    assert reading_count(db, dev.id) == 60


def test_partial_overlap_counts_only_new_rows(db: Session, city: City) -> None:
    dev = add_device(db, "STORE0000000002")
    first = series(dev.id, "pm10", local(2024, 5, 1, 10, 0), range(10))
    assert write_readings(db.connection(), first) == 10
    resend = first[5:] + series(dev.id, "pm10", local(2024, 5, 1, 10, 10), range(5))
    assert write_readings(db.connection(), resend) == 5
    assert reading_count(db, dev.id) == 15


def test_repeats_inside_one_batch_are_skipped(db: Session) -> None:
    dev = add_device(db, "STORE0000000003")
    rows = series(dev.id, "noise", local(2024, 5, 1, 10, 0), [60.0, 61.0, 62.0])
    changed = replace(rows[1], value=99.0)  # same key, other value: the first one wins
    assert write_readings(db.connection(), [*rows, rows[0], changed]) == 3
    values = db.scalars(
        select(Reading.value).where(Reading.device_id == dev.id).order_by(Reading.data_time)
    ).all()
    assert values == [60.0, 61.0, 62.0]


def test_empty_batch(db: Session) -> None:
    assert write_readings(db.connection(), []) == 0


def test_first_value_wins_and_other_kinds_are_distinct(db: Session) -> None:
    dev = add_device(db, "STORE0000000004")
    t = local(2024, 5, 1, 10, 0)
    rtd = series(dev.id, "pm10", t, [80.0])
    avg = series(dev.id, "pm10", t, [81.0], kind="avg")
    havg = series(dev.id, "pm10", t, [82.0], kind="havg")
    assert write_readings(db.connection(), rtd + avg + havg) == 3
    assert write_readings(db.connection(), [replace(rtd[0], value=1.0)]) == 0
    stored = db.get(Reading, (dev.id, t, "pm10", "rtd"))
    assert stored is not None and stored.value == 80.0


def test_late_data_is_stored_at_its_data_time_and_marks_its_window(db: Session) -> None:
    dev = add_device(db, "STORE0000000005")
    now_rows = series(dev.id, "pm10", local(2024, 5, 1, 10, 0), [50.0])
    write_readings(db.connection(), now_rows)
    db.execute(RollupDirty.__table__.delete().where(RollupDirty.device_id == dev.id))
    late_time = local(2024, 4, 29, 23, 7)  # two days late, received now
    late = series(dev.id, "pm10", late_time, [70.0])
    assert write_readings(db.connection(), late) == 1
    stored = db.get(Reading, (dev.id, late_time, "pm10", "rtd"))
    assert stored is not None and stored.data_time == late_time
    assert stored.received_at == late[0].received_at
    assert _dirty(db, dev.id) == {local(2024, 4, 29, 23, 0): 1}


def test_dirty_windows_bump_their_version_on_new_data(db: Session) -> None:
    dev = add_device(db, "STORE0000000006")
    start = local(2024, 5, 1, 10, 10)
    write_readings(db.connection(), series(dev.id, "pm10", start, range(10)))  # 10:10-10:19
    assert _dirty(db, dev.id) == {local(2024, 5, 1, 10, 0): 1, local(2024, 5, 1, 10, 15): 1}
    write_readings(db.connection(), series(dev.id, "pm25", start, [1.0]))
    assert _dirty(db, dev.id)[local(2024, 5, 1, 10, 0)] == 2
    # a pure resend stores nothing; it may not leave fewer marks
    write_readings(db.connection(), series(dev.id, "pm25", start, [1.0]))
    assert set(_dirty(db, dev.id)) == {local(2024, 5, 1, 10, 0), local(2024, 5, 1, 10, 15)}


def test_window_start_is_the_local_quarter_hour() -> None:
    assert window_start(local(2024, 5, 1, 10, 14, 59)) == local(2024, 5, 1, 10, 0)
    assert window_start(local(2024, 5, 1, 10, 15)) == local(2024, 5, 1, 10, 15)
    assert window_start(local(2024, 5, 1, 0, 5)) == local(2024, 5, 1, 0, 0)


def test_naive_datetimes_are_refused(db: Session) -> None:
    dev = add_device(db, "STORE0000000007")
    naive = datetime(2024, 5, 1)  # noqa: DTZ001 - the mistake under test
    row = ReadingRow(dev.id, "pm10", "rtd", naive, 1.0, "N", True, "t", datetime.now(UTC))
    with pytest.raises(ValueError, match="naive"):
        write_readings(db.connection(), [row])


def test_invalid_flags_are_stored(db: Session) -> None:
    dev = add_device(db, "STORE0000000008")
    rows = series(dev.id, "pm10", local(2024, 5, 1, 10, 0), [1.0, 2.0, 3.0], flags={1: "D"})
    assert write_readings(db.connection(), rows) == 3
    stored = db.get(Reading, (dev.id, local(2024, 5, 1, 10, 1), "pm10", "rtd"))
    assert stored is not None and stored.flag == "D" and stored.valid is False


def test_big_batch_of_many_devices(db: Session) -> None:
    devices = [add_device(db, f"STOREBIG{i:07d}") for i in range(20)]
    start = local(2024, 5, 1, 10, 0)
    rows = [
        row
        for d in devices
        for metric in ("pm10", "pm25", "tsp", "noise")
        for row in series(d.id, metric, start, [float(d.id)] * 60)
    ]
    assert write_readings(db.connection(), rows) == len(rows) == 4800
    half = rows[::2] + series(devices[0].id, "pm10", start + timedelta(hours=1), [1.0])
    assert write_readings(db.connection(), half) == 1


@pytest.mark.parametrize(
    ("value", "metric", "unit", "expected"),
    [
        (0.085, "pm10", "mg/m3", 85.0),
        (0.0417, "pm25", "mg/m3", 41.7),
        (0.152, "tsp", "mg/m³", 152.0),
        (85.3, "pm10", "ug/m3", 85.3),
        (85.3, "pm10", None, 85.3),
        (63.0, "noise", "mg/m3", 63.0),  # the particulate unit leaves other metrics alone
        (21.5, "temperature", "mg/m3", 21.5),
    ],
)
def test_to_canonical(value: float, metric: str, unit: str | None, expected: float) -> None:
    assert to_canonical(value, metric, unit) == pytest.approx(expected)


def test_to_canonical_refuses_unknown_units_and_metrics() -> None:
    with pytest.raises(UnitError):
        to_canonical(1.0, "pm10", "ppm")
    with pytest.raises(UnitError):
        to_canonical(1.0, "ozone", None)


# -- rows pre-encoded for PostgreSQL's binary COPY (the HJ 212 listener's form) ------------


def _encoded(rows: list[ReadingRow]) -> CopyRows:
    out = CopyRows()
    for r in rows:
        suffix = copy_suffix(r.device_id, r.data_time, r.source, r.received_at)
        out.chunks.append(copy_row_head(r.metric, r.kind, r.flag, r.valid) + copy_value(r.value))
        out.chunks.append(suffix)
        out.count += 1
        out.pairs.add((r.device_id, r.data_time))
    return out


def _stored(db: Session, device_id: int) -> list[tuple[object, ...]]:
    stmt = (
        select(
            Reading.metric,
            Reading.kind,
            Reading.data_time,
            Reading.value,
            Reading.flag,
            Reading.valid,
            Reading.source,
            Reading.received_at,
        )
        .where(Reading.device_id == device_id)
        .order_by(Reading.data_time, Reading.metric, Reading.kind)
    )
    return [tuple(r) for r in db.execute(stmt)]


def _postgresql_only(db: Session) -> None:
    if db.get_bind().dialect.name != "postgresql":
        pytest.skip("pre-encoded rows are PostgreSQL's binary COPY format")


def test_pre_encoded_rows_are_stored_like_reading_rows(db: Session) -> None:
    _postgresql_only(db)
    a = add_device(db, "STORECOPY000001")
    b = add_device(db, "STORECOPY000002")
    start = local(2024, 5, 1, 10, 0)
    rows_a = series(a.id, "pm10", start, [1.5, None, 3.25], flags={1: "D", 2: "S"})
    rows_a += series(a.id, "noise", start, [60.0, 61.0, 62.0], kind="avg")
    rows_b = series(b.id, "pm10", start, [1.5, None, 3.25], flags={1: "D", 2: "S"})
    rows_b += series(b.id, "noise", start, [60.0, 61.0, 62.0], kind="avg")
    assert write_readings(db.connection(), _encoded(rows_a)) == 6
    assert write_readings(db.connection(), rows_b) == 6
    stored_a, stored_b = _stored(db, a.id), _stored(db, b.id)
    assert stored_a == stored_b  # byte for byte what the ReadingRow path stores
    assert (None, "D", False) in {(v, f, ok) for _, _, _, v, f, ok, _, _ in stored_a}
    assert set(_dirty(db, a.id)) == {local(2024, 5, 1, 10, 0)}


def test_pre_encoded_resends_and_repeats_are_skipped(db: Session) -> None:
    _postgresql_only(db)
    dev = add_device(db, "STORECOPY000003")
    first = series(dev.id, "pm10", local(2024, 5, 1, 10, 0), range(10))
    assert write_readings(db.connection(), _encoded(first)) == 10
    resend = first[5:] + series(dev.id, "pm10", local(2024, 5, 1, 10, 10), range(5))
    assert write_readings(db.connection(), _encoded(resend)) == 5  # overlap: staged path
    later = series(dev.id, "pm10", local(2024, 5, 1, 11, 0), [1.0, 2.0])
    assert write_readings(db.connection(), _encoded([*later, later[0]])) == 2  # COPY aborted
    assert reading_count(db, dev.id) == 17


def test_pre_encoded_rows_need_postgresql(db: Session) -> None:
    if db.get_bind().dialect.name == "postgresql":
        pytest.skip("SQLite only")
    dev = add_device(db, "STORECOPY000004")
    encoded = _encoded(series(dev.id, "pm10", local(2024, 5, 1, 10, 0), [1.0]))
    with pytest.raises(NotImplementedError):
        write_readings(db.connection(), encoded)


def test_copy_template_packs_a_frame_like_its_pieces() -> None:
    heads = [copy_row_head("pm10", "rtd", "N", True), copy_row_head("wind_speed", "rtd", "N", True)]
    suffix = copy_suffix(7, local(2024, 5, 1, 10, 0), "hj212", RECEIVED)
    template = CopyTemplate(heads, len(suffix))
    packed = template.pack([85.3, 2.5], suffix)
    assert packed == heads[0] + copy_value(85.3) + suffix + heads[1] + copy_value(2.5) + suffix
    assert template.pack([1.0, 2.0], suffix) != packed  # the template keeps no values
    other = copy_suffix(7, local(2024, 5, 1, 10, 0), "hj212mb", RECEIVED)
    with pytest.raises(ValueError, match="suffix"):
        template.pack([1.0, 2.0], other)  # a longer source: another template


def test_copy_suffix_refuses_naive_times() -> None:
    naive = datetime(2024, 5, 1)  # noqa: DTZ001 - the mistake under test
    with pytest.raises(ValueError, match="naive"):
        copy_suffix(1, naive, "hj212", RECEIVED)
