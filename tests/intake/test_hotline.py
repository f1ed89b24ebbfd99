"""12319 desk: record → suggestions → link (new case) → a duplicate merges; feedback."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from dustgrid.audit.models import AuditEntry
from dustgrid.auth.models import User
from dustgrid.auth.service import load_principal
from dustgrid.cases.models import Case, CaseEvent
from dustgrid.cases.states import CaseSource
from dustgrid.config import Settings
from dustgrid.intake.models import Complaint
from dustgrid.intake.open311 import service as open311
from dustgrid.intake.open311.service import issue_key
from dustgrid.models import utcnow
from tests.fixtures.city import City
from tests.intake.intake_kit import hours_ago, iso

# 80 m north-east of HP-001 (41.791, 123.401); HP-003 is ~550 m away, HP-002 ~850 m.
NEAR_HP001 = {"lat": 41.7915, "lon": 123.4016}


def _complaint(c: TestClient, **kw: object) -> dict:
    body = {
        "caller_name": "张三",
        "caller_phone": "13812345678",
        "place_text": "中山路住宅项目东门",
        "content": "工地土方作业扬尘很大，没有洒水",
        **NEAR_HP001,
        **kw,
    }
    r = c.post("/api/v1/hotline/complaints", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def test_create_suggest_link_and_merge_duplicate(
    api_as: Callable[[str], TestClient], db: Session, city: City
) -> None:
    admin = api_as("admin")
    first = _complaint(admin)
    assert first["status"] == "received"
    assert first["caller_phone"] == "13812345678"  # the detail shows the full number
    assert first["district_id"] == city.districts["heping"]

    sug = admin.get(f"/api/v1/hotline/complaints/{first['id']}/suggestions").json()
    sites = sug["sites"]
    assert sites[0]["site_id"] == city.sites["HP-001"]
    assert 50 <= sites[0]["distance_m"] <= 120
    # the best match clearly first; unrelated sites (the other district, 5 km away) not shown
    scores = [s["score"] for s in sites]
    assert scores == sorted(scores, reverse=True) and scores[0] - scores[1] >= 0.3
    assert "中山路住宅项目" in sites[0]["matched"] and sites[0]["same_district"] is True
    assert city.sites["SH-002"] not in {s["site_id"] for s in sites}
    assert sug["complaints"] == [] and sug["cases"] == []

    r = admin.post(f"/api/v1/hotline/complaints/{first['id']}/link",
                   json={"site_id": city.sites["HP-001"]})  # fmt: skip
    assert r.status_code == 200, r.text
    linked = r.json()
    assert linked["status"] == "linked" and linked["case_state"] == "reported"
    case = db.get(Case, linked["case_id"])
    assert case is not None and case.source == CaseSource.hotline_12319
    assert case.site_id == city.sites["HP-001"] and case.external_ref == f"complaint:{first['id']}"

    # a second caller, an hour later, about the same site
    second = _complaint(admin, caller_name="李四", caller_phone="13900001111",
                        received_at=iso(hours_ago(0)), lat=41.7912, lon=123.4013)  # fmt: skip
    sug = admin.get(f"/api/v1/hotline/complaints/{second['id']}/suggestions").json()
    assert [d["complaint_id"] for d in sug["complaints"]] == [first["id"]]
    assert [d["case_id"] for d in sug["cases"]] == [case.id]
    r = admin.post(f"/api/v1/hotline/complaints/{second['id']}/link",
                   json={"site_id": city.sites["HP-001"]})  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "merged" and r.json()["case_id"] == case.id
    db.refresh(case)
    assert case.merged_count == 1
    kinds = list(db.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == case.id)))
    assert "case.merged" in kinds
    # linking twice is refused
    again = admin.post(f"/api/v1/hotline/complaints/{second['id']}/link",
                       json={"site_id": city.sites["HP-001"]})  # fmt: skip
    assert again.status_code == 409


def test_merge_into_chosen_case_and_list_masks_callers(
    api_as: Callable[[str], TestClient], db: Session, city: City
) -> None:
    admin = api_as("admin")
    a = _complaint(admin)
    case_id = admin.post(f"/api/v1/hotline/complaints/{a['id']}/link",
                         json={"site_id": city.sites["HP-001"]}).json()["case_id"]  # fmt: skip
    b = _complaint(admin, category="hoarding", content="围挡倒了一段")
    r = admin.post(f"/api/v1/hotline/complaints/{b['id']}/link", json={"case_id": case_id})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "merged" and r.json()["case_id"] == case_id
    assert db.get(Case, case_id).merged_count == 1  # type: ignore[union-attr]

    page = admin.get("/api/v1/hotline/complaints", params={"size": 200}).json()
    mine = [i for i in page["items"] if i["id"] in (a["id"], b["id"])]
    assert {i["caller_phone"] for i in mine} == {"138****5678"}
    assert {i["caller_name"] for i in mine} == {"张*"}


def test_location_only_complaint_opens_case_at_the_point(
    api_as: Callable[[str], TestClient], db: Session, city: City
) -> None:
    admin = api_as("admin")
    c = _complaint(admin, lat=41.7805, lon=123.3805, place_text="南五马路")
    r = admin.post(f"/api/v1/hotline/complaints/{c['id']}/link", json={})
    assert r.status_code == 200, r.text
    case = db.get(Case, r.json()["case_id"])
    assert case is not None and case.site_id is None
    assert (case.lat, case.lon) == (41.7805, 123.3805)


def test_bad_input_is_422_and_leaves_nothing(
    api_as: Callable[[str], TestClient], db: Session, city: City
) -> None:
    admin = api_as("admin")
    before_c = db.scalar(select(Complaint.id).order_by(Complaint.id.desc()).limit(1))
    bad = admin.post("/api/v1/hotline/complaints", json={"content": "扬尘"})  # no place
    assert bad.status_code == 422
    bad = admin.post("/api/v1/hotline/complaints",
                     json={"content": "扬尘", "place_text": "x", "category": "nope"})  # fmt: skip
    assert bad.status_code == 422 and "category" in bad.text
    c = _complaint(admin)
    n_cases = db.scalar(select(Case.id).order_by(Case.id.desc()).limit(1))
    r = admin.post(f"/api/v1/hotline/complaints/{c['id']}/link", json={"site_id": 999999})
    assert r.status_code == 422, r.text
    assert db.scalar(select(Case.id).order_by(Case.id.desc()).limit(1)) == n_cases
    assert db.get(Complaint, c["id"]).status.value == "received"  # type: ignore[union-attr]
    assert db.scalar(select(Complaint.id).order_by(Complaint.id.desc()).limit(1)) != before_c


def test_district_admin_records_sees_own_district_and_cannot_open(
    api_as: Callable[[str], TestClient], db: Session, city: City
) -> None:
    d = api_as("d_heping")
    c = _complaint(d)
    assert c["district_id"] == city.districts["heping"]
    other = api_as("d_shenhe")
    assert other.get(f"/api/v1/hotline/complaints/{c['id']}").status_code == 404
    assert other.get(f"/api/v1/hotline/complaints/{c['id']}/suggestions").status_code == 404
    ids = {i["id"] for i in other.get("/api/v1/hotline/complaints").json()["items"]}
    assert c["id"] not in ids
    # the case core lets only L1 open a case from a 12319 complaint (states.REPORTERS)
    from dustgrid.intake.hotline import may_open_case
    from tests.intake.intake_kit import who

    if not may_open_case(who(db, city, "d_heping")):
        r = d.post(f"/api/v1/hotline/complaints/{c['id']}/link",
                   json={"site_id": city.sites["HP-001"]})  # fmt: skip
        assert r.status_code == 403
    # suggestions only show sites the district admin sees
    sug = d.get(f"/api/v1/hotline/complaints/{c['id']}/suggestions").json()
    assert {s["site_id"] for s in sug["sites"]} <= {city.sites[k] for k in
                                                    ("HP-001", "HP-002", "HP-003")}  # fmt: skip


@pytest.mark.parametrize("user", ["off_hp1", "insp_hp1", "con_alpha", "st_heping", "viewer_city"])
def test_desk_is_forbidden_to_other_roles(
    user: str, api_as: Callable[[str], TestClient], city: City
) -> None:
    c = api_as(user)
    assert c.get("/api/v1/hotline/complaints").status_code == 403
    r = c.post("/api/v1/hotline/complaints", json={"content": "扬尘", "place_text": "某路"})
    assert r.status_code == 403
    assert c.get("/api/v1/hotline/stats").status_code == 403


def test_feedback_rules_and_audit(
    api_as: Callable[[str], TestClient], db: Session, city: City
) -> None:
    admin = api_as("admin")
    c = _complaint(admin, received_at=iso(hours_ago(3)))
    url = f"/api/v1/hotline/complaints/{c['id']}/feedback"
    r = admin.post(url, json={"satisfaction": 5})
    assert r.status_code == 422 and "satisfaction" in r.text  # no response yet
    r = admin.post(url, json={"response_at": iso(hours_ago(5))})
    assert r.status_code == 422  # before the call came in
    r = admin.post(url, json={"responded": True})
    assert r.status_code == 200 and r.json()["response_at"] is not None
    r = admin.post(url, json={"resolved": True, "satisfaction": 4, "note": "已回访"})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["resolved_at"] and out["satisfaction"] == 4 and out["feedback_note"] == "已回访"
    assert admin.post(url, json={"satisfaction": 7}).status_code == 422
    actions = set(db.scalars(select(AuditEntry.action).where(
        AuditEntry.entity_type == "complaint", AuditEntry.entity_id == c["id"])))  # fmt: skip
    assert {"hotline.create", "hotline.feedback"} <= actions


def test_dismiss(api_as: Callable[[str], TestClient], city: City) -> None:
    admin = api_as("admin")
    c = _complaint(admin)
    r = admin.post(f"/api/v1/hotline/complaints/{c['id']}/dismiss", json={"reason": "非工地问题"})
    assert r.status_code == 200 and r.json()["status"] == "dismissed"
    r = admin.post(f"/api/v1/hotline/complaints/{c['id']}/link",
                   json={"site_id": city.sites["HP-001"]})  # fmt: skip
    assert r.status_code == 409


def test_received_in_future_is_refused(api_as: Callable[[str], TestClient]) -> None:
    from tests.intake.intake_kit import now_utc

    r = api_as("admin").post("/api/v1/hotline/complaints", json={
        "content": "扬尘", "place_text": "某路",
        "received_at": iso(now_utc() + timedelta(hours=2))})  # fmt: skip
    assert r.status_code == 422 and "received_at" in r.text


def test_an_open311_request_linked_by_the_desk_opens_an_open311_case(
    api_as: Callable[[str], TestClient], db: Session, city: City, settings: Settings
) -> None:
    admin_user = db.get(User, city.users["admin"])
    assert admin_user is not None
    _row, key = issue_key(db, load_principal(db, admin_user), "随手拍", now=utcnow())
    c, _at = open311.create_request(db, api_key=key, form={
        "service_code": "dust_complaint", "lat": "41.7915", "long": "123.4016"},
        now=utcnow(), settings=settings)  # fmt: skip
    db.flush()
    r = api_as("admin").post(f"/api/v1/hotline/complaints/{c.id}/link", json={})
    assert r.status_code == 200, r.text
    case = db.get(Case, r.json()["case_id"])
    assert case is not None and case.source == CaseSource.open311
    db.expire(case)  # read back what the database stored (no enum constraint refuses it)
    assert db.scalar(select(Case.source).where(Case.id == case.id)) == CaseSource.open311
    # a 12319 call 30 m away joins the open Open311 case (the public sources deduplicate together)
    call = _complaint(api_as("admin"), lat=41.7917, lon=123.4018)
    merged = api_as("admin").post(f"/api/v1/hotline/complaints/{call['id']}/link", json={})
    assert merged.status_code == 200 and merged.json()["case_id"] == case.id
    page = api_as("admin").get(f"/api/v1/cases/{case.id}")
    assert page.status_code == 200 and page.json()["source"] == "open311"


def test_identical_text_only_calls_are_flagged_as_duplicates_with_the_reasons(
    api_as: Callable[[str], TestClient], city: City
) -> None:
    """Issue 13: same caller, same place text, same minute, no coordinates."""
    admin = api_as("admin")
    at = iso(hours_ago(0.5))
    text_only = {"lat": None, "lon": None, "place_text": "和平区太原街改造工程北门",
                 "received_at": at}  # fmt: skip
    first = _complaint(admin, **text_only)
    second = _complaint(admin, **text_only)
    other = _complaint(admin, caller_phone="13900001111", place_text="沈河区五爱街写字楼",
                       lat=None, lon=None, received_at=at)  # fmt: skip
    sug = admin.get(f"/api/v1/hotline/complaints/{second['id']}/suggestions").json()
    dups = {d["complaint_id"]: d for d in sug["complaints"]}
    assert set(dups) == {first["id"]}  # not the unrelated call
    d = dups[first["id"]]
    assert d["rules"] == ["same_caller", "similar_place"]
    assert d["gap_minutes"] == 0 and d["place_similarity"] == 1.0 and d["distance_m"] is None
    assert sug["policy_version"].startswith("2026.2")
    # and the best site by text is the one named, clearly ahead
    sites = sug["sites"]
    assert sites[0]["site_id"] == city.sites["HP-003"]
    assert len(sites) == 1 or sites[0]["score"] - sites[1]["score"] >= 0.3
    alone = admin.get(f"/api/v1/hotline/complaints/{other['id']}/suggestions").json()
    assert alone["complaints"] == []
