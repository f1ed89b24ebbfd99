"""Reference stations: hourly PRSA CSV import, AQI per HJ 633-2012, scope."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from dustgrid import db as dbmod
from dustgrid.alerts import cli
from dustgrid.alerts.models import AlertWindowState
from dustgrid.alerts.reference import import_prsa, station_aqi
from dustgrid.data import PRSA_URBAN
from dustgrid.devices.models import DeviceKind
from dustgrid.errors import Invalid
from dustgrid.telemetry.models import Reading
from tests.alerts.alert_kit import TZ, add_device, local, who
from tests.fixtures.city import City

HEADER = '"No","year","month","day","hour","PM2.5","PM10","SO2","NO2","station"\n'


def _csv(tmp_path: Path, days: int, pm25: float, pm10: float, na_hour: int | None = None) -> Path:
    lines = [HEADER]
    n = 0
    for d in range(days):
        for h in range(24):
            n += 1
            v25 = "NA" if h == na_hour else f"{pm25:g}"
            lines.append(f'{n},2026,11,{18 + d},{h},{v25},{pm10:g},3,17,"Test"\n')
    path = tmp_path / "station.csv"
    path.write_text("".join(lines), encoding="utf-8")
    return path


def test_import_and_daily_aqi(db: Session, city: City, tmp_path: Path) -> None:
    ref = add_device(db, city, "REFIMPORT00001", kind=DeviceKind.reference_station, provider=None)
    report = import_prsa(db, _csv(tmp_path, 2, 75.0, 150.0, na_hour=5), mn=ref.mn, tz=TZ)
    assert report.rows == 2 * 24 * 2 - 2 and report.skipped == 2
    assert report.first == local(2026, 11, 18, 0, 0) and report.last == local(2026, 11, 19, 23, 0)
    kinds = set(db.scalars(select(Reading.kind).where(Reading.device_id == ref.id)))
    assert kinds == {"havg"}
    again = import_prsa(db, _csv(tmp_path, 2, 75.0, 150.0, na_hour=5), mn=ref.mn, tz=TZ)
    assert again.new == 0  # the first value stays
    now = local(2026, 11, 20, 9, 0)
    (station,) = [
        s
        for s in station_aqi(db, who(db, city, "d_heping"), now=now, tz=TZ, days=3)
        if s["mn"] == ref.mn
    ]
    days = {d["date"]: d for d in station["days"]}
    assert days["2026-11-18"]["aqi"] == 100 and days["2026-11-18"]["category_zh"] == "良"
    assert days["2026-11-18"]["primary"] == ["pm10", "pm25"]
    assert days["2026-11-18"]["pm25"] == 75.0
    assert station["standard"] == "HJ 633-2012"
    assert station_aqi(db, who(db, city, "con_alpha"), now=now, tz=TZ) == []
    with pytest.raises(Invalid):
        import_prsa(db, _csv(tmp_path, 1, 1, 1), mn="NOPE", tz=TZ)
    site_monitor = add_device(db, city, "NOTAREF0000001", site="HP-001")
    with pytest.raises(Invalid):
        import_prsa(db, _csv(tmp_path, 1, 1, 1), mn=site_monitor.mn, tz=TZ)


def test_too_few_hours_give_no_daily_aqi(db: Session, city: City, tmp_path: Path) -> None:
    ref = add_device(db, city, "REFIMPORT00002", kind=DeviceKind.reference_station, provider=None)
    path = _csv(tmp_path, 1, 30.0, 40.0)
    text = path.read_text().splitlines(keepends=True)
    path.write_text("".join(text[:20]))  # 19 hours only
    import_prsa(db, path, mn=ref.mn, tz=TZ)
    (station,) = station_aqi(
        db, who(db, city, "admin"), now=local(2026, 11, 18, 23, 0), tz=TZ, days=1, device_id=ref.id
    )
    assert station["days"][0]["aqi"] is None


def test_import_command_with_the_real_prsa_file(
    db: Session, city: City, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = add_device(db, city, "REFDONGSI00001", kind=DeviceKind.reference_station, provider=None)
    db.add(
        AlertWindowState(
            scope_key="site:1",
            rule_key="hebei-db13-2934-2019",
            site_id=1,
            watermark=local(2030, 1, 1, 0, 0),
            seen={},
            base={},
        )
    )
    db.flush()
    monkeypatch.setattr(
        dbmod,
        "session_scope",
        lambda: Session(bind=db.connection(), join_transaction_mode="create_savepoint"),
    )
    csv = PRSA_URBAN
    shift = (date(2029, 12, 31) - date(2013, 3, 1)).days
    result = CliRunner().invoke(
        cli.app,
        [
            "import-reference",
            str(csv),
            "--device",
            ref.mn,
            "--from",
            "2013-03-01",
            "--to",
            "2013-03-01",
            "--shift-days",
            str(shift),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "48 readings" in result.output and "1 site × rule states" in result.output
    n = db.scalar(select(func.count()).select_from(Reading).where(Reading.device_id == ref.id))
    assert n == 48
    first = db.scalar(select(func.min(Reading.data_time)).where(Reading.device_id == ref.id))
    assert first == local(2029, 12, 31, 0, 0)
    state = db.get(AlertWindowState, ("site:1", "hebei-db13-2934-2019"))
    assert state is not None and state.watermark is not None
    assert state.watermark < local(2030, 1, 1, 0, 0)
    missing = CliRunner().invoke(cli.app, ["import-reference", "/nonexistent.csv", "--device", "X"])
    assert missing.exit_code == 2


def test_bad_lines_are_named_and_good_lines_kept(db: Session, city: City, tmp_path: Path) -> None:
    ref = add_device(db, city, "REFIMPORT00003", kind=DeviceKind.reference_station, provider=None)
    path = _csv(tmp_path, 1, 30.0, 40.0)
    lines = path.read_text().splitlines(keepends=True)
    lines[3] = lines[3].replace(",30,40,", ",-5,40,")  # negative PM2.5 on line 4, hour 2
    lines[5] = '5,2026,11,18,x,30,40,3,17,"Test"\n'  # hour not a number on line 6
    path.write_text("".join(lines))
    report = import_prsa(db, path, mn=ref.mn, tz=TZ)
    assert report.problems == [
        "line 4: bad value '-5'",
        "line 6: invalid literal for int() with base 10: 'x'",
    ]
    assert report.rows == 23 * 2 - 1  # 23 good hours, the bad hour keeps its PM10
