"""Inspections over HTTP through the real app: check-in fence, video checks, photos,
submit (idempotent; failed items open cases with their photos), reads in scope."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dustgrid.audit.models import AuditEntry
from dustgrid.cases.models import Case
from dustgrid.inspections.models import Inspection
from dustgrid.sites.models import Site
from tests.fixtures.city import City
from tests.inspections.photo_kit import jpeg

# Routes of inspections walked here (registered with tests/auth/walk_registry).
WALKED = {
    ("GET", "/api/v1/checklist"),
    ("POST", "/api/v1/inspections"),
    ("GET", "/api/v1/inspections"),
    ("GET", "/api/v1/inspections/nearby"),
    ("GET", "/api/v1/inspections/{inspection_id}"),
    ("POST", "/api/v1/inspections/{inspection_id}/photos"),
    ("GET", "/api/v1/inspections/{inspection_id}/photos/{photo_id}"),
    ("POST", "/api/v1/inspections/{inspection_id}/submit"),
}

HP1 = (41.791, 123.401)  # HP-001's point (no boundary drawn in the test city)
INSIDE = (41.7912, 123.4013)  # ~35 m away
FAR = (41.803, 123.401)  # ~1.33 km north

Api = Callable[[str], TestClient]


def _key() -> str:
    return uuid.uuid4().hex


def check_in(c: TestClient, site_id: int, *, at: tuple[float, float] = INSIDE, **extra: Any) -> Any:
    body = {"site_id": site_id, "lat": at[0], "lon": at[1], "accuracy_m": 12.5}
    body.update({"idempotency_key": _key(), **extra})
    return c.post("/api/v1/inspections", json=body)


def answers(c: TestClient, failed: dict[str, str] | None = None) -> list[dict[str, str]]:
    """An answer for every item of today's checklist: passed unless named in ``failed``."""
    items = c.get("/api/v1/checklist").json()["items"]
    failed = failed or {}
    return [
        {
            "item_code": i["code"],
            "outcome": "failed" if i["code"] in failed else "passed",
            "note": failed.get(i["code"], ""),
        }
        for i in items
    ]


def photo(c: TestClient, inspection_id: int, item_code: str, content: bytes | None = None) -> Any:
    content = content or jpeg(taken=datetime.now(UTC), lat=INSIDE[0], lon=INSIDE[1])
    return c.post(
        f"/api/v1/inspections/{inspection_id}/photos",
        data={"item_code": item_code},
        files={"photo": ("IMG_0001.jpg", content, "image/jpeg")},
    )


# --------------------------------------------------------------------------- checklist


def test_checklist_for_a_date_switches_the_seasonal_items(api_as: Api) -> None:
    c = api_as("insp_hp1")
    winter = c.get("/api/v1/checklist", params={"date": "2026-02-01"}).json()
    assert winter["version"] == "2026.1-Q1"
    codes = [i["code"] for i in winter["items"]]
    assert codes[:2] == ["hoarding", "road_hardening"] and "fireworks" in codes
    summer = c.get("/api/v1/checklist", params={"date": "2026-07-15"}).json()
    assert summer["version"] == "2026.1-Q3"
    assert "flood_prevention" in [i["code"] for i in summer["items"]]
    assert "fireworks" not in [i["code"] for i in summer["items"]]
    road = next(i for i in winter["items"] if i["code"] == "road_hardening")
    assert road["label"] == "车行道路硬化" and road["defect_label"] == "道路未硬化"
    bad = c.get("/api/v1/checklist", params={"date": "2026-13-01"})
    assert bad.status_code == 422 and "date" in bad.text


# --------------------------------------------------------------------------- check-in


def test_check_in_inside_the_fence_records_distance_and_accuracy(
    api_as: Api, city: City, db: Session
) -> None:
    c = api_as("insp_hp1")
    r = check_in(c, city.sites["HP-001"])
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["mode"] == "on_site" and body["result"] == "draft"
    assert 20 < body["check_in_distance_m"] < 50
    assert body["check_in_accuracy_m"] == 12.5
    assert body["group_id"] is not None
    audit = db.scalar(
        select(AuditEntry).where(
            AuditEntry.entity_type == "inspection", AuditEntry.entity_id == body["id"]
        )
    )
    assert audit is not None and audit.action == "inspection.check_in"


def test_the_same_key_twice_is_one_visit(api_as: Api, city: City, db: Session) -> None:
    c = api_as("insp_hp1")
    key = _key()
    first = check_in(c, city.sites["HP-001"], idempotency_key=key)
    again = check_in(c, city.sites["HP-001"], idempotency_key=key)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    other = check_in(api_as("insp_hp2"), city.sites["HP-001"], idempotency_key=key)
    assert other.status_code == 409 and "idempotency" in other.text
    elsewhere = check_in(c, city.sites["HP-002"], at=(41.7851, 123.3951), idempotency_key=key)
    assert elsewhere.status_code == 409
    visits = db.scalar(select(func.count(Inspection.id)).where(Inspection.idempotency_key == key))
    assert visits == 1


def test_check_in_outside_the_fence_says_how_far(api_as: Api, city: City) -> None:
    r = check_in(api_as("insp_hp1"), city.sites["HP-001"], at=FAR)
    assert r.status_code == 422
    assert "您距工地约 1.3 公里" in r.json()["detail"]
    body = {"site_id": city.sites["HP-001"], "lat": FAR[0], "lon": FAR[1], "accuracy_m": 12.5}
    en = api_as("insp_hp1").post(
        "/api/v1/inspections",
        json={**body, "idempotency_key": _key()},
        headers={"Accept-Language": "en"},
    )
    assert "You are about 1.3 km from the site" in en.json()["detail"]
    assert r.json()["errors"]["distance_m"] == pytest.approx(1334, abs=5)
    missing = api_as("insp_hp1").post(
        "/api/v1/inspections", json={"site_id": city.sites["HP-001"], "idempotency_key": _key()}
    )
    assert missing.status_code == 422 and "定位" in missing.json()["detail"]


def test_a_drawn_boundary_is_measured_from_its_edge(api_as: Api, city: City, db: Session) -> None:
    site = db.get(Site, city.sites["HP-002"])
    assert site is not None
    lat, lon = site.lat, site.lon
    site.boundary = {
        "type": "Polygon",
        "coordinates": [
            [
                [lon - 0.002, lat - 0.002],
                [lon + 0.002, lat - 0.002],
                [lon + 0.002, lat + 0.002],
                [lon - 0.002, lat + 0.002],
                [lon - 0.002, lat - 0.002],
            ]
        ],
    }
    db.flush()
    # 0.0035° north of the point: ~390 m from it, ~167 m from the drawn edge
    r = check_in(api_as("insp_hp1"), site.id, at=(lat + 0.0035, lon))
    assert r.status_code == 201, r.text
    assert r.json()["check_in_distance_m"] == pytest.approx(167, abs=3)


def test_video_checks_are_for_officers_only(api_as: Api, city: City) -> None:
    site = city.sites["HP-001"]
    video = {"site_id": site, "mode": "video", "idempotency_key": _key()}
    r = api_as("off_hp1").post("/api/v1/inspections", json=video)
    assert r.status_code == 201, r.text
    assert r.json()["mode"] == "video" and r.json()["check_in_distance_m"] is None
    refused = api_as("insp_hp1").post(
        "/api/v1/inspections", json={**video, "idempotency_key": _key()}
    )
    assert refused.status_code == 403 and "视频巡查" in refused.json()["detail"]


@pytest.mark.parametrize(
    ("user", "status"),
    [("off_sh1", 404), ("insp_sh1", 404), ("d_heping", 403), ("con_alpha", 403), ("admin", 403)],
)
def test_only_members_of_the_site_grid_check_in(
    api_as: Api, city: City, user: str, status: int
) -> None:
    assert check_in(api_as(user), city.sites["HP-001"]).status_code == status


# --------------------------------------------------------------------------- photos, submit


def test_failed_item_without_photo_is_refused_naming_the_item(api_as: Api, city: City) -> None:
    c = api_as("insp_hp1")
    visit = check_in(c, city.sites["HP-001"]).json()
    r = c.post(
        f"/api/v1/inspections/{visit['id']}/submit",
        json={"answers": answers(c, {"road_hardening": "出入口道路未硬化"})},
    )
    assert r.status_code == 422
    assert "车行道路硬化" in r.json()["detail"]
    assert r.json()["errors"]["items"] == ["road_hardening"]


def test_unanswered_and_unknown_items_are_refused(api_as: Api, city: City) -> None:
    c = api_as("insp_hp1")
    visit = check_in(c, city.sites["HP-001"]).json()
    url = f"/api/v1/inspections/{visit['id']}/submit"
    partial = answers(c)[1:]
    r = c.post(url, json={"answers": partial})
    assert r.status_code == 422 and "围挡连续设置" in r.json()["detail"]
    r = c.post(url, json={"answers": [*answers(c), {"item_code": "bogus", "outcome": "passed"}]})
    assert r.status_code == 422 and "bogus" in r.json()["detail"]


def test_failed_item_opens_a_case_with_the_photo_as_evidence(
    api_as: Api, city: City, db: Session
) -> None:
    c = api_as("insp_hp1")
    visit = check_in(c, city.sites["HP-001"]).json()
    shot = photo(c, visit["id"], "road_hardening")
    assert shot.status_code == 201, shot.text
    assert shot.json()["flags"] == []
    url = f"/api/v1/inspections/{visit['id']}/submit"
    body = {"answers": answers(c, {"road_hardening": "出入口道路未硬化"}), "note": "东门"}
    r = c.post(url, json=body)
    assert r.status_code == 200, r.text
    detail = r.json()
    assert detail["result"] == "problems" and detail["submitted_at"]
    failed = next(i for i in detail["items"] if i["item_code"] == "road_hardening")
    assert failed["outcome"] == "failed" and failed["case_id"]
    assert [(x["id"], x["category_label"]) for x in detail["cases"]] == [
        (failed["case_id"], "道路未硬化")
    ]
    case = c.get(f"/api/v1/cases/{failed['case_id']}").json()
    assert case["category"] == "road_not_hardened"
    assert case["source"] == "third_party_inspector"
    assert case["site_id"] == city.sites["HP-001"]
    assert len(case["attachments"]) == 1 and case["attachments"][0]["mime"] == "image/jpeg"
    evidence = c.get(case["attachments"][0]["url"])
    assert evidence.status_code == 200 and evidence.content[:3] == b"\xff\xd8\xff"
    # the same submit again (an offline queue's retry) returns the same visit, no new case
    again = c.post(url, json=body)
    assert again.status_code == 200 and again.json() == detail
    opened = db.scalar(
        select(func.count(Case.id)).where(Case.external_ref.like(f"inspection:{visit['id']}:%"))
    )
    assert opened == 1


def test_an_officers_failed_item_is_an_officer_report(api_as: Api, city: City) -> None:
    c = api_as("off_hp1")
    visit = check_in(c, city.sites["HP-003"], at=(41.7951, 123.4051)).json()
    assert photo(c, visit["id"], "bare_soil_cover").status_code == 201
    r = c.post(
        f"/api/v1/inspections/{visit['id']}/submit",
        json={"answers": answers(c, {"bare_soil_cover": ""})},
    )
    assert r.status_code == 200, r.text
    case = c.get(f"/api/v1/cases/{r.json()['cases'][0]['id']}").json()
    assert case["source"] == "enforcement_officer" and case["category"] == "bare_soil_uncovered"


def test_nothing_found_is_a_visit_without_cases(api_as: Api, city: City) -> None:
    c = api_as("insp_hp1")
    visit = check_in(c, city.sites["HP-001"]).json()
    items = answers(c)
    items[-1]["outcome"] = "not_applicable"
    r = c.post(f"/api/v1/inspections/{visit['id']}/submit", json={"answers": items})
    assert r.status_code == 200, r.text
    assert r.json()["result"] == "nothing_found" and r.json()["cases"] == []
    listed = c.get("/api/v1/inspections", params={"site_id": city.sites["HP-001"]}).json()
    assert visit["id"] in [v["id"] for v in listed["items"]]
    late = photo(c, visit["id"], "hoarding")
    assert late.status_code == 409


def test_photo_checks(api_as: Api, city: City) -> None:
    c = api_as("insp_hp1")
    visit = check_in(c, city.sites["HP-001"]).json()
    bare = photo(c, visit["id"], "hoarding", jpeg())
    assert bare.status_code == 201 and bare.json()["flags"] == ["exif_missing"]
    assert bare.json()["flag_labels"] == ["照片无拍摄信息（EXIF）"]
    again = photo(c, visit["id"], "hoarding", jpeg())
    assert again.status_code == 200 and again.json()["id"] == bare.json()["id"]
    far = photo(c, visit["id"], "hoarding", jpeg(taken=datetime.now(UTC), lat=41.9, lon=123.5))
    assert far.json()["flags"] == ["exif_far"]
    fake = c.post(
        f"/api/v1/inspections/{visit['id']}/photos",
        data={"item_code": "hoarding"},
        files={"photo": ("evil.jpg", b"MZ\x90\x00 not an image", "image/jpeg")},
    )
    assert fake.status_code == 422 and "evil.jpg" in fake.json()["detail"]
    wrong_item = photo(c, visit["id"], "no_such_item")
    assert wrong_item.status_code == 422 and "no_such_item" in wrong_item.json()["detail"]
    other = photo(api_as("insp_hp2"), visit["id"], "hoarding")
    assert other.status_code == 403


# --------------------------------------------------------------------------- reads in scope


@pytest.fixture
def submitted(api_as: Api, city: City) -> dict[str, Any]:
    c = api_as("insp_hp1")
    visit = check_in(c, city.sites["HP-001"]).json()
    shot = photo(c, visit["id"], "hoarding").json()
    r = c.post(
        f"/api/v1/inspections/{visit['id']}/submit",
        json={"answers": answers(c, {"hoarding": "围挡缺口"})},
    )
    assert r.status_code == 200, r.text
    return {"id": visit["id"], "photo": shot}


@pytest.mark.parametrize(
    ("user", "seen"),
    [
        ("admin", True),
        ("d_heping", True),
        ("st_heping", True),
        ("off_hp2", True),
        ("con_alpha", True),
        ("viewer_heping", True),
        ("d_shenhe", False),
        ("off_sh1", False),
        ("insp_sh1", False),
        ("con_beta", False),
        ("prov_gamma", False),
    ],
)
def test_visits_and_photos_are_read_in_scope(
    api_as: Api, submitted: dict[str, Any], user: str, seen: bool
) -> None:
    c = api_as(user)
    vid = submitted["id"]
    one = c.get(f"/api/v1/inspections/{vid}")
    assert one.status_code == (200 if seen else 404)
    listed = [v["id"] for v in c.get("/api/v1/inspections").json()["items"]]
    assert (vid in listed) is seen
    pic = c.get(submitted["photo"]["url"])
    assert pic.status_code == (200 if seen else 404)
    if seen:
        assert pic.headers["content-type"] == "image/jpeg"
        original = c.get(submitted["photo"]["original_url"])
        assert original.status_code == 200 and original.content[:3] == b"\xff\xd8\xff"
        assert original.content != pic.content  # the copy carries the watermark


def test_list_filters_by_dates(api_as: Api, submitted: dict[str, Any], city: City) -> None:
    c = api_as("d_heping")
    today = datetime.now(UTC).date().isoformat()
    hits = c.get("/api/v1/inspections", params={"from": "2000-01-01", "to": "2099-12-31"}).json()
    assert submitted["id"] in [v["id"] for v in hits["items"]]
    none = c.get("/api/v1/inspections", params={"from": "2001-01-01", "to": "2001-01-02"}).json()
    assert none["items"] == []
    backwards = c.get("/api/v1/inspections", params={"from": today, "to": "2001-01-01"})
    assert backwards.status_code == 422


def test_nearby_sites_come_nearest_first(api_as: Api, city: City) -> None:
    c = api_as("insp_hp1")
    rows = c.get("/api/v1/inspections/nearby", params={"lat": 41.7951, "lon": 123.4051}).json()
    assert rows[0]["id"] == city.sites["HP-003"] and rows[0]["distance_m"] < 20
    assert [r["distance_m"] for r in rows] == sorted(r["distance_m"] for r in rows)
    assert {r["project_code"] for r in rows} == {"HP-001", "HP-002", "HP-003", "HP-M01"}
    found = c.get("/api/v1/inspections/nearby", params={"q": "地铁"}).json()
    assert [r["project_code"] for r in found] == ["HP-M01"]
    assert api_as("prov_gamma").get("/api/v1/inspections/nearby").json() == []


def test_the_grade_follows_the_submitted_visit(api_as: Api, city: City) -> None:
    """HP-003 is typed 完全达标 in the fixture; a failed key item makes it 不达标 at once,
    and the site's "why this grade" names the failed measure's rule."""
    c = api_as("insp_hp1")
    site = city.sites["HP-003"]
    assert c.get(f"/api/v1/sites/{site}").json()["grade"] == "full"
    visit = check_in(c, site, at=(41.7951, 123.4051)).json()
    assert photo(c, visit["id"], "hoarding").status_code == 201
    r = c.post(
        f"/api/v1/inspections/{visit['id']}/submit",
        json={"answers": answers(c, {"hoarding": "西侧围挡缺口"})},
    )
    assert r.status_code == 200, r.text
    assert c.get(f"/api/v1/sites/{site}").json()["grade"] == "non_compliant"
