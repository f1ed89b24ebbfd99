"""Roll-ups on a constructed series: windows, valid values only, valid-data rate, dirt."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from dustgrid.config import Settings
from dustgrid.devices.models import DeviceKind
from dustgrid.telemetry import rollups
from dustgrid.telemetry.models import Rollup, RollupDirty
from dustgrid.telemetry.policy import DEFAULT_ROLLUP_POLICY, policy_from_settings
from dustgrid.telemetry.rollups import period_bounds, refresh_rollups
from dustgrid.telemetry.store import write_readings
from tests.fixtures.city import City
from tests.telemetry.telemetry_support import SHANGHAI, add_device, local, series

NOW = datetime(2024, 5, 3, tzinfo=UTC)


def _rollups(db: Session, device_id: int, period: str, metric: str = "pm10") -> dict[Any, Rollup]:
    stmt = select(Rollup).where(
        Rollup.device_id == device_id, Rollup.period == period, Rollup.metric == metric
    )
    return {r.period_start: r for r in db.scalars(stmt)}


def _write(db: Session, rows: list[Any]) -> None:
    write_readings(db.connection(), rows)
    db.commit()


@pytest.fixture
def pm10_device(db: Session, city: City) -> int:
    """pm10 every minute 09:50-10:34 local, value = minute index 0..44; index 12 flagged D
    (fault) and index 13 without a value: both stored, neither counts as valid."""
    dev = add_device(db, "ROLLUP000000001", site_id=city.sites["HP-001"])
    values: list[float | None] = [float(i) for i in range(45)]
    values[13] = None
    _write(db, series(dev.id, "pm10", local(2024, 5, 1, 9, 50), values, flags={12: "D"}))
    assert refresh_rollups(db, now=NOW, tz=SHANGHAI) == 4  # four dirty 15-minute windows
    db.commit()
    return dev.id


def test_quarter_hours(db: Session, pm10_device: int) -> None:
    q = _rollups(db, pm10_device, "15m")
    assert sorted(q) == [local(2024, 5, 1, 9, 45), local(2024, 5, 1, 10, 0),
                         local(2024, 5, 1, 10, 15), local(2024, 5, 1, 10, 30)]  # fmt: skip
    w = q[local(2024, 5, 1, 10, 0)]  # 10:00:00 <= t < 10:15:00: indexes 10..24
    assert (w.count_total, w.count_valid, w.expected) == (15, 13, 15)
    assert w.mean == pytest.approx((sum(range(10, 25)) - 12 - 13) / 13)
    assert (w.min, w.max) == (10.0, 24.0)  # 10:15:00 belongs to the next window
    assert w.valid_rate == pytest.approx(13 / 15)
    assert w.site_id is not None
    nxt = q[local(2024, 5, 1, 10, 15)]
    assert (nxt.min, nxt.max, nxt.mean, nxt.valid_rate) == (25.0, 39.0, 32.0, 1.0)
    first = q[local(2024, 5, 1, 9, 45)]  # 09:50..09:59: a partial window
    assert (first.count_valid, first.valid_rate) == (10, pytest.approx(10 / 15))
    last = q[local(2024, 5, 1, 10, 30)]
    assert (last.count_valid, last.mean) == (5, 42.0)


def test_hours_and_day_in_local_time(db: Session, pm10_device: int) -> None:
    hours = _rollups(db, pm10_device, "1h")
    assert sorted(hours) == [local(2024, 5, 1, 9, 0), local(2024, 5, 1, 10, 0)]
    h = hours[local(2024, 5, 1, 10, 0)]
    assert (h.count_total, h.count_valid, h.expected) == (35, 33, 60)
    assert h.mean == pytest.approx((sum(range(10, 45)) - 12 - 13) / 33)
    assert (h.min, h.max) == (10.0, 44.0)
    assert h.valid_rate == pytest.approx(33 / 60)
    days = _rollups(db, pm10_device, "1d")
    (day,) = days.values()
    assert day.period_start == datetime(2024, 4, 30, 16, 0, tzinfo=UTC)  # 00:00 +08:00
    assert (day.count_valid, day.count_total, day.expected) == (43, 45, 1440)
    assert day.mean == pytest.approx((sum(range(45)) - 25) / 43)
    assert day.valid_rate == pytest.approx(43 / 1440)


def test_day_boundary_is_local_midnight(db: Session) -> None:
    dev = add_device(db, "ROLLUP000000002")
    _write(db, series(dev.id, "pm10", local(2024, 5, 1, 23, 59), [10.0, 20.0]))  # 23:59, 00:00
    refresh_rollups(db, now=NOW, tz=SHANGHAI)
    days = _rollups(db, dev.id, "1d")
    assert {k: v.mean for k, v in days.items()} == {
        datetime(2024, 4, 30, 16, tzinfo=UTC): 10.0,
        datetime(2024, 5, 1, 16, tzinfo=UTC): 20.0,
    }


def test_late_data_recomputes_old_windows(db: Session, pm10_device: int) -> None:
    # a backfilled fault-free value for 10:13 (index 23 was already there: a duplicate, so
    # nothing changes) and a new reading at 10:14:30
    late = series(pm10_device, "pm10", local(2024, 5, 1, 10, 14, 30), [100.0])
    _write(db, late)
    assert refresh_rollups(db, now=NOW, tz=SHANGHAI) == 1
    w = _rollups(db, pm10_device, "15m")[local(2024, 5, 1, 10, 0)]
    assert (w.count_valid, w.max) == (14, 100.0)
    h = _rollups(db, pm10_device, "1h")[local(2024, 5, 1, 10, 0)]
    assert (h.count_valid, h.max) == (34, 100.0)
    assert refresh_rollups(db, now=NOW, tz=SHANGHAI) == 0  # nothing dirty any more


def test_noise_is_averaged_on_energy(db: Session) -> None:
    dev = add_device(db, "ROLLUP000000003")
    _write(db, series(dev.id, "noise", local(2024, 5, 1, 10, 0), [60.0, 70.0]))
    _write(db, series(dev.id, "noise", local(2024, 5, 1, 10, 20), [80.0]))
    refresh_rollups(db, now=NOW, tz=SHANGHAI)
    q = _rollups(db, dev.id, "15m", "noise")[local(2024, 5, 1, 10, 0)]
    assert q.mean == pytest.approx(10 * math.log10((1e6 + 1e7) / 2))
    h = _rollups(db, dev.id, "1h", "noise")[local(2024, 5, 1, 10, 0)]
    assert h.mean == pytest.approx(10 * math.log10((1e6 + 1e7 + 1e8) / 3))


def test_the_kind_with_more_valid_values_wins(db: Session) -> None:
    dev = add_device(db, "ROLLUP000000004")
    start = local(2024, 5, 1, 10, 0)
    _write(db, series(dev.id, "pm25", start, [1.0] * 5))  # a few real-time values
    _write(db, series(dev.id, "pm25", start, [2.0] * 15, kind="avg"))  # full minute data
    _write(db, series(dev.id, "pm25", start, [9.0], kind="havg"))  # hour statistic: ignored
    refresh_rollups(db, now=NOW, tz=SHANGHAI)
    w = _rollups(db, dev.id, "15m", "pm25")[start]
    assert (w.mean, w.count_valid, w.count_total) == (2.0, 15, 15)


def test_future_windows_wait(db: Session) -> None:
    dev = add_device(db, "ROLLUP000000005")
    _write(db, series(dev.id, "pm10", local(2024, 5, 3, 12, 0), [1.0]))  # after NOW
    assert refresh_rollups(db, now=NOW, tz=SHANGHAI) == 0
    assert db.scalar(select(RollupDirty.device_id).where(RollupDirty.device_id == dev.id))


def test_readings_landing_during_a_refresh_keep_their_mark(
    db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    dev = add_device(db, "ROLLUP000000006")
    start = local(2024, 5, 1, 10, 0)
    _write(db, series(dev.id, "pm10", start, [1.0]))
    original = rollups._raw_windows

    def racing(*args: Any, **kwargs: Any) -> Any:
        out = original(*args, **kwargs)
        write_readings(db.connection(), series(dev.id, "pm10", local(2024, 5, 1, 10, 5), [5.0]))
        return out

    monkeypatch.setattr(rollups, "_raw_windows", racing)
    refresh_rollups(db, now=NOW, tz=SHANGHAI)
    monkeypatch.undo()
    assert _rollups(db, dev.id, "15m")[start].count_valid == 1  # computed before the write
    assert db.scalar(select(RollupDirty.version).where(RollupDirty.device_id == dev.id)) == 2
    refresh_rollups(db, now=NOW, tz=SHANGHAI)
    assert _rollups(db, dev.id, "15m")[start].count_valid == 2
    assert db.scalar(select(RollupDirty.version).where(RollupDirty.device_id == dev.id)) is None


def test_site_id_only_for_dust_monitors(db: Session, city: City) -> None:
    camera = add_device(db, "ROLLUP000000007", site_id=city.sites["HP-002"],
                        kind=DeviceKind.video_camera)  # fmt: skip
    _write(db, series(camera.id, "pm10", local(2024, 5, 1, 10, 0), [1.0]))
    refresh_rollups(db, now=NOW, tz=SHANGHAI)
    assert all(r.site_id is None for r in _rollups(db, camera.id, "15m").values())


def test_chunks_cover_everything(db: Session) -> None:
    devices = [add_device(db, f"ROLLUPCHUNK{i:04d}") for i in range(7)]
    for d in devices:
        _write(db, series(d.id, "pm10", local(2024, 5, 1, 10, 0), [float(d.id)] * 40))
    assert refresh_rollups(db, now=NOW, tz=SHANGHAI, chunk=4) == 7 * 3
    for d in devices:
        assert len(_rollups(db, d.id, "15m")) == 3
        assert _rollups(db, d.id, "1h")[local(2024, 5, 1, 10, 0)].count_valid == 40


def test_period_bounds() -> None:
    t = local(2024, 5, 1, 10, 17, 3)
    assert period_bounds("15m", t, SHANGHAI) == (local(2024, 5, 1, 10, 15),
                                                 local(2024, 5, 1, 10, 30))  # fmt: skip
    assert period_bounds("1h", t, SHANGHAI)[0] == local(2024, 5, 1, 10)
    assert period_bounds("1d", t, SHANGHAI) == (local(2024, 5, 1), local(2024, 5, 2))
    with pytest.raises(ValueError):
        period_bounds("1w", t, SHANGHAI)


def test_policy_from_settings() -> None:
    assert policy_from_settings(Settings()) is DEFAULT_ROLLUP_POLICY
    custom = policy_from_settings(Settings(telemetry_expected_per_period={"15m": 30}))
    assert custom.version.endswith("+city")
    assert custom.expected_per_period["15m"] == 30 and custom.expected_per_period["1h"] == 60
    assert custom.valid_rate(45, 30) == 1.0  # capped
    with pytest.raises(ValueError):
        policy_from_settings(Settings(telemetry_expected_per_period={"1w": 1}))
