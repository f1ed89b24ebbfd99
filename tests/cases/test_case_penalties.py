"""The penalty ladder per site, stop-work orders, bad records and the blacklist."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dustgrid.cases import penalties
from dustgrid.cases.credit import service as credit
from dustgrid.cases.credit.models import (
    BadBehaviourRecord,
    BlacklistEntry,
    ProposalStatus,
    SiteProblem,
)
from dustgrid.cases.deadlines import case_policy
from dustgrid.cases.states import CaseState
from dustgrid.config import Settings
from dustgrid.errors import Conflict, Forbidden, Invalid, NotFound
from dustgrid.sites.models import Enterprise, Grade, Site
from tests.cases.case_kit import MONDAY, case_in, doc, mv, who, xlsx_rows
from tests.fixtures.city import City


def problem_of(db: Session, case_id: int) -> SiteProblem:
    p = db.scalar(select(SiteProblem).where(SiteProblem.case_id == case_id))
    assert p is not None
    return p


def test_first_second_third_problem(db: Session, city: City, settings: Settings) -> None:
    c1 = case_in(db, city, settings, CaseState.rectifying)
    c2 = case_in(db, city, settings, CaseState.verifying)
    c3 = case_in(db, city, settings, CaseState.penalizing)
    p1, p2, p3 = (problem_of(db, c.id) for c in (c1, c2, c3))
    assert (p1.nth, p1.action) == (1, "rectify")
    assert (p2.nth, p2.action, p2.stop_work_days, p2.penalty) == (
        2,
        "stop_work_and_penalty",
        5,
        True,
    )
    assert (p3.nth, p3.action, p3.stop_work_months) == (3, "stop_work", 1)
    assert p1.policy_version == "2025.1" and p1.status == ProposalStatus.proposed

    off = who(db, city, "off_hp1")
    order = penalties.confirm(db, off, p2.id, now=MONDAY)
    assert order is not None
    assert (order.first_day, order.last_day, order.resume_on) == (
        date(2026, 3, 2),
        date(2026, 3, 6),
        date(2026, 3, 7),
    )
    month = penalties.confirm(db, off, p3.id, start=date(2026, 3, 3), note="整顿", now=MONDAY)
    assert month is not None and (month.last_day, month.resume_on) == (
        date(2026, 4, 2),
        date(2026, 4, 3),
    )
    assert penalties.confirm(db, off, p1.id, now=MONDAY) is None  # rectify: no stoppage
    with pytest.raises(Conflict):
        penalties.confirm(db, off, p1.id, now=MONDAY)
    ladder = penalties.site_ladder(
        db, city.sites["HP-001"], now=MONDAY, policy=case_policy(settings)
    )
    assert ladder["next"].nth == 4 and ladder["next"].step.action == "stop_work"  # type: ignore[attr-defined]
    assert len(ladder["active"]) == 1  # type: ignore[arg-type]
    lifted = penalties.lift_stop_work(db, off, order.id, reason="整改到位", now=MONDAY)
    assert lifted.lifted_at == MONDAY
    with pytest.raises(Conflict):
        penalties.lift_stop_work(db, off, order.id, reason="again", now=MONDAY)


def test_problems_outside_the_window_do_not_count(
    db: Session, city: City, settings: Settings
) -> None:
    old = case_in(db, city, settings, CaseState.rectifying)
    db.execute(
        update(SiteProblem)
        .where(SiteProblem.case_id == old.id)
        .values(problem_date=date(2025, 3, 1))
    )  # 366 days before 2026-03-02
    new = case_in(db, city, settings, CaseState.rectifying)
    assert problem_of(db, new.id).nth == 1
    db.execute(
        update(SiteProblem)
        .where(SiteProblem.case_id == old.id)
        .values(problem_date=date(2025, 3, 2))
    )  # exactly 365 days: counts
    third = case_in(db, city, settings, CaseState.rectifying)
    assert problem_of(db, third.id).nth == 3
    shorter = settings.model_copy(update={"case_ladder_window_days": 30})
    assert case_policy(shorter).ladder.window_days == 30
    assert case_policy(shorter).version.endswith("+local")


def test_who_may_decide(db: Session, city: City, settings: Settings) -> None:
    case = case_in(db, city, settings, CaseState.verifying)
    p = problem_of(db, case.id)
    with pytest.raises(Forbidden):
        penalties.confirm(db, who(db, city, "insp_hp1"), p.id, now=MONDAY)
    with pytest.raises(NotFound):
        penalties.confirm(db, who(db, city, "d_shenhe"), p.id, now=MONDAY)
    with pytest.raises(Invalid):
        penalties.reject(db, who(db, city, "d_heping"), p.id, note=" ", now=MONDAY)
    with pytest.raises(Invalid):
        penalties.confirm(db, who(db, city, "d_heping"), p.id, start=date(2026, 3, 1), now=MONDAY)
    rejected = penalties.reject(db, who(db, city, "d_heping"), p.id, note="已现场整改", now=MONDAY)
    assert rejected.status == ProposalStatus.rejected


def _serve(db: Session, city: City, settings: Settings, site: str) -> None:
    case = case_in(db, city, settings, CaseState.penalizing, site=site)
    mv(db, city, settings, case, "serve_penalty", "off_hp1", result="已送达", attachments=[doc()])


def test_three_bad_records_blacklist_the_enterprise(
    db: Session, city: City, settings: Settings
) -> None:
    alpha = db.get(Enterprise, city.enterprises["alpha"])
    assert alpha is not None
    _serve(db, city, settings, "HP-001")
    _serve(db, city, settings, "HP-002")
    assert (alpha.bad_record_count, alpha.blacklisted) == (2, False)
    _serve(db, city, settings, "HP-003")
    assert (alpha.bad_record_count, alpha.blacklisted) == (3, True)
    entry = db.scalar(select(BlacklistEntry).where(BlacklistEntry.enterprise_id == alpha.id))
    assert entry is not None and entry.record_count == 3 and entry.lifted_at is None
    assert [e["id"] for e in credit.black_list(db)] == [alpha.id]

    with pytest.raises(Forbidden):
        credit.lift_blacklist(db, who(db, city, "d_heping"), alpha.id, reason="整改", now=MONDAY)
    with pytest.raises(Invalid):
        credit.lift_blacklist(db, who(db, city, "admin"), alpha.id, reason="", now=MONDAY)
    credit.lift_blacklist(db, who(db, city, "admin"), alpha.id, reason="信用修复", now=MONDAY)
    assert alpha.blacklisted is False and entry.lift_reason == "信用修复"
    assert entry.records_at_lift == 3
    with pytest.raises(Conflict):
        credit.lift_blacklist(db, who(db, city, "admin"), alpha.id, reason="again", now=MONDAY)
    # a fresh start: the next two records keep it off the list, the third after the lift lists it
    _serve(db, city, settings, "HP-001")
    _serve(db, city, settings, "HP-002")
    assert (alpha.bad_record_count, alpha.blacklisted) == (5, False)
    _serve(db, city, settings, "HP-003")
    assert (alpha.bad_record_count, alpha.blacklisted) == (6, True)
    second = db.scalars(
        select(BlacklistEntry)
        .where(BlacklistEntry.enterprise_id == alpha.id)
        .order_by(BlacklistEntry.id)
    ).all()
    assert [(e.record_count, e.lifted_at is None) for e in second] == [(3, False), (3, True)]


def test_threshold_from_settings(db: Session, city: City, settings: Settings) -> None:
    two = settings.model_copy(update={"case_blacklist_threshold": 2})
    _serve(db, city, two, "HP-001")
    _serve(db, city, two, "HP-002")
    alpha = db.get(Enterprise, city.enterprises["alpha"])
    assert alpha is not None and alpha.blacklisted
    rec = db.scalar(select(BadBehaviourRecord).where(BadBehaviourRecord.enterprise_id == alpha.id))
    assert rec is not None and rec.policy_version == "2025.1+local"


def test_red_list(db: Session, city: City, settings: Settings) -> None:
    db.execute(
        update(Site).where(Site.contractor_id == city.enterprises["alpha"]).values(grade=Grade.full)
    )
    red = credit.red_list(db, now=MONDAY, window_days=365)
    assert [e["id"] for e in red] == [city.enterprises["alpha"]]
    case_in(db, city, settings, CaseState.rectifying)  # a problem at HP-001
    assert credit.red_list(db, now=MONDAY + timedelta(days=1), window_days=365) == []


def test_export_is_scoped(
    db: Session, city: City, settings: Settings, api_as: Callable[[str], TestClient]
) -> None:
    _serve(db, city, settings, "HP-001")
    db.commit()
    for user, n in (
        ("admin", 1),
        ("d_heping", 1),
        ("con_alpha", 1),
        ("d_shenhe", 0),
        ("con_beta", 0),
        ("prov_gamma", 0),
    ):
        c = api_as(user)
        rows = c.get("/api/v1/credit/bad-records").json()
        assert len(rows) == n, user
        x = c.get("/api/v1/credit/bad-records.xlsx")
        assert x.status_code == 200
        table = xlsx_rows(x.content)
        assert table[0][0] == "记录编号" and table[1][0] == "record_id"
        assert len(table) == 2 + n
    row = api_as("admin").get("/api/v1/credit/bad-records").json()[0]
    assert row["uscc"] and row["penalty_case_number"] == "沈和建罚〔2026〕1号"
