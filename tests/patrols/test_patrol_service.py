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

HP_ENFORCEMENT = ["HP-001", "HP-002", "HP-M01", "HP-003"]  # worst grade first, then by id


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
    assert len(reports) == 4 and all(r.created for r in reports)
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
    # four sites over ten working days at "at least 2 a day": two days of two, worst first
    assert sorted(_codes(city, monday[0].site_ids)) == ["HP-001", "HP-002"]
    assert all(not d.site_ids for d in plan.days if d.day != MONDAY)
    nxt = svc.week_plans(
        db, "2026-W52", principal=None, settings=settings, today=MONDAY, grid_code="E-HP"
    ).plans[0]
    assert sorted(_codes(city, [s for d in nxt.days for s in d.site_ids][:2])) == [
        "HP-003",
        "HP-M01",
    ]
    assert plan.shortfall == 0 and plan.policy_version == svc.DEFAULT_PATROL_POLICY.version


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
    visit(db, city.sites["HP-M01"], city.users["off_hp2"], MONDAY + timedelta(days=1))
    wednesday = MONDAY + timedelta(days=2)
    report = svc.generate_week(
        db, MONDAY, today=wednesday, settings=settings, grid_code="E-HP", replace=True
    )[0]
    assert not report.created and report.kept == 3  # Monday's two, and HP-M01 (visited)
    days = (
        svc.week_plans(
            db, WEEK, principal=None, settings=settings, today=wednesday, grid_code="E-HP"
        )
        .plans[0]
        .days
    )
    by_day = {d.day: _codes(city, d.site_ids) for d in days if d.member == "off_hp1"}
    assert sorted(by_day[MONDAY]) == ["HP-001", "HP-002"]  # the past is never rewritten
    assert sorted(by_day[wednesday]) == ["HP-002", "HP-003"]  # missed HP-002 planned again
    status = {(s.site_id, d.day): s.status for d in days for s in d.stops}
    assert status[(city.sites["HP-001"], MONDAY)] == svc.VISITED
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
    assert (rows["E-HP"].planned, rows["E-HP"].visited, rows["E-HP"].missed) == (4, 1, 1)
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
    assert members["off_hp1"].planned == members["off_hp2"].planned == 4  # they go together
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
    assert sum(r.planned for r in districts) == 4 + 4 + 3 + 3


def test_scheduled_job_plans_on_the_first_working_day_once(db: Session, settings: Settings) -> None:
    saturday = datetime(2026, 12, 12, 9, tzinfo=CHINA_TZ)
    assert svc.ensure_current_plans(db, saturday, settings) == 0
    monday = datetime(2026, 12, 14, 9, tzinfo=CHINA_TZ)
    assert svc.ensure_current_plans(db, monday, settings) == 4
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
