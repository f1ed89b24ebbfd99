"""Generating, regenerating and reading patrol plans over the test city."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from dustgrid.audit.models import AuditEntry
from dustgrid.config import Settings
from dustgrid.inspections.models import InspectionMode, InspectionResult
from dustgrid.patrols import service as svc
from dustgrid.sites.models import Site
from dustgrid.workcal import CHINA_TZ
from tests.fixtures.city import City
from tests.patrols.helpers import MONDAY, WEEK, visit

HP_ENFORCEMENT = ["HP-001", "HP-002", "HP-003"]  # E-HP's sites (HP-M01 is in E-HP-C)


def _plan(db: Session, settings: Settings, grid: str) -> svc.PlanView:
    plans = svc.week_plans(
        db, WEEK, principal=None, settings=settings, today=MONDAY, grid_code=grid
    )
    assert len(plans.plans) == 1
    return plans.plans[0]


def _codes(city: City, ids: list[int]) -> list[str]:
    by_id = {v: k for k, v in city.sites.items()}
    return [by_id[i] for i in ids]


def test_officers_walk_together_fortnightly_worst_first(
    db: Session, settings: Settings, city: City
) -> None:
    reports = svc.generate_week(db, MONDAY, today=MONDAY, settings=settings)
    assert {r.grid_code for r in reports} == {"E-HP", "E-HP-C", "E-SH", "I-HP", "I-SH"}
    assert all(r.created for r in reports)
    plan = _plan(db, settings, "E-HP")
    assert (plan.kind, plan.period_start, plan.period_end) == (
        "fortnightly",
        MONDAY,
        MONDAY + timedelta(days=13),
    )
    # both officers get the same route each working day of the week, Monday to Friday
    assert {d.member for d in plan.days} == {"off_hp1", "off_hp2"}
    assert sorted({d.day for d in plan.days}) == [MONDAY + timedelta(days=i) for i in range(5)]
    monday = [d for d in plan.days if d.day == MONDAY]
    assert monday[0].site_ids == monday[1].site_ids
    # three sites over ten working days at "at least 2 a day": one day of three, on Monday
    assert sorted(_codes(city, monday[0].site_ids)) == HP_ENFORCEMENT
    assert _codes(city, monday[0].site_ids)[0] == "HP-001"  # the worst site starts the route
    assert all(not d.site_ids for d in plan.days if d.day != MONDAY)
    nxt = svc.week_plans(
        db, "2026-W52", principal=None, settings=settings, today=MONDAY, grid_code="E-HP"
    ).plans[0]
    assert not [s for d in nxt.days for s in d.site_ids]  # nothing left for the second week
    assert plan.shortfall == 0 and plan.policy_version == svc.DEFAULT_PATROL_POLICY.version
    # the metro site is walked by the city safety station's officers, in their own grid
    metro = _plan(db, settings, "E-HP-C")
    assert {d.member for d in metro.days} == {"off_sf1", "off_sf2"}
    assert {_codes(city, d.site_ids)[0] for d in metro.days if d.site_ids} == {"HP-M01"}


def _extra_site(db: Session, city: City, code: str, lat: float, lon: float) -> int:
    """One more fully compliant site in E-HP, a copy of HP-003 at ``lat``/``lon``."""
    src = db.get(Site, city.sites["HP-003"])
    assert src is not None
    skip = {"id", "project_code", "permit_no", "name", "lat", "lon", "gcj_lat", "gcj_lon"}
    cols = {c.key: getattr(src, c.key) for c in Site.__table__.columns if c.key not in skip}
    site = Site(
        **cols,
        project_code=code,
        permit_no=f"2101{code}",
        name=f"和平区测试工地 {code}",
        lat=lat,
        lon=lon,
        gcj_lat=lat,
        gcj_lon=lon,
    )
    db.add(site)
    db.flush()
    city.sites[code] = site.id
    return site.id


def test_a_site_under_an_emergency_order_comes_first(
    db: Session, settings: Settings, city: City
) -> None:
    from dustgrid.emergencies import service as emergencies
    from dustgrid.emergencies.policy import AreaKind, Level
    from tests.alerts.alert_kit import who

    lat, lon, d = 41.797, 123.409, 0.001
    _extra_site(db, city, "HP-004", lat, lon)
    # without an order: four sites, two days of two, worst first: the two fully compliant
    # sites (HP-003, HP-004) wait for the second week
    svc.generate_week(db, MONDAY, today=MONDAY, settings=settings, grid_code="E-HP")
    monday = [d for d in _plan(db, settings, "E-HP").days if d.day == MONDAY][0]
    assert sorted(_codes(city, monday.site_ids)) == ["HP-001", "HP-002"]
    # a heavy-pollution warning over HP-004 alone: it is planned on the first day
    ring = [[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d], [lon - d, lat + d]]
    now = datetime.combine(MONDAY, datetime.min.time(), CHINA_TZ) + timedelta(hours=8)
    decl = emergencies.Declaration(
        level=Level.orange,
        starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(hours=48),
        area_kind=AreaKind.polygon,
        district_ids=(),
        polygon={"type": "Polygon", "coordinates": [[*ring, ring[0]]]},
    )
    emergencies.declare(db, who(db, city, "admin"), decl, now=now, settings=settings)
    assert set(emergencies.sites_under_order(db, MONDAY)) == {city.sites["HP-004"]}
    svc.generate_week(db, MONDAY, today=MONDAY, settings=settings, grid_code="E-HP", replace=True)
    monday = [d for d in _plan(db, settings, "E-HP").days if d.day == MONDAY][0]
    assert sorted(_codes(city, monday.site_ids)) == ["HP-001", "HP-004"]


def test_inspectors_each_walk_their_own_share(db: Session, settings: Settings, city: City) -> None:
    svc.generate_week(db, MONDAY, today=MONDAY, settings=settings, grid_code="I-SH")
    plan = _plan(db, settings, "I-SH")
    assert plan.kind == "weekly" and plan.period_end == MONDAY + timedelta(days=6)
    routes = [d for d in plan.days if d.site_ids]
    # three sites: fewer than one day's minimum of 10, so one inspector takes them in a day
    assert len(routes) == 1
    assert sorted(_codes(city, routes[0].site_ids)) == ["SH-001", "SH-002", "SH-003"]


def test_retired_and_completed_sites_are_not_planned(
    db: Session, settings: Settings, city: City
) -> None:
    db.get(Site, city.sites["HP-001"]).retired_at = datetime(2026, 12, 1, tzinfo=CHINA_TZ)  # type: ignore[union-attr]
    db.get(Site, city.sites["HP-002"]).stage = "completed"  # type: ignore[union-attr,assignment]
    db.flush()
    svc.generate_week(db, MONDAY, today=MONDAY, settings=settings, grid_code="E-HP")
    planned = [s for d in _plan(db, settings, "E-HP").days for s in d.site_ids]
    assert city.sites["HP-001"] not in planned and city.sites["HP-002"] not in planned


def test_regenerating_keeps_the_past_and_visited_stops(
    db: Session, settings: Settings, city: City
) -> None:
    svc.generate_week(db, MONDAY, today=MONDAY, settings=settings, grid_code="E-HP")
    visit(db, city.sites["HP-001"], city.users["off_hp1"], MONDAY, mode=InspectionMode.video)
    visit(db, city.sites["HP-003"], city.users["off_hp2"], MONDAY + timedelta(days=1))
    # a visit by another group's officer does not tick E-HP's stop
    visit(db, city.sites["HP-002"], city.users["off_sf1"], MONDAY + timedelta(days=1))
    wednesday = MONDAY + timedelta(days=2)
    report = svc.generate_week(
        db, MONDAY, today=wednesday, settings=settings, grid_code="E-HP", replace=True
    )[0]
    assert not report.created and report.kept == 3  # Monday's three: the past stays
    days = (
        svc.week_plans(
            db, WEEK, principal=None, settings=settings, today=wednesday, grid_code="E-HP"
        )
        .plans[0]
        .days
    )
    by_day = {d.day: _codes(city, d.site_ids) for d in days if d.member == "off_hp1"}
    assert sorted(by_day[MONDAY]) == HP_ENFORCEMENT  # the past is never rewritten
    assert by_day[wednesday] == ["HP-002"]  # missed HP-002 planned again; HP-003 was visited
    status = {(s.site_id, d.day): s.status for d in days for s in d.stops}
    assert status[(city.sites["HP-001"], MONDAY)] == svc.VISITED
    assert status[(city.sites["HP-003"], MONDAY)] == svc.VISITED  # visited the day after
    assert status[(city.sites["HP-002"], MONDAY)] == svc.MISSED
    assert status[(city.sites["HP-002"], wednesday)] == svc.PLANNED
    audits = db.scalars(select(AuditEntry).where(AuditEntry.entity_type == "patrol_plan")).all()
    assert [a.action for a in audits].count("update") == 1


def test_coverage_counts_visits_by_the_group_in_the_period(
    db: Session, settings: Settings, city: City
) -> None:
    svc.generate_week(db, MONDAY, today=MONDAY, settings=settings)
    tuesday = MONDAY + timedelta(days=1)
    # officers: a remote video check counts; a draft does not
    visit(db, city.sites["HP-001"], city.users["off_hp2"], tuesday, mode=InspectionMode.video)
    visit(db, city.sites["HP-002"], city.users["off_hp1"], tuesday, result=InspectionResult.draft)
    # inspectors: a video check does not count, a site visit does
    visit(db, city.sites["SH-001"], city.users["insp_sh1"], tuesday, mode=InspectionMode.video)
    visit(db, city.sites["SH-002"], city.users["insp_sh2"], tuesday)
    # someone outside the group does not count for it
    visit(db, city.sites["SH-003"], city.users["off_hp1"], tuesday)

    today = MONDAY + timedelta(days=3)
    last = MONDAY + timedelta(days=13)
    rows = {
        r.key: r
        for r in svc.coverage(
            db,
            principal=None,
            settings=settings,
            first=MONDAY,
            last=last,
            level="grid",
            today=today,
        )
    }
    # E-HP: HP-001 visited by video; HP-002 (a draft) and HP-003 missed since Monday
    assert (rows["E-HP"].planned, rows["E-HP"].visited, rows["E-HP"].missed) == (3, 1, 2)
    assert (rows["E-HP-C"].planned, rows["E-HP-C"].visited, rows["E-HP-C"].missed) == (1, 0, 1)
    assert (rows["I-SH"].planned, rows["I-SH"].visited, rows["I-SH"].missed) == (3, 1, 2)
    members = {
        r.key: r
        for r in svc.coverage(
            db,
            principal=None,
            settings=settings,
            first=MONDAY,
            last=last,
            level="member",
            today=today,
        )
    }
    assert members["off_hp1"].planned == members["off_hp2"].planned == 3  # they go together
    assert members["off_sf1"].planned == members["off_sf2"].planned == 1
    assert members["insp_sh1"].planned + members["insp_sh2"].planned == 3
    districts = svc.coverage(
        db,
        principal=None,
        settings=settings,
        first=MONDAY,
        last=last,
        level="district",
        today=today,
    )
    # 和平: E-HP 3 + E-HP-C 1 + I-HP 4; 沈河: E-SH 3 + I-SH 3
    assert sum(r.planned for r in districts) == 3 + 1 + 4 + 3 + 3


def test_scheduled_job_plans_on_the_first_working_day_once(db: Session, settings: Settings) -> None:
    saturday = datetime(2026, 12, 12, 9, tzinfo=CHINA_TZ)
    assert svc.ensure_current_plans(db, saturday, settings) == 0
    monday = datetime(2026, 12, 14, 9, tzinfo=CHINA_TZ)
    assert svc.ensure_current_plans(db, monday, settings) == 5  # three officer grids, two inspector
    assert svc.ensure_current_plans(db, monday + timedelta(hours=1), settings) == 0
    # the next week: the inspector groups get a new week, the officers' fortnight runs on
    assert svc.ensure_current_plans(db, monday + timedelta(days=7), settings) == 2


def test_bad_week_and_unknown_grid_are_named(db: Session, settings: Settings) -> None:
    import pytest

    from dustgrid.errors import Invalid, NotFound

    with pytest.raises(Invalid, match="2026-W50"):
        svc.parse_week_param("2026-50")
    with pytest.raises(NotFound, match="NOPE"):
        svc.generate_week(db, MONDAY, today=MONDAY, settings=settings, grid_code="NOPE")
    assert date(2026, 12, 14) == svc.parse_week_param(WEEK)
