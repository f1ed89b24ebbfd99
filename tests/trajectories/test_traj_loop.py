"""The City Brain loop (issue 14): the daily push as City Brain cases routed to the district
grid, its 24-hour clock (the district's: forwarding does not stop it, overdue escalates),
confirm and dismiss through the API, the ledger-gap count, and scoping."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from dustgrid.auth.models import User
from dustgrid.auth.service import load_principal
from dustgrid.cases import escalation
from dustgrid.cases import service as cases
from dustgrid.cases.models import Case, CaseEvent
from dustgrid.cases.states import CaseState
from dustgrid.cases.workflow import MoveInput
from dustgrid.config import Settings
from dustgrid.notifications import service as notifications
from dustgrid.notifications.models import Notification
from dustgrid.sites.models import PermitStatus, Site
from dustgrid.trajectories import service
from dustgrid.trajectories.models import KnownPlace, StayRecord, SuspectSite, TruckDay
from tests.cases.case_kit import case_in
from tests.fixtures.city import City
from tests.trajectories.loop_kit import (
    DAY2,
    HEPING,
    RUN_AT,
    SHENHE_IN_GRID,
    SHENHE_OPEN,
    hours,
    loading_fixes,
    store_fixes,
)


@pytest.fixture
def cb_settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"var_dir": tmp_path})


@pytest.fixture
def pushed(db: Session, cb_settings: Settings) -> dict[str, SuspectSite]:
    """Three suspects pushed by the run of DAY2: two in 沈河区 (one in a grid), one in 和平区."""
    store_fixes(cb_settings, loading_fixes([SHENHE_IN_GRID, SHENHE_OPEN, HEPING]))
    report = service.run_day(db, DAY2, settings=cb_settings, now=RUN_AT)
    assert report.pushed == 3 and report.suspects == 3
    rows = list(db.scalars(select(SuspectSite)))
    by_place: dict[str, SuspectSite] = {}
    for s in rows:
        for name, (lat, lon) in (
            ("in_grid", SHENHE_IN_GRID),
            ("open", SHENHE_OPEN),
            ("heping", HEPING),
        ):
            if abs(s.lat - lat) < 0.001 and abs(s.lon - lon) < 0.001:
                by_place[name] = s
    assert set(by_place) == {"in_grid", "open", "heping"}
    return by_place


def _principal(db: Session, city: City, username: str):  # type: ignore[no-untyped-def]
    return load_principal(db, db.get(User, city.users[username]))  # type: ignore[arg-type]


def test_each_new_suspect_is_a_city_brain_case_routed_to_its_district_due_in_24_hours(
    db: Session, city: City, pushed: dict[str, SuspectSite]
) -> None:
    for name, district, unit in (
        ("in_grid", "shenhe", "bureau_shenhe"),
        ("open", "shenhe", "bureau_shenhe"),
        ("heping", "heping", "bureau_heping"),
    ):
        s = pushed[name]
        case = db.get(Case, s.case_id)
        assert case is not None and case.source == "city_brain"
        assert s.district_id == city.districts[district] == case.district_id
        assert case.assigned_unit_id == city.units[unit] == s.unit_id
        assert case.state == "dispatched"
        assert case.clock == "feedback" and case.level == "L2"  # the district grid's clock
        assert case.due_at == RUN_AT + hours(24) == s.due_at
    assert pushed["in_grid"].grid_id == city.grids["E-SH"]  # inside the grid's area
    assert pushed["open"].grid_id is None
    ev = pushed["in_grid"]
    assert ev.trucks == 4 and ev.days == 2 and ev.visits == 8
    assert ev.dwell_seconds >= 8 * 29 * 60


def test_the_run_keeps_its_summaries_and_pushes_nothing_twice(
    db: Session, cb_settings: Settings, pushed: dict[str, SuspectSite]
) -> None:
    assert db.scalar(select(TruckDay).where(TruckDay.day == DAY2)) is not None
    n_stays = len(list(db.scalars(select(StayRecord).where(StayRecord.day == DAY2))))
    assert n_stays == 12  # 3 places × 4 trucks, one stay each on DAY2
    again = service.run_day(db, DAY2, settings=cb_settings, now=RUN_AT + hours(1))
    assert again.pushed == 0 and again.refreshed == 3
    assert len(list(db.scalars(select(SuspectSite)))) == 3
    assert len(list(db.scalars(select(StayRecord).where(StayRecord.day == DAY2)))) == n_stays


def test_forwarding_does_not_stop_the_district_clock(
    db: Session, city: City, settings: Settings, pushed: dict[str, SuspectSite]
) -> None:
    s = pushed["in_grid"]
    admin = _principal(db, city, "admin")
    later = RUN_AT + hours(2)
    cases.move(
        db,
        admin,
        s.case_id,
        "transfer",  # type: ignore[arg-type]
        MoveInput(unit_id=city.units["bureau_heping"], reason="转交"),
        now=later,
        settings=settings,
    )
    case = db.get(Case, s.case_id)
    assert case is not None and case.state == "dispatched"
    assert case.clock == "feedback" and case.due_at == RUN_AT + hours(24)
    d_heping = _principal(db, city, "d_heping")
    cases.move(
        db,
        d_heping,
        s.case_id,
        "return",
        MoveInput(reason="不在本区"),  # type: ignore[arg-type]
        now=later + hours(1),
        settings=settings,
    )
    assert case.state == "returned" and case.clock == "feedback"
    cases.move(
        db,
        admin,
        s.case_id,
        "dispatch",  # type: ignore[arg-type]
        MoveInput(unit_id=city.units["bureau_shenhe"]),
        now=later + hours(2),
        settings=settings,
    )
    assert case.state == "dispatched" and case.clock == "feedback"
    assert case.due_at == RUN_AT + hours(24)


def test_an_overdue_push_escalates_to_the_city(
    db: Session, settings: Settings, pushed: dict[str, SuspectSite]
) -> None:
    escalation.sweep_escalations(db, RUN_AT + hours(1), settings=settings)  # opens the window
    n = escalation.sweep_escalations(db, RUN_AT + hours(25), settings=settings)
    assert n >= 3
    ids = {s.case_id for s in pushed.values()}
    kinds = {
        (e.case_id, e.kind) for e in db.scalars(select(CaseEvent).where(CaseEvent.case_id.in_(ids)))
    }
    assert all((i, "case.escalated") in kinds for i in ids)


def test_confirm_through_the_api_enters_the_ledger_with_an_enforcement_case(
    db: Session, city: City, api_as: Callable[[str], TestClient], pushed: dict[str, SuspectSite]
) -> None:
    s = pushed["open"]
    district = city.districts["shenhe"]
    month = (date(2026, 1, 1), date(2030, 12, 31))
    before = service.missing_from_ledger(db, district, month)
    r = api_as("d_shenhe").post(
        f"/api/v1/trajectories/suspects/{s.id}/confirm",
        json={"name": "无证土方点", "note": "现场核实有挖掘"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "confirmed" and body["verdict_by"]
    site = db.get(Site, body["site_id"])
    assert site is not None and site.permit_status == PermitStatus.confirmed_unpermitted
    assert site.district_id == district and site.name == "无证土方点"
    case = db.get(Case, s.case_id)
    assert case is not None and case.site_id == site.id
    assert case.state == "accepted" and case.clock == "handle"  # the 24 hours are answered
    assert service.missing_from_ledger(db, district, month) == before + 1
    assert service.missing_from_ledger(db, city.districts["heping"], month) == 0
    again = api_as("d_shenhe").post(f"/api/v1/trajectories/suspects/{s.id}/confirm", json={})
    assert again.status_code == 409


def test_dismiss_through_the_api_makes_a_known_place_never_pushed_again(
    db: Session,
    cb_settings: Settings,
    api_as: Callable[[str], TestClient],
    pushed: dict[str, SuspectSite],
) -> None:
    s = pushed["heping"]
    client = api_as("d_heping")
    r = client.post(f"/api/v1/trajectories/suspects/{s.id}/dismiss", json={"reason": "other"})
    assert r.status_code == 422  # "other" needs words
    r = client.post(
        f"/api/v1/trajectories/suspects/{s.id}/dismiss",
        json={"reason": "car_park", "text": "商场停车场"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "dismissed" and r.json()["dismiss_reason"] == "car_park"
    place = db.get(KnownPlace, r.json()["known_place_id"])
    assert place is not None and place.kind == "car_park"
    case = db.get(Case, s.case_id)
    assert case is not None and case.state == "closed" and case.clock is None
    # the same trucks keep stopping there: a later run does not push it again
    store_fixes(cb_settings, loading_fixes([HEPING], days=(date(2026, 5, 6),)), "later")
    report = service.run_day(db, date(2026, 5, 6), settings=cb_settings, now=RUN_AT + hours(30))
    assert report.pushed == 0
    assert len([x for x in db.scalars(select(SuspectSite)) if x.district_id == s.district_id]) == 1


def test_a_district_sees_and_decides_only_its_own_suspects(
    city: City, api_as: Callable[[str], TestClient], pushed: dict[str, SuspectSite]
) -> None:
    mine = api_as("d_heping").get("/api/v1/trajectories/suspects")
    assert mine.status_code == 200
    assert {x["id"] for x in mine.json()} == {pushed["heping"].id}
    other = pushed["open"].id
    assert api_as("d_heping").get(f"/api/v1/trajectories/suspects/{other}").status_code == 404
    r = api_as("d_heping").post(
        f"/api/v1/trajectories/suspects/{other}/dismiss", json={"reason": "depot"}
    )
    assert r.status_code == 404
    officer = api_as("off_sh1").get("/api/v1/trajectories/suspects").json()
    assert {x["id"] for x in officer} == {pushed["in_grid"].id}  # its grid's only
    assert len(api_as("admin").get("/api/v1/trajectories/suspects").json()) == 3
    # the city sees all but the district decides
    r = api_as("admin").post(
        f"/api/v1/trajectories/suspects/{other}/dismiss", json={"reason": "depot"}
    )
    assert r.status_code == 403
    assert api_as("con_alpha").get("/api/v1/trajectories/suspects").json() == []


def test_feedback_lists_verdicts_since_with_person_and_evidence(
    api_as: Callable[[str], TestClient], pushed: dict[str, SuspectSite]
) -> None:
    api_as("d_heping").post(
        f"/api/v1/trajectories/suspects/{pushed['heping'].id}/dismiss",
        json={"reason": "road_works", "text": "地铁施工"},
    )
    r = api_as("admin").get("/api/v1/citybrain/feedback")
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert len(items) == 1
    item = items[0]
    assert item["verdict"] == "dismissed" and item["reason"] == "road_works"
    assert item["person"] == "d_heping" and item["text"] == "地铁施工"
    assert item["evidence"]["trucks"] == 4 and item["evidence"]["days"] == 2
    since = r.json()["next_since"]
    r2 = api_as("admin").get("/api/v1/citybrain/feedback", params={"since": since})
    assert r2.json()["items"] == []
    assert api_as("d_heping").get("/api/v1/citybrain/feedback").status_code == 403


def _told(db: Session, city: City, key: str) -> dict[str, list[Notification]]:
    """Notifications with message ``key``, by recipient's username."""
    names = {v: k for k, v in city.users.items()}
    out: dict[str, list[Notification]] = {}
    for n in db.scalars(select(Notification).where(Notification.message_key == key)):
        out.setdefault(names[n.user_id], []).append(n)
    return out


def test_a_push_tells_the_district_admins_and_the_officers_of_its_grid_and_no_one_else(
    db: Session, city: City, pushed: dict[str, SuspectSite]
) -> None:
    told = _told(db, city, service.PUSHED_NOTICE)
    # 沈河: two pushes for its admin; the one inside grid E-SH also for that grid's officers.
    # 和平: one push, outside every grid's area: its admin only. Nobody else (not the city,
    # not the stations, not other districts' officers, not inspectors or companies).
    assert {k: len(v) for k, v in told.items()} == {
        "d_shenhe": 2,
        "off_sh1": 1,
        "off_sh2": 1,
        "d_heping": 1,
    }
    s = pushed["in_grid"]
    (note,) = told["off_sh1"]
    assert note.link == f"/citybrain/suspects/{s.id}" and note.case_id == s.case_id
    assert {n.case_id for n in told["d_shenhe"]} == {s.case_id, pushed["open"].case_id}
    assert told["d_heping"][0].case_id == pushed["heping"].case_id
    zh = notifications.title_of(note, "zh-CN")
    assert s.ref in zh and "4 辆渣土车" in zh and "2 天" in zh
    assert "2026-05-07 03:00" in zh  # the 24 hours end in local time
    en = notifications.title_of(note, "en")
    assert s.ref in en and "4 muck trucks" in en and "check it on the ground" in en


def test_the_officer_told_can_open_the_push(
    web_as: Callable[[str], TestClient], pushed: dict[str, SuspectSite], cb_settings: Settings
) -> None:
    from dustgrid.identity.deps import app_settings

    client = web_as("off_sh1")
    client.app.dependency_overrides[app_settings] = lambda: cb_settings  # type: ignore[attr-defined]
    page = client.get(f"/citybrain/suspects/{pushed['in_grid'].id}")
    assert page.status_code == 200 and pushed["in_grid"].ref in page.text


def test_an_inactive_officer_is_not_told(db: Session, city: City, cb_settings: Settings) -> None:
    officer = db.get(User, city.users["off_sh2"])
    assert officer is not None
    officer.is_active = False
    store_fixes(cb_settings, loading_fixes([SHENHE_IN_GRID]))
    assert service.run_day(db, DAY2, settings=cb_settings, now=RUN_AT).pushed == 1
    assert set(_told(db, city, service.PUSHED_NOTICE)) == {"d_shenhe", "off_sh1"}


def test_an_overdue_push_tells_the_district_leaders_once(
    db: Session, city: City, settings: Settings, pushed: dict[str, SuspectSite]
) -> None:
    other = case_in(db, city, settings, CaseState.dispatched)  # an ordinary L2 clock, late too
    escalation.sweep_escalations(db, RUN_AT + hours(1), settings=settings)
    assert _told(db, city, "cases.notice.citybrain_overdue") == {}  # nobody late yet
    escalation.sweep_escalations(db, RUN_AT + hours(25), settings=settings)
    told = _told(db, city, "cases.notice.citybrain_overdue")
    assert {k: sorted(n.case_id for n in v) for k, v in told.items()} == {
        "d_shenhe": sorted([pushed["in_grid"].case_id, pushed["open"].case_id]),
        "d_heping": [pushed["heping"].case_id],
    }
    assert other.id not in {n.case_id for v in told.values() for n in v}
    note = told["d_heping"][0]
    assert note.link == f"/cases/{pushed['heping'].case_id}"
    assert "已升级至市级" in notifications.title_of(note, "zh-CN")
    assert "escalated to the city" in notifications.title_of(note, "en")
    l1 = _told(db, city, "cases.notice.escalated_l1")
    assert set(l1) == {"admin"}  # the city's digest, as for any L2 clock
    escalation.sweep_escalations(db, RUN_AT + hours(30), settings=settings)
    again = _told(db, city, "cases.notice.citybrain_overdue")
    assert sum(len(v) for v in again.values()) == 3  # each clock escalates once


def test_a_push_answered_in_time_tells_no_one_when_its_old_clock_passes(
    db: Session,
    city: City,
    settings: Settings,
    api_as: Callable[[str], TestClient],
    pushed: dict[str, SuspectSite],
) -> None:
    r = api_as("d_heping").post(
        f"/api/v1/trajectories/suspects/{pushed['heping'].id}/dismiss", json={"reason": "depot"}
    )
    assert r.status_code == 200
    escalation.sweep_escalations(db, RUN_AT + hours(1), settings=settings)
    escalation.sweep_escalations(db, RUN_AT + hours(25), settings=settings)
    assert set(_told(db, city, "cases.notice.citybrain_overdue")) == {"d_shenhe"}


def _strip(lat: float, lon: float, north: float) -> dict[str, object]:
    """A drawn car park 2 km long (west to east) and 60 m wide, its south edge ``north``
    metres north of the point, from 100 m west of it to 1.9 km east."""
    from tests.trajectories.loop_kit import _offset

    corners = [(north, -100.0), (north, 1900.0), (north + 60.0, 1900.0), (north + 60.0, -100.0)]
    ring = [[b, a] for a, b in (_offset(lat, lon, n, e) for n, e in corners)]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def test_a_drawn_boundary_keeps_its_buffer_beyond_its_edge(
    db: Session, city: City, cb_settings: Settings
) -> None:
    """Two drawn car parks: one 150 m from a loading place (within the 250 m buffer: not
    pushed), one 400 m from another (pushed, though its far corners are 1.9 km away)."""
    from dustgrid.trajectories.schemas import PlaceIn

    admin = _principal(db, city, "admin")
    for name, (lat, lon), north in (
        ("和平停车场", HEPING, 150.0),
        ("沈河停车场", SHENHE_OPEN, 400.0),
    ):
        body = PlaceIn(name=name, kind="car_park", boundary=_strip(lat, lon, north))  # type: ignore[arg-type]
        service.save_place(db, admin, body)
    store_fixes(cb_settings, loading_fixes([HEPING, SHENHE_OPEN]))
    report = service.run_day(db, DAY2, settings=cb_settings, now=RUN_AT)
    assert report.suspects == 1 and report.pushed == 1
    (s,) = db.scalars(select(SuspectSite))
    assert s.district_id == city.districts["shenhe"]
    assert s.nearest_known == "沈河停车场"
    assert s.known_clearance_m is not None and 380.0 < s.known_clearance_m < 420.0
