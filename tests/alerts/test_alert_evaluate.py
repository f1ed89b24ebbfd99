"""The live exceedance evaluator on constructed data in the database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from dustgrid.alerts.engine.rules import evaluate_windows
from dustgrid.alerts.models import AlertState, AlertWindow, AlertWindowState
from dustgrid.alerts.policy import AlertPolicy
from dustgrid.alerts.rulesets import active_rules
from dustgrid.alerts.series import site_context, site_series
from dustgrid.cases.models import CaseEvent
from dustgrid.cases.states import CaseSource
from dustgrid.devices.models import DeviceKind
from dustgrid.sites.models import Site
from dustgrid.telemetry.rollups import refresh_rollups
from dustgrid.telemetry.store import write_readings
from tests.alerts.alert_kit import (
    POLICY,
    TZ,
    add_device,
    alerts_of,
    cases_of,
    hourly,
    local,
    rows,
    run,
    store,
    use_rule,
)
from tests.fixtures.city import City

SHANGHAI = "shanghai-db31-964-2016"  # PM10 15-min mean over 100 µg/m³
HEBEI = "hebei-db13-2934-2019"  # PM10 hourly mean minus reference over 80 µg/m³


def _monitor(db: Session, city: City, mn: str = "EVAL0000000001") -> int:
    return add_device(db, city, mn, site="HP-001").id


def test_raises_after_n_windows_then_updates_then_clears(db: Session, city: City) -> None:
    use_rule(db, city, SHANGHAI, raise_after=3, clear_after=2)
    dev = _monitor(db, city)
    site = city.sites["HP-001"]
    store(
        db, rows(dev, "pm10", local(2026, 11, 20, 10, 0), [150.0] * 30), local(2026, 11, 20, 10, 31)
    )
    run(db, local(2026, 11, 20, 10, 33))
    assert alerts_of(db, site) == []  # two exceeding windows: not yet
    store(
        db,
        rows(dev, "pm10", local(2026, 11, 20, 10, 30), [180.0] * 15),
        local(2026, 11, 20, 10, 46),
    )
    report = run(db, local(2026, 11, 20, 10, 48))
    (alert,) = alerts_of(db, site)
    assert report.raised == 1
    assert alert.state == AlertState.active and alert.kind == "exceedance"
    assert alert.started_at == local(2026, 11, 20, 10, 0)  # data time of the first window
    assert alert.rule_key == SHANGHAI and alert.rule_version.endswith("+city.v1")
    assert alert.windows_exceeded == 3 and alert.peak_value == 180.0
    assert alert.evidence["windows"][-1]["value"] == 180.0
    assert alert.evidence["rule_version"] == alert.rule_version
    (case,) = cases_of(db, site)
    assert case.source == CaseSource.sensor and case.id == alert.case_id
    assert case.dedup_key == f"alert:{site}:{SHANGHAI}" and case.category == "dust_exceedance"

    # more exceedances: same alert, same case, with new evidence on its timeline
    eager = AlertPolicy(initial_lookback=timedelta(hours=6), case_update_every=timedelta(0))
    events_before = db.scalar(
        select(CaseEvent.id).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id.desc())
    )
    store(
        db, rows(dev, "pm10", local(2026, 11, 20, 10, 45), [400.0] * 15), local(2026, 11, 20, 11, 1)
    )
    run(db, local(2026, 11, 20, 11, 3), eager)
    (same,) = alerts_of(db, site)
    assert same.id == alert.id and same.windows_exceeded == 4 and same.severity == "high"
    assert [c.id for c in cases_of(db, site)] == [case.id]
    kinds = list(
        db.scalars(
            select(CaseEvent.kind).where(CaseEvent.case_id == case.id, CaseEvent.id > events_before)
        )
    )
    assert "case.merged" in kinds

    # one clean window is not enough (clear_after=2), two are
    store(
        db, rows(dev, "pm10", local(2026, 11, 20, 11, 0), [50.0] * 15), local(2026, 11, 20, 11, 16)
    )
    run(db, local(2026, 11, 20, 11, 18))
    assert alerts_of(db, site)[0].state == AlertState.active
    store(
        db, rows(dev, "pm10", local(2026, 11, 20, 11, 15), [50.0] * 15), local(2026, 11, 20, 11, 31)
    )
    report = run(db, local(2026, 11, 20, 11, 33))
    (cleared,) = alerts_of(db, site)
    assert report.cleared == 1
    assert cleared.state == AlertState.cleared and cleared.clear_reason == "condition_gone"
    assert cleared.ended_at == local(2026, 11, 20, 11, 30) and cleared.open_key is None
    notes = db.scalars(select(CaseEvent.reason).where(CaseEvent.case_id == case.id)).all()
    assert any("解除" in (n or "") for n in notes)


def test_a_gap_neither_raises_nor_clears(db: Session, city: City) -> None:
    use_rule(db, city, SHANGHAI, raise_after=3, clear_after=1)
    dev = _monitor(db, city)
    site = city.sites["HP-001"]
    store(
        db, rows(dev, "pm10", local(2026, 11, 20, 8, 0), [150.0] * 30), local(2026, 11, 20, 8, 31)
    )
    run(db, local(2026, 11, 20, 8, 33))
    run(db, local(2026, 11, 20, 11, 33))  # three hours without data: nothing happens
    assert alerts_of(db, site) == []
    store(
        db,
        rows(dev, "pm10", local(2026, 11, 20, 11, 30), [150.0] * 15),
        local(2026, 11, 20, 11, 46),
    )
    run(db, local(2026, 11, 20, 11, 48))
    (alert,) = alerts_of(db, site)  # the run went on across the gap
    assert alert.started_at == local(2026, 11, 20, 8, 0)
    run(db, local(2026, 11, 20, 15, 0))  # silence again: the alert stays
    assert alerts_of(db, site)[0].state == AlertState.active
    # invalid data is no data either
    bad = rows(
        dev, "pm10", local(2026, 11, 20, 15, 0), [10.0] * 15, flags={i: "F" for i in range(15)}
    )
    store(db, bad, local(2026, 11, 20, 15, 16))
    run(db, local(2026, 11, 20, 15, 18))
    assert alerts_of(db, site)[0].state == AlertState.active


def test_late_and_backfilled_data_is_judged_at_its_data_time(db: Session, city: City) -> None:
    use_rule(db, city, SHANGHAI, raise_after=3)
    dev = _monitor(db, city)
    site = city.sites["HP-001"]
    store(db, rows(dev, "pm10", local(2026, 11, 20, 9, 0), [40.0] * 60), local(2026, 11, 20, 10, 1))
    run(db, local(2026, 11, 20, 11, 3))  # 10:00-11:00 is a gap when judged
    assert alerts_of(db, site) == []
    state = db.get(AlertWindowState, (f"site:{site}", SHANGHAI))
    assert state is not None and state.watermark == local(2026, 11, 20, 11, 0)
    backfill = rows(
        dev,
        "pm10",
        local(2026, 11, 20, 10, 0),
        [150.0] * 60,
        kind="avg",
        received=local(2026, 11, 20, 11, 20),
    )
    store(db, backfill, local(2026, 11, 20, 11, 21))
    report = run(db, local(2026, 11, 20, 11, 22))
    assert report.late_sites == 1
    (alert,) = alerts_of(db, site)
    assert alert.started_at == local(2026, 11, 20, 10, 0)
    assert alert.state == AlertState.active
    starts = db.scalars(select(AlertWindow.window_start).where(AlertWindow.site_id == site)).all()
    assert local(2026, 11, 20, 10, 45) in starts
    assert run(db, local(2026, 11, 20, 11, 40)).late_sites == 0  # counts now match


def test_held_during_a_regional_episode_then_a_case(db: Session, city: City) -> None:
    use_rule(db, city, HEBEI)
    dev = _monitor(db, city)
    ref = add_device(db, city, "REFEVAL0000001", kind=DeviceKind.reference_station, provider=None)
    site = city.sites["HP-001"]
    start = local(2026, 11, 20, 8, 0)
    store(
        db,
        hourly(dev, "pm10", start, [600.0, 600.0]) + hourly(ref.id, "pm10", start, [400.0, 400.0]),
        local(2026, 11, 20, 10, 1),
    )
    run(db, local(2026, 11, 20, 10, 3))
    (alert,) = alerts_of(db, site)
    assert alert.held and alert.case_id is None  # held and marked, not dropped
    assert alert.evidence["held_windows"] == 2
    assert alert.evidence["reference_stations"] == ["REFEVAL0000001"]
    assert alert.evidence["windows"][0]["reference"] == 400.0
    assert alert.evidence["windows"][0]["reference_used"] == 150.0
    assert cases_of(db, site) == []
    later = local(2026, 11, 20, 10, 0)
    store(
        db,
        hourly(dev, "pm10", later, [600.0]) + hourly(ref.id, "pm10", later, [100.0]),
        local(2026, 11, 20, 11, 1),
    )
    run(db, local(2026, 11, 20, 11, 3), POLICY)
    (alert,) = alerts_of(db, site)
    assert not alert.held and alert.case_id is not None
    assert len(cases_of(db, site)) == 1


def test_windows_wait_for_their_rollups(db: Session, city: City) -> None:
    use_rule(db, city, SHANGHAI)
    dev = _monitor(db, city)
    site = city.sites["HP-001"]
    write_readings(db.connection(), rows(dev, "pm10", local(2026, 11, 20, 10, 0), [150.0] * 15))
    run(db, local(2026, 11, 20, 10, 18))  # the roll-up worker has not run yet
    assert alerts_of(db, site) == []
    refresh_rollups(db, now=local(2026, 11, 20, 10, 18), tz=TZ)
    run(db, local(2026, 11, 20, 10, 19))  # same window close: the rule stayed due
    (alert,) = alerts_of(db, site)
    assert alert.started_at == local(2026, 11, 20, 10, 0)


def test_rollup_windows_equal_the_pure_engine_on_raw_readings(db: Session, city: City) -> None:
    """Quarter-hour windows are judged from the roll-ups: the same values and counts as
    ``evaluate_windows`` over the raw readings (two monitors, invalid flags, noise Leq)."""
    use_rule(db, city, SHANGHAI)
    use_rule(db, city, "noise-gb12523-2011")
    a, b = _monitor(db, city, "EQUAL000000001"), _monitor(db, city, "EQUAL000000002")
    t0 = local(2026, 11, 20, 9, 0)
    data = rows(a, "pm10", t0, [80.0 + i % 9 for i in range(120)], flags={3: "F", 50: "M"})
    data += rows(b, "pm10", t0, [120.0 + i % 5 for i in range(100)])
    data += rows(a, "noise", t0, [55.0 + i % 11 for i in range(120)])
    data += rows(b, "noise", t0 + timedelta(minutes=30), [72.0] * 40, kind="avg")
    store(db, data, local(2026, 11, 20, 11, 1))
    run(db, local(2026, 11, 20, 11, 3))
    site = db.get(Site, city.sites["HP-001"])
    assert site is not None
    for profile in (SHANGHAI, "noise-gb12523-2011"):
        (rule,) = [r for r in active_rules(db) if r.key == profile]
        metric = rule.profile.metric
        raw = site_series(db, [a, b], [metric], t0, local(2026, 11, 20, 11, 0))
        expected = evaluate_windows(rule.profile, raw, None, site_context(site, TZ))
        stored = db.scalars(
            select(AlertWindow)
            .where(AlertWindow.site_id == site.id, AlertWindow.rule_key == profile)
            .order_by(AlertWindow.window_start)
        ).all()
        assert [w.window_start for w in stored] == [r.start for r in expected]
        assert [w.count for w in stored] == [r.count for r in expected]
        assert [w.value for w in stored] == pytest.approx([r.value for r in expected], rel=1e-12)
