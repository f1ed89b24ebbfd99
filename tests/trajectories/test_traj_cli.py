"""`dustgrid trajectories suspects`: formats, bad rows with line numbers, exit codes, GCJ-02."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from dustgrid.cli import app
from dustgrid.geo.coords import (
    gcj02_to_wgs84,
    gcj02_to_wgs84_arrays,
    wgs84_to_gcj02,
    wgs84_to_gcj02_arrays,
)
from tests.trajectories.traj_kit import latlon

runner = CliRunner()
LOCAL = timezone(timedelta(hours=8))
KEYS = ["lat", "lon", "trucks", "visits", "days", "dwell_minutes", "night_share",
        "first_seen", "last_seen", "score"]  # fmt: skip


def site_rows(iso: bool = False) -> list[list[str]]:
    """Three trucks load 20 minutes at one place on two days, then drive off."""
    rows: list[list[str]] = []
    for day in (4, 5):
        for k, truck in enumerate(("沪A001", "沪A002", "沪A003")):
            start = datetime(2026, 5, day, 9 + k, 0, tzinfo=LOCAL)
            for i in range(41):
                north = 3000.0 + (i - 40) * 250.0 if i > 40 else float(i % 3)
                at = start + timedelta(seconds=30 * i)
                lat, lon = latlon(north if i <= 40 else north, 0.0)
                stamp = at.isoformat() if iso else str(int(at.timestamp()))
                rows.append([truck, stamp, f"{lat:.7f}", f"{lon:.7f}"])
            for j in range(1, 4):  # leaving
                at = start + timedelta(seconds=30 * (40 + j))
                lat, lon = latlon(300.0 * j, 0.0)
                rows.append([truck, str(int(at.timestamp())), f"{lat:.7f}", f"{lon:.7f}"])
    return rows


def write_csv(path: Path, rows: list[list[str]], header: str = "terminal_id,time,lat,lon") -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        f.write(header + "\n")
        csv.writer(f).writerows(rows)
    return path


@pytest.fixture
def known(tmp_path: Path) -> Path:
    path = tmp_path / "known.csv"
    lat, lon = latlon(-5000.0, 0.0)
    path.write_text(f"name,kind,lat,lon,radius_m\n消纳场,landfill,{lat},{lon},150\n", "utf-8")
    return path


def run(*args: str) -> tuple[int, list[dict[str, object]], str]:
    result = runner.invoke(app, ["trajectories", "suspects", *args])
    lines = [json.loads(x) for x in result.stdout.splitlines() if x.strip()]
    return result.exit_code, lines, result.stderr


def period(*files: Path) -> list[str]:
    out: list[str] = []
    for f in files:
        out += ["--fixes", str(f)]
    return out + ["--from", "2026-05-04", "--to", "2026-05-05"]


def test_finds_the_place_with_its_evidence(tmp_path: Path, known: Path) -> None:
    code, lines, err = run(
        *period(write_csv(tmp_path / "f.csv", site_rows())), "--known", str(known)
    )
    assert code == 0 and err == ""
    [s] = lines
    assert list(s) == KEYS
    assert (s["trucks"], s["visits"], s["days"]) == (3, 6, 2)
    assert s["dwell_minutes"] == 6 * 20.0
    assert s["first_seen"] == "2026-05-04T09:00:00+08:00"
    lat, lon = latlon(1.0, 0.0)
    assert abs(float(s["lat"]) - lat) < 1e-5 and abs(float(s["lon"]) - lon) < 1e-5  # type: ignore[arg-type]


def test_iso_times_with_offsets_and_z_read_like_epoch_seconds(tmp_path: Path, known: Path) -> None:
    rows = site_rows(iso=True)
    for r in rows[::7]:  # some in UTC with Z
        if "+" in r[1]:
            r[1] = datetime.fromisoformat(r[1]).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    code, iso, err = run(*period(write_csv(tmp_path / "iso.csv", rows)), "--known", str(known))
    assert code == 0 and err == ""
    _, epoch, _ = run(*period(write_csv(tmp_path / "ep.csv", site_rows())), "--known", str(known))
    assert iso == epoch and len(iso) == 1


def test_the_day_range_selects_fixes(tmp_path: Path, known: Path) -> None:
    path = write_csv(tmp_path / "f.csv", site_rows())
    code, lines, _ = run("--fixes", str(path), "--known", str(known), "--from", "2026-05-05",
                         "--to", "2026-05-05")  # fmt: skip
    assert code == 0 and lines == []  # one day only: not a suspect


def test_bad_rows_are_reported_with_line_numbers(tmp_path: Path, known: Path) -> None:
    rows = site_rows()
    rows.insert(2, ["沪A001", "yesterday", "41.8", "123.4"])  # line 4
    rows.insert(5, ["沪A001", "2026-05-04T09:00:00", "41.8", "123.4"])  # line 7: no offset
    rows.insert(9, ["", "1777856400", "41.8", "123.4"])  # line 11
    rows.insert(12, ["沪A001", "1777856400", "north", "123.4"])  # line 14
    rows.insert(15, ["沪A001", "1777856400", "41.8", "190"])  # line 17
    path = write_csv(tmp_path / "bad.csv", rows)
    with path.open("a", encoding="utf-8") as f:
        f.write("沪A001,1777856400,41.8\n")  # last line: a field missing
    last_line = len(rows) + 2
    code, lines, err = run(*period(path), "--known", str(known))
    assert code == 0 and len(lines) == 1  # good rows still count
    reported = err.splitlines()
    assert [r.split(": ")[1] for r in reported[:-1]] == [
        "line 4", "line 7", "line 11", "line 14", "line 17", f"line {last_line}"]  # fmt: skip
    assert "time" in reported[0] and "terminal_id" in reported[2] and "lat" in reported[3]
    assert "lon" in reported[4] and "fields" in reported[5]
    assert reported[-1].endswith("6 bad row(s) skipped")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ("terminal_id,lat,lon\nA,41.8,123.4\n", "missing column 'time'"),
        ("\x00\x01\x02garbage\x00", ""),
    ],
)
def test_unreadable_input_exits_2(tmp_path: Path, known: Path, content: str | None,
                                  message: str) -> None:  # fmt: skip
    path = tmp_path / "in.csv"
    if content is not None:
        path.write_bytes(content.encode("latin-1"))
    code, lines, err = run(*period(path), "--known", str(known))
    assert code == 2 and lines == []
    assert err.startswith("error:") and message in err


def test_unreadable_known_places_and_bad_dates_exit_2(tmp_path: Path, known: Path) -> None:
    fixes = write_csv(tmp_path / "f.csv", site_rows())
    code, _, err = run(*period(fixes), "--known", str(tmp_path / "nope.csv"))
    assert code == 2 and "no such file" in err
    bad_known = tmp_path / "k.csv"
    bad_known.write_text("name,lat,lon\nx,1,2\n", "utf-8")
    code, _, err = run(*period(fixes), "--known", str(bad_known))
    assert code == 2 and "kind" in err and "radius_m" in err
    code, _, err = run("--fixes", str(fixes), "--known", str(known), "--from", "2026-13-01",
                       "--to", "2026-05-05")  # fmt: skip
    assert code == 2 and "YYYY-MM-DD" in err


def test_parquet_reads_like_csv(tmp_path: Path, known: Path) -> None:
    rows = site_rows()
    table = pa.table({
        "terminal_id": [r[0] for r in rows],
        "time": pa.array([int(r[1]) for r in rows], pa.int64()),
        "lat": [float(r[2]) for r in rows],
        "lon": [float(r[3]) for r in rows],
        "speed": [0.0] * len(rows),
    })  # fmt: skip
    pq.write_table(table, tmp_path / "f.parquet")
    _, from_parquet, err = run(*period(tmp_path / "f.parquet"), "--known", str(known))
    _, from_csv, _ = run(*period(write_csv(tmp_path / "f.csv", rows)), "--known", str(known))
    assert err == "" and from_parquet == from_csv and len(from_parquet) == 1


def test_gcj02_input_gives_the_wgs84_answer(tmp_path: Path, known: Path) -> None:
    rows = site_rows()
    wgs = write_csv(tmp_path / "wgs.csv", rows)
    lat, lon = wgs84_to_gcj02_arrays(np.array([float(r[2]) for r in rows]),
                                     np.array([float(r[3]) for r in rows]))  # fmt: skip
    gcj_rows = [
        [r[0], r[1], f"{a:.9f}", f"{b:.9f}"] for r, a, b in zip(rows, lat, lon, strict=True)
    ]
    gcj = write_csv(tmp_path / "gcj.csv", gcj_rows)
    _, expected, _ = run(*period(wgs), "--known", str(known))
    _, as_gcj, _ = run(*period(gcj), "--known", str(known), "--crs", "gcj02")
    _, unconverted, _ = run(*period(gcj), "--known", str(known))
    assert as_gcj == expected and len(expected) == 1
    # read as WGS-84 the same file is hundreds of metres off
    shift = abs(float(unconverted[0]["lon"]) - float(expected[0]["lon"]))  # type: ignore[arg-type]
    assert shift > 0.003


def test_array_conversions_agree_with_the_point_conversions() -> None:
    rng = np.random.default_rng(3)
    lat = rng.uniform(18.0, 53.0, 400)
    lon = rng.uniform(74.0, 134.0, 400)
    lat[:3], lon[:3] = (10.0, 60.0, 41.8), (10.0, 100.0, 150.0)  # outside the China box
    glat, glon = wgs84_to_gcj02_arrays(lat, lon)
    back_lat, back_lon = gcj02_to_wgs84_arrays(glat, glon)
    for i in range(len(lat)):
        assert (glat[i], glon[i]) == pytest.approx(wgs84_to_gcj02(lat[i], lon[i]), abs=1e-12)
        assert (back_lat[i], back_lon[i]) == pytest.approx(
            gcj02_to_wgs84(glat[i], glon[i]), abs=1e-9
        )
        assert (back_lat[i], back_lon[i]) == pytest.approx((lat[i], lon[i]), abs=1e-9)
