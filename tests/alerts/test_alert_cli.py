"""`dustgrid alerts` CLI on fixture CSVs, through typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dustgrid.alerts.cli import app

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "alerts"
runner = CliRunner()


def run(*args: str) -> tuple[int, list[dict[str, object]], str]:
    result = runner.invoke(app, list(args))
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return result.exit_code, lines, result.stderr


def test_profiles_lists_builtins() -> None:
    result = runner.invoke(app, ["profiles"])
    assert result.exit_code == 0
    ids = [line.split("\t")[0] for line in result.stdout.splitlines()]
    assert ids == [
        "hebei-db13-2934-2019",
        "shanghai-db31-964-2016",
        "liaoning-db21-2642-2016",
        "shaanxi-db61-1078-2017",
        "noise-gb12523-2011",
    ]
    assert "DB13/2934-2019" in result.stdout.splitlines()[0]
    code, rows, _ = run("profiles", "--json")
    assert code == 0 and rows[0]["id"] == "hebei-db13-2934-2019" and rows[0]["limit"] == 80.0


def test_check_hebei_with_reference_exact_output() -> None:
    code, rows, err = run(
        "check",
        "--profile",
        "hebei-db13-2934-2019",
        "--site",
        str(FIXTURES / "hebei_site.csv"),
        "--reference",
        str(FIXTURES / "hebei_reference.csv"),
    )
    assert code == 0

    def window(
        start: str, end: str, value: float, ref: float, used: float, excess: float
    ) -> dict[str, object]:
        return {
            "type": "window",
            "start": start,
            "end": end,
            "metric": "pm10",
            "value": value,
            "reference": ref,
            "reference_used": used,
            "limit": 80.0,
            "excess": excess,
            "held": False,
        }

    assert rows == [
        window("2024-05-01T08:00:00+08:00", "2024-05-01T09:00:00+08:00", 210.0, 110.0, 110.0, 20.0),
        window(
            "2024-05-01T10:00:00+08:00", "2024-05-01T11:00:00+08:00", 350.0, 220.0, 150.0, 120.0
        ),
        window("2024-05-01T13:00:00+08:00", "2024-05-01T14:00:00+08:00", 250.0, 100.0, 100.0, 70.0),
        {"type": "day", "date": "2024-05-01", "exceedances": 3, "windows": 4, "verdict": "fail"},
        window(
            "2024-05-02T08:00:00+08:00", "2024-05-02T09:00:00+08:00", 300.0, 100.0, 100.0, 120.0
        ),
        window(
            "2024-05-02T09:00:00+08:00", "2024-05-02T10:00:00+08:00", 300.0, 100.0, 100.0, 120.0
        ),
        {"type": "day", "date": "2024-05-02", "exceedances": 2, "windows": 3, "verdict": "pass"},
    ]
    assert "hebei_site.csv:12: skipped" in err and "Invalid isoformat" in err
    assert "hebei_site.csv:13: skipped" in err
    assert "hebei_site.csv:14: skipped: unknown flag 'X'" in err
    assert err.count("skipped") == 3


def test_check_shanghai_day_rule_and_limit_override() -> None:
    site = str(FIXTURES / "shanghai_site.csv")
    code, rows, _ = run("check", "--profile", "shanghai-db31-964-2016", "--site", site)
    assert code == 0
    assert [(r["type"], r.get("start"), r.get("excess"), r.get("verdict")) for r in rows] == [
        ("window", "2024-05-01T10:00:00+08:00", 15.0, None),
        ("day", None, None, "pass"),
        ("window", "2024-05-02T10:00:00+08:00", 1.0, None),
        ("window", "2024-05-02T10:45:00+08:00", 50.0, None),
        ("day", None, None, "fail"),
    ]
    assert rows[0]["reference"] is None
    code, rows, _ = run(
        "check", "--profile", "shanghai-db31-964-2016", "--site", site, "--limit", "120"
    )
    assert [r["verdict"] for r in rows if r["type"] == "day"] == ["pass", "pass"]


def test_check_liaoning_area_and_shaanxi_stage() -> None:
    site = str(FIXTURES / "tsp_site.csv")
    base = ("check", "--site", site)
    _, built, _ = run(*base, "--profile", "liaoning-db21-2642-2016", "--area", "built-up")
    assert [r["excess"] for r in built if r["type"] == "window"] == [50.0, 300.0]
    _, other, _ = run(*base, "--profile", "liaoning-db21-2642-2016", "--area", "other")
    assert [r["excess"] for r in other if r["type"] == "window"] == [100.0]
    _, structure, _ = run(*base, "--profile", "shaanxi-db61-1078-2017", "--stage", "structure")
    # hourly mean of 850, 850, 1100, 700 (the C-flagged 5000 is invalid) = 875
    assert structure[0]["value"] == 875.0 and structure[0]["excess"] == 175.0
    code, done, _ = run(*base, "--profile", "shaanxi-db61-1078-2017", "--stage", "completed")
    assert code == 0 and done == []


def test_check_absolute_spec_in_other_time_zone() -> None:
    code, rows, _ = run(
        "check",
        "--profile",
        "absolute:pm10:60:100",
        "--site",
        str(FIXTURES / "shanghai_site.csv"),
        "--tz",
        "UTC",
    )
    assert code == 0
    assert rows[0]["start"] == "2024-05-01T10:00:00+00:00"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--profile", "shanghai-db31-964-2016", "--site", "nope.csv"], "no such file"),
        (["--profile", "shanghai-db31-964-2016", "--site", "no_time_column.csv"], "time"),
        (["--profile", "beijing", "--site", "shanghai_site.csv"], "unknown profile"),
        (["--profile", "hebei-db13-2934-2019", "--site", "hebei_site.csv"], "--reference"),
        (["--profile", "liaoning-db21-2642-2016", "--site", "tsp_site.csv"], "area"),
        (["--profile", "shaanxi-db61-1078-2017", "--site", "tsp_site.csv"], "stage"),
        (
            ["--profile", "shaanxi-db61-1078-2017", "--site", "tsp_site.csv", "--stage", "x"],
            "unknown stage",
        ),
        (["--profile", "shanghai-db31-964-2016", "--site", "tsp_site.csv", "--tz", "Mars"], "zone"),
        (["--profile", "shanghai-db31-964-2016", "--site", "tsp_site.csv", "--tz", "Asia"], "zone"),
        (
            ["--profile", "shanghai-db31-964-2016", "--site", "tsp_site.csv", "--limit", "x"],
            "limit",
        ),
    ],
)
def test_unusable_input_exits_2(args: list[str], message: str) -> None:
    args = [str(FIXTURES / a) if a.endswith(".csv") else a for a in args]
    code, rows, err = run("check", *args)
    assert code == 2 and rows == []
    assert message in err


def test_check_help_documents_output_order() -> None:
    result = runner.invoke(app, ["check", "--help"])
    assert result.exit_code == 0
    assert "grouped by local day" in result.stdout


def test_undecodable_file_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"time,metric,value\n2024-05-01T10:00:00,pm10,\xff\xfe\n")
    code, rows, err = run("check", "--profile", "shanghai-db31-964-2016", "--site", str(bad))
    assert code == 2 and rows == [] and "unreadable" in err


def test_naive_and_offset_times_agree(tmp_path: Path) -> None:
    local = tmp_path / "local.csv"
    local.write_text("time,metric,value\n2024-05-01T10:00:00,pm10,300\n")
    utc = tmp_path / "utc.csv"
    utc.write_text("time,metric,value\n2024-05-01T02:00:00+00:00,pm10,300\n")
    outs = [
        run("check", "--profile", "shanghai-db31-964-2016", "--site", str(p))[1]
        for p in (local, utc)
    ]
    assert outs[0] == outs[1] and outs[0][0]["start"] == "2024-05-01T10:00:00+08:00"
