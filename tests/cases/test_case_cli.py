"""``dustgrid jobs …``: the worker round, the sweep and the look-back sample."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dustgrid import cli, db
from dustgrid.config import get_settings


@pytest.fixture
def cli_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    monkeypatch.setenv("DUSTGRID_DATABASE_URL", url)
    monkeypatch.setenv("DUSTGRID_VAR_DIR", str(tmp_path))
    for cached in (get_settings, db.get_engine, db.get_sessionmaker):
        cached.cache_clear()
    yield url
    db.get_engine().dispose()
    for cached in (get_settings, db.get_engine, db.get_sessionmaker):
        cached.cache_clear()


def test_jobs_commands(cli_db: str) -> None:
    runner = CliRunner()
    assert runner.invoke(cli.app, ["migrate"]).exit_code == 0
    r = runner.invoke(cli.app, ["jobs", "sweep"])
    assert r.exit_code == 0 and "escalated=0" in r.output, r.output
    r = runner.invoke(cli.app, ["jobs", "run", "--once"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli.app, ["jobs", "look-back", "--rate", "0.5"])
    assert r.exit_code == 0 and "selected 0 cases" in r.output
