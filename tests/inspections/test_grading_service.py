"""Regrading sites from the database: history, audit, the case hook, the stale chore, and
the ways a grade can no longer be typed (form, API)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from dustgrid import periodic, wiring
from dustgrid.audit.models import AuditEntry
from dustgrid.cases import hooks
from dustgrid.cases.categories import CONTROL_MEASURES
from dustgrid.cases.states import CaseState
from dustgrid.config import Settings
from dustgrid.inspections.grading import service as grading
from dustgrid.inspections.grading.models import SiteGradeHistory
from dustgrid.inspections.grading.rule import DEFAULT_GRADING_POLICY
from dustgrid.inspections.models import (
    Inspection,
    InspectionItem,
    InspectionMode,
    InspectionResult,
    ItemOutcome,
)
from dustgrid.sites.models import Grade, Site
from tests.cases.case_kit import MONDAY, mv, path_to, report, who
from tests.fixtures.city import City


def submit(
    db: Session,
    city: City,
    site: str,
    *failed: str,
    at: datetime = MONDAY,
    by: str = "insp_hp1",
    mode: InspectionMode = InspectionMode.on_site,
) -> Inspection:
    """A submitted visit with the seven control measures answered (``failed`` ones failed)."""
    visit = Inspection(
        idempotency_key=f"{site}-{at.isoformat()}-{len(failed)}",
        site_id=city.sites[site],
        inspector_id=city.users[by],
        mode=mode,
        result=InspectionResult.problems if failed else InspectionResult.nothing_found,
        template_version="test",
        checked_in_at=at - timedelta(minutes=20),
        submitted_at=at,
    )
    db.add(visit)
    db.flush()
    for code in CONTROL_MEASURES:
        outcome = ItemOutcome.failed if code in failed else ItemOutcome.passed
        db.add(InspectionItem(inspection_id=visit.id, item_code=code, outcome=outcome))
    db.flush()
    return visit


def site(db: Session, city: City, code: str) -> Site:
    s = db.get(Site, city.sites[code])
    assert s is not None
    db.refresh(s)
    return s


def history(db: Session, city: City, code: str) -> list[SiteGradeHistory]:
    stmt = select(SiteGradeHistory).where(SiteGradeHistory.site_id == city.sites[code])
    return list(db.scalars(stmt.order_by(SiteGradeHistory.id)))


def regrades(db: Session, city: City, code: str) -> list[AuditEntry]:
    stmt = select(AuditEntry).where(
        AuditEntry.entity_type == "site",
        AuditEntry.entity_id == city.sites[code],
        AuditEntry.action == "site.regrade",
    )
    return list(db.scalars(stmt.order_by(AuditEntry.id)))


def test_a_submitted_inspection_grades_the_site_with_history_and_audit(
    db: Session, city: City
) -> None:
    actor = who(db, city, "insp_hp1")
    visit = submit(db, city, "HP-003", "bare_soil_cover")  # fixture grade: full, by hand
    row = grading.regrade_site(db, city.sites["HP-003"], now=MONDAY, actor=actor)
    assert row is not None
    s = site(db, city, "HP-003")
    assert s.grade == Grade.non_compliant and s.graded_at == MONDAY
    (h,) = history(db, city, "HP-003")
    assert (h.grade, h.previous_grade, h.inspection_id) == ("non_compliant", "full", visit.id)
    assert h.policy_version == DEFAULT_GRADING_POLICY.version
    assert h.actor_id == city.users["insp_hp1"] and not h.stale
    assert {"key": "grading.reason.key_item_failed", "params": {"item": "bare_soil_cover"}} in (
        h.reasons
    )
    (entry,) = regrades(db, city, "HP-003")
    assert entry.changes["grade"] == ["full", "non_compliant"]
    assert entry.actor_name == "insp_hp1"

    # nothing changed: no second row; a newer clean visit lifts the grade
    assert grading.regrade_site(db, city.sites["HP-003"], now=MONDAY) is None
    later = MONDAY + timedelta(days=2)
    submit(db, city, "HP-003", at=later)
    grading.regrade_site(db, city.sites["HP-003"], now=later, actor=actor)
    assert site(db, city, "HP-003").grade == Grade.full
    assert [h.grade for h in history(db, city, "HP-003")] == ["non_compliant", "full"]
    assert len(regrades(db, city, "HP-003")) == 2


def test_drafts_do_not_count_and_without_a_visit_a_typed_grade_stays(
    db: Session, city: City, settings: Settings
) -> None:
    draft = submit(db, city, "HP-002")
    draft.result, draft.submitted_at = InspectionResult.draft, None
    db.flush()
    assert grading.verdict_for(db, city.sites["HP-002"], now=MONDAY).grade.value == "ungraded"
    assert grading.regrade_site(db, city.sites["HP-002"], now=MONDAY) is None
    report(db, city, settings, site="HP-002")  # a case alone does not grade a site
    assert site(db, city, "HP-002").grade == Grade.basic  # as typed before grading by rule
    assert history(db, city, "HP-002") == [] and regrades(db, city, "HP-002") == []


def test_opening_and_closing_a_case_regrades_its_site(
    db: Session, city: City, settings: Settings
) -> None:
    submit(db, city, "HP-001")  # all passed: fully compliant while no case is open
    grading.regrade_site(db, city.sites["HP-001"], now=MONDAY)
    assert site(db, city, "HP-001").grade == Grade.full

    case = report(db, city, settings, site="HP-001")
    assert site(db, city, "HP-001").grade == Grade.basic  # an open case: not fully compliant
    assert history(db, city, "HP-001")[-1].actor_id == city.users["insp_hp1"]
    for move, by, fields in path_to(CaseState.closed):
        mv(db, city, settings, case, move, by, **fields(city))
    assert case.state == CaseState.closed
    assert site(db, city, "HP-001").grade == Grade.full  # closed: back to fully compliant

    serious = report(db, city, settings, site="HP-001", category="hoarding")
    for move, by, fields in path_to(CaseState.penalizing):
        mv(db, city, settings, serious, move, by, **fields(city))
    assert site(db, city, "HP-001").grade == Grade.non_compliant  # a penalty case is serious
    reasons = history(db, city, "HP-001")[-1].reasons
    assert {"key": "grading.reason.serious_case_open",
            "params": {"case_id": serious.id, "category": "hoarding"}} in reasons  # fmt: skip


def test_the_stale_chore_regrades_a_site_once_its_visit_is_old(db: Session, city: City) -> None:
    submit(db, city, "SH-001", by="insp_sh1")
    grading.regrade_site(db, city.sites["SH-001"], now=MONDAY)
    assert site(db, city, "SH-001").grade == Grade.full
    later = MONDAY + DEFAULT_GRADING_POLICY.stale_after + timedelta(days=1)
    assert city.sites["SH-001"] not in grading.repo.stale_site_ids(db, MONDAY, 100)
    grading.regrade_stale_sites(db, later)
    s = site(db, city, "SH-001")
    assert s.grade == Grade.basic and s.graded_at == later
    last = history(db, city, "SH-001")[-1]
    assert last.stale and last.actor_id is None
    assert last.reasons[-1]["key"] == "grading.reason.inspection_stale"
    # once said, the chore leaves it alone
    assert city.sites["SH-001"] not in grading.repo.stale_site_ids(db, later, 100)


def test_the_site_form_no_longer_changes_a_grade(
    web_as: Callable[[str], TestClient], city: City, db: Session
) -> None:
    c = web_as("d_heping")
    url = f"/sites/{city.sites['HP-002']}"
    form = c.get(f"{url}/edit")
    assert 'name="grade"' not in form.text
    assert "由巡查结果和在办案件自动评定" in form.text
    data = {
        "csrf_token": c.csrf,  # type: ignore[attr-defined]
        "name": "和平区南京街商业综合体",
        "kind": "housing",
        "district_id": str(city.districts["heping"]),
        "lat": "41.785",
        "lon": "123.395",
        "stage": "decoration",
        "permit_status": "permitted",
        "area_m2": "5000",
        "investment_yuan": "0",
        "grade": "full",
    }
    assert c.post(f"{url}/edit", data=data).status_code == 303
    s = site(db, city, "HP-002")
    assert s.stage.value == "decoration" and s.grade == Grade.basic


def test_the_api_refuses_a_grade_and_still_shows_it(
    api_as: Callable[[str], TestClient], city: City
) -> None:
    api = api_as("d_heping")
    url = f"/api/v1/sites/{city.sites['HP-002']}"
    r = api.patch(url, json={"grade": "full"})
    assert r.status_code == 422 and "grade" in r.text
    assert api.get(url).json()["grade"] == "basic"


def test_the_site_page_says_why_and_shows_the_history_in_local_time(
    web_as: Callable[[str], TestClient], city: City, db: Session
) -> None:
    submit(db, city, "HP-003", "wet_earthwork", by="insp_hp2")
    grading.regrade_site(db, city.sites["HP-003"], now=MONDAY, actor=who(db, city, "insp_hp2"))
    page = web_as("off_hp1").get(f"/sites/{city.sites['HP-003']}")
    assert page.status_code == 200
    text = page.text
    assert "为何是此等级" in text and "管控措施不符合：土方湿法作业" in text
    assert "依据最近一次巡查：2026-03-02 10:00（现场巡查）" in text  # Shenyang time
    assert "完全达标 → 基本达标" in text and "insp_hp2" in text
    assert "grading.reason" not in text
    assert "按评定规则重新评定等级" in text  # the audit row, in the change history


def test_a_hand_typed_grade_says_it_was_not_graded_by_the_rule(
    web_as: Callable[[str], TestClient], city: City
) -> None:
    page = web_as("admin").get(f"/sites/{city.sites['SH-003']}")
    assert "此等级为手工录入" in page.text


def test_the_hook_and_the_chore_are_registered_through_wiring() -> None:
    wiring.load()
    assert "grading.stale" in periodic.CHORES
    assert any(fn.__module__ == grading.__name__ for fn in hooks.SITE_CASES_CHANGED)
