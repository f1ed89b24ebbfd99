"""Hebei rule on a real week of Beijing data (Dongsi as site, Huairou as reference).

Expected numbers below were worked out by hand from the raw CSV rows, e.g.
2013-03-07 08:00 Dongsi PM10 314, Huairou 135: 314 - 135 - 80 = 99.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from dustgrid.alerts.cli import app
from dustgrid.alerts.engine.profiles import get_profile
from dustgrid.alerts.engine.rules import day_verdicts, evaluate_windows
from dustgrid.alerts.engine.windows import Reading
from dustgrid.data import PRSA_DIR

REPO = Path(__file__).resolve().parents[2]
PRSA = PRSA_DIR
BEIJING = ZoneInfo("Asia/Shanghai")
FIRST, LAST = date(2013, 3, 6), date(2013, 3, 12)


def _rows(station: str) -> list[tuple[datetime, str, str]]:
    path = PRSA / f"{station}.csv"
    if not path.is_file():
        pytest.fail(f"real-data file missing from the package: {path}")
    out = []
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            y, m, d, h = (int(row[k]) for k in ("year", "month", "day", "hour"))
            if FIRST <= date(y, m, d) <= LAST:
                out.append((datetime(y, m, d, h, tzinfo=BEIJING), row["PM10"], row["PM2.5"]))
    return out


def _write(tmp: Path, station: str, utc: bool) -> Path:
    """Convert to the CLI format; the reference file is written in UTC to exercise offsets."""
    path = tmp / f"{station}.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["time", "metric", "value", "flag"])
        for t, pm10, pm25 in _rows(station):
            stamp = t.astimezone(UTC).isoformat() if utc else t.replace(tzinfo=None).isoformat()
            w.writerow([stamp, "pm10", pm10, "N"])
            w.writerow([stamp, "pm25", pm25, "N"])
    return path


@pytest.fixture(scope="module")
def cli_lines(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, object]]:
    tmp = tmp_path_factory.mktemp("prsa")
    site, ref = _write(tmp, "Dongsi", utc=False), _write(tmp, "Huairou", utc=True)
    args = ["check", "--profile", "hebei-db13-2934-2019", "--site", str(site)]
    result = CliRunner().invoke(app, [*args, "--reference", str(ref)])
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""  # NA values are missing data, not bad rows
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_hand_checked_windows(cli_lines: list[dict[str, object]]) -> None:
    windows = {w["start"]: w for w in cli_lines if w["type"] == "window"}
    # reference below the cap is subtracted as is
    w = windows["2013-03-07T08:00:00+08:00"]
    assert (w["value"], w["reference"], w["reference_used"], w["excess"]) == (314, 135, 135, 99)
    # reference 318 is capped at 150: 552 - 150 - 80 = 322; IAQI(318) = 184, not held
    w = windows["2013-03-07T22:00:00+08:00"]
    assert (w["reference_used"], w["excess"], w["held"]) == (150, 322, False)
    # reference 490 -> IAQI 388 (严重污染): the exceedance is kept but held
    w = windows["2013-03-09T14:00:00+08:00"]
    assert (w["value"], w["reference"], w["excess"], w["held"]) == (602, 490, 372, True)
    # Huairou NA at 18:00 and 19:00 on 7 March: not evaluable, nothing reported
    assert "2013-03-07T18:00:00+08:00" not in windows
    assert "2013-03-07T19:00:00+08:00" not in windows
    # Dongsi NA at 12:00 on 9 March
    assert "2013-03-09T12:00:00+08:00" not in windows
    # 17:00 on 7 March: 219 - 150 - 80 = -11, evaluated but not exceeding
    assert "2013-03-07T17:00:00+08:00" not in windows


def test_hand_checked_days(cli_lines: list[dict[str, object]]) -> None:
    days = {d["date"]: d for d in cli_lines if d["type"] == "day"}
    assert list(days) == [f"2013-03-{d:02d}" for d in range(6, 13)]
    assert (days["2013-03-07"]["windows"], days["2013-03-07"]["exceedances"]) == (22, 21)
    assert (days["2013-03-09"]["windows"], days["2013-03-09"]["exceedances"]) == (23, 9)
    assert (days["2013-03-10"]["exceedances"], days["2013-03-10"]["verdict"]) == (0, "pass")
    # 12 March: exactly two exceeding hours (20:00 by 3, 21:00 by 12) -> still a pass
    assert (days["2013-03-12"]["exceedances"], days["2013-03-12"]["verdict"]) == (2, "pass")
    twelfth = [w for w in cli_lines if w["type"] == "window" and "2013-03-12" in str(w["start"])]
    assert [w["excess"] for w in twelfth] == [3, 12]
    assert days["2013-03-07"]["verdict"] == "fail"


def test_api_agrees_with_cli(cli_lines: list[dict[str, object]]) -> None:
    def series(station: str) -> list[Reading]:
        return [
            Reading(t, "pm10", None if pm10 == "NA" else float(pm10))
            for t, pm10, _ in _rows(station)
        ]

    profile = get_profile("hebei-db13-2934-2019")
    results = evaluate_windows(profile, series("Dongsi"), series("Huairou"))
    verdicts = day_verdicts(profile, results, BEIJING)
    assert [v.verdict for v in verdicts] == [d["verdict"] for d in cli_lines if d["type"] == "day"]
    assert sum(r.exceeded for r in results) == sum(1 for w in cli_lines if w["type"] == "window")
