"""The sweep command commits one sweep per run."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from dustgrid.devices import cli
from dustgrid.devices.models import Device
from tests.devices.conftest import Fleet


def test_sweep_command(db: Session, fleet: Fleet, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        cli,
        "session_scope",
        lambda: Session(bind=db.connection(), join_transaction_mode="create_savepoint"),
    )
    result = CliRunner().invoke(cli.app, ["sweep"])
    assert result.exit_code == 0, result.output
    assert "5 device(s) newly offline" in result.output and fleet.mns["hp1"] in result.output
    again = CliRunner().invoke(cli.app, ["sweep"])
    assert "0 device(s) newly offline" in again.output
    dev = db.get(Device, fleet.devices["hp1"])
    assert dev is not None
    db.refresh(dev)
    assert dev.online is False
