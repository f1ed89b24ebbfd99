"""`dustgrid assess run --month YYYY-MM --json`: one object per line and assessed party."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from dustgrid import cli, db, migrate
from dustgrid.config import get_settings
from tests.assessments.helpers import build_november
from tests.fixtures.city import build_city


@pytest.fixture
def city_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DUSTGRID_DATABASE_URL", url)
    monkeypatch.setenv("DUSTGRID_VAR_DIR", str(tmp_path))
    for cached in (get_settings, db.get_engine, db.get_sessionmaker):
        cached.cache_clear()
    migrate.upgrade(url)
    with Session(db.get_engine()) as session:
        build_november(session, build_city(session))
        session.commit()
    yield url
    db.get_engine().dispose()
    for cached in (get_settings, db.get_engine, db.get_sessionmaker):
        cached.cache_clear()


def test_run_json_shape(city_db: str) -> None:
    runner = CliRunner()
    r = runner.invoke(cli.app, ["assess", "run", "--month", "2026-11", "--json"])
    assert r.exit_code == 0, r.output
    lines = [json.loads(line) for line in r.output.splitlines()]
    assert {line["kind"] for line in lines} == {
        "l2_unit", "officer_group", "inspector_group", "provider"}  # fmt: skip
    for line in lines:
        assert {"kind", "id", "name", "score", "items"} <= set(line)
        assert isinstance(line["score"], float) and line["items"]
        for item in line["items"]:
            assert {"rule", "value", "points", "evidence"} <= set(item)
    provider = next(line for line in lines if line["kind"] == "provider")
    stream = next(i for i in provider["items"] if i["rule"] == "main_stream")
    assert stream["points"] == -10.0 and stream["evidence"][0]["kind"] == "device"
    # the table, and a second run that changes nothing (same version)
    table = runner.invoke(cli.app, ["assess", "run", "--month", "2026-11"])
    assert table.exit_code == 0 and "2026-11 · open · version 1" in table.output


def test_run_refuses_a_bad_month(city_db: str) -> None:
    r = CliRunner().invoke(cli.app, ["assess", "run", "--month", "11-2026"])
    assert r.exit_code == 2 and "YYYY-MM" in r.output
