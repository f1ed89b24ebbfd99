"""`dustgrid assess run --month YYYY-MM --json`: one object per line and assessed party."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from dustgrid import cli


def test_run_json_shape(november_db: str) -> None:
    runner = CliRunner()
    r = runner.invoke(cli.app, ["assess", "run", "--month", "2026-11", "--json"])
    assert r.exit_code == 0, r.output
    lines = [json.loads(line) for line in r.output.splitlines()]
    assert {line["kind"] for line in lines} == {
        "l2_unit", "officer_group", "officer", "inspector_group", "provider"}  # fmt: skip
    for line in lines:
        assert {"kind", "id", "name", "score", "items"} <= set(line)
        assert isinstance(line["score"], float) and line["items"]
        for item in line["items"]:
            assert {"rule", "value", "points", "evidence"} <= set(item)
    provider = next(line for line in lines if line["kind"] == "provider")
    stream = next(i for i in provider["items"] if i["rule"] == "main_stream")
    assert stream["points"] == -10.0 and stream["evidence"][0]["kind"] == "device"
    # each officer on their own: off_hp1 passed HP-001 before the sensor found it
    officers = {line["name"]: line for line in lines if line["kind"] == "officer"}
    assert set(officers) == {"E-HP off_hp1", "E-HP off_hp2", "E-SH off_sh1", "E-SH off_sh2",
                             "E-HP-C off_sf1", "E-HP-C off_sf2"}  # fmt: skip
    missed = next(i for i in officers["E-HP off_hp1"]["items"] if i["rule"] == "missed_reports")
    assert missed["points"] == -5.0 and missed["evidence"][0]["detail"].startswith("visit:")
    assert officers["E-HP off_hp1"]["score"] == 81.67  # 100 − 13.33 (1 of 3 sites) − 5
    # connect-before-waste: 和平's HP-002 and HP-003 have no device connected (−2 each)
    heping = next(line for line in lines if line["kind"] == "l2_unit" and "和平" in line["name"])
    gate = next(i for i in heping["items"] if i["rule"] == "connect_gate")
    assert gate["points"] == -4.0 and [e["kind"] for e in gate["evidence"]] == ["gate", "gate"]
    # the table, and a second run that changes nothing (same version)
    table = runner.invoke(cli.app, ["assess", "run", "--month", "2026-11"])
    assert table.exit_code == 0 and "2026-11 · open · version 1" in table.output


def test_run_refuses_a_bad_month(november_db: str) -> None:
    r = CliRunner().invoke(cli.app, ["assess", "run", "--month", "11-2026"])
    assert r.exit_code == 2 and "YYYY-MM" in r.output
