"""Rule settings are versioned; replay and the dry run never touch live alerts."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from dustgrid import db as dbmod
from dustgrid.alerts import cli, presenters, rulesets
from dustgrid.alerts.models import Alert, AlertProfileSetting, AlertWindow, AlertWindowState
from dustgrid.alerts.replay import json_lines, replay
from dustgrid.alerts.rulesets import active_rules, effective_profile
from dustgrid.alerts.schemas import DryRunIn
from dustgrid.audit.models import AuditEntry
from dustgrid.errors import Forbidden, Invalid
from tests.alerts.alert_kit import TZ, add_device, local, rows, run, store, use_rule, who
from tests.fixtures.city import City

SHANGHAI = "shanghai-db31-964-2016"
DAY = date(2026, 11, 20)


def test_each_save_is_a_new_version_and_one_is_in_force(db: Session, city: City) -> None:
    assert [r.key for r in active_rules(db)] == ["liaoning-db21-2642-2016"]  # defaults
    v1 = use_rule(db, city, SHANGHAI, limit=120)
    v2 = use_rule(db, city, SHANGHAI, limit=90, raise_after=2)
    assert (v1.version, v2.version) == (1, 2)
    assert v1.active_key is None and v2.active_key == SHANGHAI
    (rule,) = active_rules(db)
    assert rule.profile.limit == 90 and rule.profile.raise_after == 2
    assert rule.profile.version == "DB31/964-2016/1+city.v2"
    assert set(rule.profile.tuned) == {"limit", "raise_after"}
    audit = db.scalars(
        select(AuditEntry).where(
            AuditEntry.entity_type == "alert_profile_setting", AuditEntry.entity_id == v2.id
        )
    ).all()
    assert audit and audit[0].changes["version"] == [1, 2]
    off = rulesets.save_setting(
        db, who(db, city, "admin"), profile_id=SHANGHAI, tuning={}, enabled=False
    )
    assert off.version == 3 and active_rules(db) == []
    with pytest.raises(Forbidden):
        rulesets.save_setting(db, who(db, city, "d_heping"), profile_id=SHANGHAI, tuning={})
    for bad in (
        {"metric": "tsp"},
        {"raise_after": 0},
        {"limits": {"downtown": 1}},
        {"limit": "high"},
    ):
        with pytest.raises(Invalid):
            use_rule(db, city, SHANGHAI, **bad)
    liaoning = effective_profile("liaoning-db21-2642-2016", {"limits": {"other": 900}}, 4)
    assert liaoning.limit_table == {"built-up": 800.0, "other": 900.0}
    assert db.scalar(select(func.count()).select_from(AlertProfileSetting)) == 3


def _live_history(db: Session, city: City) -> int:
    use_rule(db, city, SHANGHAI, raise_after=2)
    dev = add_device(db, city, "REPLAY00000001", site="HP-001").id
    values = [150.0] * 60 + [60.0] * 60 + [95.0] * 60
    store(db, rows(dev, "pm10", local(2026, 11, 20, 9, 0), values), local(2026, 11, 20, 12, 1))
    run(db, local(2026, 11, 20, 12, 3))
    return city.sites["HP-001"]


def _snapshot(db: Session) -> tuple[int | None, ...]:
    return tuple(
        db.scalar(select(func.count()).select_from(t))
        for t in (Alert, AlertWindow, AlertWindowState)
    ) + (db.scalar(select(func.max(Alert.updated_at))) and 1,)


def test_replay_and_dry_run_leave_live_alerts_alone(db: Session, city: City) -> None:
    site = _live_history(db, city)
    (live,) = db.scalars(select(Alert).where(Alert.site_id == site))
    before = _snapshot(db)
    stricter = effective_profile(SHANGHAI, {"limit": 90, "raise_after": 2}, None)
    (item,) = [i for i in replay(db, stricter, start=DAY, end=DAY, tz=TZ) if i.site.id == site]
    # 09:00-10:00 and 11:00-12:00 exceed 90, the clean hour between clears the first
    assert [e.first_window for e in item.episodes] == [
        local(2026, 11, 20, 9, 0),
        local(2026, 11, 20, 11, 0),
    ]
    assert item.episodes[0].cleared_at == local(2026, 11, 20, 10, 15)
    lines = list(json_lines(item, TZ))
    assert {ln["type"] for ln in lines} == {"window", "day", "alert"}
    assert sum(1 for ln in lines if ln["type"] == "window") == 8
    assert all(ln["site"] == "HP-001" for ln in lines)

    admin = who(db, city, "admin")
    body = DryRunIn(profile_id=SHANGHAI, tuning={"limit": 90, "raise_after": 2}, start=DAY, end=DAY)
    result = presenters.dry_run(db, admin, body, tz=TZ)
    assert result["totals"]["alerts"] == 2 and result["totals"]["exceeding_windows"] == 8
    assert result["per_day"] == [{"date": "2026-11-20", "alerts": 2, "held": 0}]
    (hp1,) = [s for s in result["per_site"] if s["site_id"] == site]
    assert hp1["alerts"] == 2 and hp1["days_failed"] == 1
    with pytest.raises(Forbidden):
        presenters.dry_run(db, who(db, city, "off_hp1"), body, tz=TZ)
    with pytest.raises(Invalid):
        presenters.dry_run(
            db, admin, body.model_copy(update={"end": DAY + timedelta(days=90)}), tz=TZ
        )
    db.flush()
    assert _snapshot(db) == before
    db.refresh(live)
    assert live.windows_exceeded == 4


def test_replay_command(db: Session, city: City, monkeypatch: pytest.MonkeyPatch) -> None:
    _live_history(db, city)
    monkeypatch.setattr(
        dbmod,
        "session_scope",
        lambda: Session(bind=db.connection(), join_transaction_mode="create_savepoint"),
    )
    before = _snapshot(db)
    result = CliRunner().invoke(
        cli.app,
        [
            "replay",
            "--profile",
            SHANGHAI,
            "--from",
            "2026-11-20",
            "--to",
            "2026-11-20",
            "--site",
            "HP-001",
            "--tuning",
            '{"limit": 120}',
        ],
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in result.output.splitlines()]
    assert [ln["type"] for ln in lines].count("window") == 4
    assert lines[-1]["type"] == "alert" and lines[-1]["site"] == "HP-001"
    assert _snapshot(db) == before
    bad = CliRunner().invoke(
        cli.app, ["replay", "--profile", "nope", "--from", "2026-11-20", "--to", "2026-11-20"]
    )
    assert bad.exit_code == 2
