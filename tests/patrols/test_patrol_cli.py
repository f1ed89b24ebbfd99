"""`dustgrid patrols plan`: one JSON object per member and working day."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from dustgrid import cli, db, migrate
from dustgrid.config import get_settings
from tests.fixtures.city import build_city
from tests.patrols.helpers import WEEK


@pytest.fixture
def city_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DUSTGRID_DATABASE_URL", url)
    monkeypatch.setenv("DUSTGRID_VAR_DIR", str(tmp_path))
    for cached in (get_settings, db.get_engine, db.get_sessionmaker):
        cached.cache_clear()
    migrate.upgrade(url)
    with Session(db.get_engine()) as session:
        build_city(session)
        session.commit()
    yield url
    db.get_engine().dispose()
    for cached in (get_settings, db.get_engine, db.get_sessionmaker):
        cached.cache_clear()


def test_plan_week_json_and_table(city_db: str) -> None:
    runner = CliRunner()
    args = ["patrols", "plan", "--week", WEEK, "--grid", "E-HP", "--as-of", "2026-12-14"]
    r = runner.invoke(cli.app, [*args, "--json"])
    assert r.exit_code == 0, r.output
    lines = [json.loads(line) for line in r.output.splitlines()]
    assert len(lines) == 2 * 5  # two officers, five working days
    assert {line["member"] for line in lines} == {"off_hp1", "off_hp2"}
    assert set(lines[0]) == {"grid", "group", "member", "date", "sites"}
    # E-HP holds HP-001..003 (HP-M01 is the city station's): three sites, all on one day
    assert sum(len(line["sites"]) for line in lines if line["member"] == "off_hp1") == 3
    # run again: the plan is kept, not made twice
    again = runner.invoke(cli.app, [*args, "--json"])
    assert again.output == r.output
    table = runner.invoke(cli.app, args)
    assert table.exit_code == 0 and "E-HP" in table.output and "off_hp1" in table.output


def test_plan_refuses_a_bad_week(city_db: str) -> None:
    r = CliRunner().invoke(cli.app, ["patrols", "plan", "--week", "51"])
    assert r.exit_code == 2 and "2026-W50" in r.output
