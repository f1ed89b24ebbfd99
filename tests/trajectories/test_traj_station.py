"""City Brain pushes in the city safety station's grids (issue 14; seed 000 §3(二) 一: metro
and municipal works are the station's grid's): routed to the station, not the district
bureau; the station's admins decide, the district still sees the push; a confirmed site is
the station's, in its grid; a late push is the station's to hear about."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from dustgrid.auth.models import User
from dustgrid.cases import escalation
from dustgrid.cases.models import Case, CaseEvent
from dustgrid.config import Settings
from dustgrid.identity.roles import Role
from dustgrid.notifications.models import Notification
from dustgrid.sites.models import PermitStatus, Site, SiteKind
from dustgrid.trajectories import service
from dustgrid.trajectories.models import KnownPlace, SuspectSite
from tests.fixtures.city import City
from tests.trajectories.loop_kit import (
    RUN_AT,
    SHENHE_IN_GRID,
    hours,
    loading_fixes,
    store_fixes,
)

# In 和平区, 600 m south of the metro site HP-M01 (41.788, 123.410), 1.2 km or more from the
# district's own sites: inside the city safety station's grid E-HP-C.
HEPING_METRO = (41.7826, 123.410)
MONTH = (date(2026, 1, 1), date(2030, 12, 31))
CONFIRM = "/api/v1/trajectories/suspects/{}/confirm"
DISMISS = "/api/v1/trajectories/suspects/{}/dismiss"


@pytest.fixture
def cb_settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"var_dir": tmp_path})


@pytest.fixture
def pushed(db: Session, cb_settings: Settings) -> dict[str, SuspectSite]:
    """Two suspects of the run of DAY2: one in the station's grid E-HP-C, one in the
    district grid E-SH."""
    store_fixes(cb_settings, loading_fixes([HEPING_METRO, SHENHE_IN_GRID]))
    report = service.run_day(db, date(2026, 5, 5), settings=cb_settings, now=RUN_AT)
    assert report.pushed == 2
    out = {}
    for s in db.scalars(select(SuspectSite)):
        out["station" if abs(s.lat - HEPING_METRO[0]) < 0.001 else "district"] = s
    assert set(out) == {"station", "district"}
    return out


def _told(db: Session, city: City, key: str) -> dict[str, set[int | None]]:
    """Case ids of the notifications with message ``key``, by recipient's username."""
    names = {v: k for k, v in city.users.items()}
    out: dict[str, set[int | None]] = {}
    for n in db.scalars(select(Notification).where(Notification.message_key == key)):
        out.setdefault(names[n.user_id], set()).add(n.case_id)
    return out


def test_a_push_in_a_station_grid_is_routed_to_the_station_on_its_clock(
    db: Session, city: City, pushed: dict[str, SuspectSite]
) -> None:
    s, d = pushed["station"], pushed["district"]
    assert s.district_id == city.districts["heping"]  # it lies in 和平区 all the same
    assert s.grid_id == city.grids["E-HP-C"]
    assert s.unit_id == city.units["safety"]
    case = db.get(Case, s.case_id)
    assert case is not None and case.assigned_unit_id == city.units["safety"]
    assert case.state == "dispatched" and case.level == "L2" and case.clock == "feedback"
    assert case.due_at == RUN_AT + hours(24) == s.due_at
    routed = db.scalar(
        select(CaseEvent).where(CaseEvent.case_id == s.case_id, CaseEvent.kind == "case.routed")
    )
    assert routed is not None and routed.data["unit_name"] == "沈阳市建设工程安全监督站"
    assert routed.data["grid_code"] == "E-HP-C"
    # the district grid's push is the district bureau's, as before
    assert d.unit_id == city.units["bureau_shenhe"] and d.grid_id == city.grids["E-SH"]
    # the station's admin and the officers of its grid hear of it; not the district bureau
    told = _told(db, city, service.PUSHED_NOTICE)
    assert {k for k, v in told.items() if s.case_id in v} == {"safety_admin", "off_sf1", "off_sf2"}


def test_the_station_sees_its_push_and_the_district_sees_it_read_only(
    city: City,
    api_as: Callable[[str], TestClient],
    web_as: Callable[[str], TestClient],
    pushed: dict[str, SuspectSite],
) -> None:
    s, d = pushed["station"], pushed["district"]
    station = api_as("safety_admin").get("/api/v1/trajectories/suspects")
    assert station.status_code == 200
    assert [(x["id"], x["unit_name"]) for x in station.json()] == [
        (s.id, "沈阳市建设工程安全监督站")
    ]
    assert api_as("safety_admin").get(f"/api/v1/trajectories/suspects/{d.id}").status_code == 404
    heping = api_as("d_heping").get(f"/api/v1/trajectories/suspects/{s.id}")
    assert heping.status_code == 200 and heping.json()["unit_id"] == city.units["safety"]
    assert api_as("d_shenhe").get(f"/api/v1/trajectories/suspects/{s.id}").status_code == 404
    # the queue page: the station's admin gets the verdict forms, works of its kinds only
    page = web_as("safety_admin").get(f"/citybrain/suspects/{s.id}")
    assert page.status_code == 200 and 'data-testid="cb-decide"' in page.text
    assert "沈阳市建设工程安全监督站" in page.text
    kinds = page.text.split('name="kind">', 1)[1].split("</select>", 1)[0]
    assert 'value="municipal" selected' in kinds and 'value="metro"' in kinds
    assert 'value="housing"' not in kinds
    assert (
        'data-testid="cb-decide"' not in web_as("d_heping").get(f"/citybrain/suspects/{s.id}").text
    )


def test_each_unit_is_refused_the_verdict_on_the_others_push(
    db: Session, api_as: Callable[[str], TestClient], pushed: dict[str, SuspectSite]
) -> None:
    s, d = pushed["station"], pushed["district"]
    r = api_as("d_heping").post(DISMISS.format(s.id), json={"reason": "depot"})
    assert r.status_code == 403  # it sees the push, the station decides
    assert api_as("d_heping").post(CONFIRM.format(s.id), json={}).status_code == 403
    r = api_as("safety_admin").post(DISMISS.format(d.id), json={"reason": "depot"})
    assert r.status_code == 404  # a district's push is not even in its sight
    db.expire_all()
    assert {x.status for x in db.scalars(select(SuspectSite))} == {"pushed"}


def test_the_station_confirms_a_site_of_its_own_in_its_grid(
    db: Session, city: City, api_as: Callable[[str], TestClient], pushed: dict[str, SuspectSite]
) -> None:
    s = pushed["station"]
    heping = city.districts["heping"]
    before = service.missing_from_ledger(db, heping, MONTH)
    client = api_as("safety_admin")
    wrong = client.post(CONFIRM.format(s.id), json={"kind": "housing"})
    assert wrong.status_code == 422 and "沈阳市建设工程安全监督站" in wrong.text
    r = client.post(CONFIRM.format(s.id), json={"name": "无证管线开挖", "note": "现场有开挖"})
    assert r.status_code == 200, r.text
    site = db.get(Site, r.json()["site_id"])
    assert site is not None and site.permit_status == PermitStatus.confirmed_unpermitted
    assert site.l2_unit_id == city.units["safety"] and site.kind == SiteKind.municipal
    assert site.enforcement_grid_id == city.grids["E-HP-C"]  # the grid whose area held it
    assert site.district_id == heping
    assert client.get(f"/api/v1/sites/{site.id}").status_code == 200
    case = db.get(Case, s.case_id)
    assert case is not None and case.site_id == site.id and case.state == "accepted"
    assert case.assigned_unit_id == city.units["safety"]
    assert case.responsible_user_id == city.users["safety_admin"]
    # the ledger gap is counted for the district where the site lies
    assert service.missing_from_ledger(db, heping, MONTH) == before + 1
    assert service.missing_from_ledger(db, city.districts["shenhe"], MONTH) == 0


def test_the_station_dismisses_its_push(
    db: Session, api_as: Callable[[str], TestClient], pushed: dict[str, SuspectSite]
) -> None:
    s = pushed["station"]
    r = api_as("safety_admin").post(
        DISMISS.format(s.id), json={"reason": "road_works", "text": "地铁围挡内的临时堆土"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "dismissed" and r.json()["verdict_by"] == "safety_admin"
    place = db.get(KnownPlace, r.json()["known_place_id"])
    assert place is not None and place.kind == "road_works"
    case = db.get(Case, s.case_id)
    assert case is not None and case.state == "closed" and case.clock is None


def test_a_district_confirm_joins_the_district_grid_and_refuses_station_works(
    db: Session, city: City, api_as: Callable[[str], TestClient], pushed: dict[str, SuspectSite]
) -> None:
    d = pushed["district"]
    client = api_as("d_shenhe")
    wrong = client.post(CONFIRM.format(d.id), json={"kind": "metro"})
    assert wrong.status_code == 422 and "沈河区建设局" in wrong.text
    r = client.post(CONFIRM.format(d.id), json={})
    assert r.status_code == 200, r.text
    site = db.get(Site, r.json()["site_id"])
    assert site is not None and site.l2_unit_id == city.units["bureau_shenhe"]
    assert site.kind == SiteKind.other and site.enforcement_grid_id == city.grids["E-SH"]


def test_a_late_station_push_tells_the_station_admins(
    db: Session, city: City, settings: Settings, pushed: dict[str, SuspectSite]
) -> None:
    inactive = User(
        username="safety_admin2",
        display_name="safety_admin2",
        password_hash="x",
        role=Role.district_admin,
        org_unit_id=city.units["safety"],
        is_active=False,
    )
    db.add(inactive)
    db.flush()
    escalation.sweep_escalations(db, RUN_AT + hours(1), settings=settings)
    escalation.sweep_escalations(db, RUN_AT + hours(25), settings=settings)
    told = _told(db, city, "cases.notice.citybrain_overdue")
    assert told == {
        "safety_admin": {pushed["station"].case_id},
        "d_shenhe": {pushed["district"].case_id},
    }
    assert set(_told(db, city, "cases.notice.escalated_l1")) == {"admin"}


def test_the_monthly_ledger_gap_of_a_station_push_is_the_districts(
    db: Session,
    city: City,
    settings: Settings,
    api_as: Callable[[str], TestClient],
    pushed: dict[str, SuspectSite],
) -> None:
    """Seed 000 §5 scores sites missing from a *district's* ledger: a push the station
    confirmed in its grid in 和平区 costs 和平区's bureau, not the station."""
    from dustgrid.assessments import service as assessments
    from dustgrid.assessments.months import Month
    from dustgrid.assessments.scoring import L2UnitFacts

    for user, s in (("safety_admin", pushed["station"]), ("d_shenhe", pushed["district"])):
        assert api_as(user).post(CONFIRM.format(s.id), json={}).status_code == 200
    scores = assessments.compute(db, Month(2026, 5), settings, RUN_AT + hours(2))
    misses = {
        c.unit_id: list(c.facts.ledger_misses) for c in scores if isinstance(c.facts, L2UnitFacts)
    }
    assert misses[city.units["bureau_heping"]] == [pushed["station"].case_id]
    assert misses[city.units["bureau_shenhe"]] == [pushed["district"].case_id]
    assert misses[city.units["safety"]] == []
