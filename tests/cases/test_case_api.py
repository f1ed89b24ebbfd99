"""Case, penalty, credit and notification routes over HTTP, walked as every role."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from dustgrid.cases.credit.models import SiteProblem
from dustgrid.cases.models import Case
from dustgrid.cases.states import CaseState
from dustgrid.config import Settings
from dustgrid.notifications.models import Notification
from tests.cases.case_kit import JPEG, PDF, PNG, case_in, report
from tests.fixtures.city import City

# Routes of the case loop walked here (registered with tests/auth/walk_registry).
WALKED = {
    ("GET", "/api/v1/cases"),
    ("POST", "/api/v1/cases"),
    ("GET", "/api/v1/cases/map"),
    ("GET", "/api/v1/cases/board"),
    ("GET", "/api/v1/cases/counts"),
    ("POST", "/api/v1/cases/look-back/sample"),
    ("GET", "/api/v1/cases/{case_id}"),
    ("POST", "/api/v1/cases/{case_id}/moves/{move}"),
    ("POST", "/api/v1/cases/{case_id}/notes"),
    ("GET", "/api/v1/cases/{case_id}/attachments/{att_id}"),
    ("GET", "/api/v1/penalties"),
    ("POST", "/api/v1/penalties/{problem_id}/confirm"),
    ("POST", "/api/v1/penalties/{problem_id}/reject"),
    ("GET", "/api/v1/stop-work-orders"),
    ("POST", "/api/v1/stop-work-orders/{order_id}/lift"),
    ("GET", "/api/v1/credit/lists"),
    ("GET", "/api/v1/credit/bad-records"),
    ("GET", "/api/v1/credit/bad-records.xlsx"),
    ("POST", "/api/v1/credit/enterprises/{enterprise_id}/lift-blacklist"),
    ("GET", "/api/v1/notifications"),
    ("GET", "/api/v1/notifications/unread-count"),
    ("POST", "/api/v1/notifications/{notification_id}/read"),
    ("POST", "/api/v1/notifications/read-all"),
}

# Who sees a case on each site (reported by that district's inspector).
HP = {
    "admin",
    "viewer_city",
    "d_heping",
    "viewer_heping",
    "st_heping",
    "off_hp1",
    "off_hp2",
    "insp_hp1",
    "insp_hp2",
    "con_alpha",
}
SH = {
    "admin",
    "viewer_city",
    "d_shenhe",
    "st_shenhe",
    "off_sh1",
    "off_sh2",
    "insp_sh1",
    "insp_sh2",
    "con_beta",
}
ROLES = sorted(HP | SH | {"safety_admin", "prov_gamma"})


@pytest.fixture
def two(db: Session, city: City, settings: Settings) -> dict[str, Case]:
    cases = {
        "hp": case_in(db, city, settings, CaseState.verifying, site="HP-001"),
        "sh": report(db, city, settings, site="SH-001", by="insp_sh1"),
    }
    db.commit()
    return cases


@pytest.mark.parametrize("user", ROLES)
def test_reads_follow_scope(
    user: str, api_as: Callable[[str], TestClient], two: dict[str, Case], db: Session
) -> None:
    c = api_as(user)
    listed = c.get("/api/v1/cases", params={"size": 200}).json()
    want = {two[k].id for k, who in (("hp", HP), ("sh", SH)) if user in who}
    assert {i["id"] for i in listed["items"]} == want
    assert {m["id"] for m in c.get("/api/v1/cases/map").json()} == want
    for key, who in (("hp", HP), ("sh", SH)):
        case = two[key]
        r = c.get(f"/api/v1/cases/{case.id}")
        assert r.status_code == (200 if user in who else 404), (user, key)
        detail = api_as("admin").get(f"/api/v1/cases/{case.id}").json()
        url = detail["attachments"][0]["url"]
        got = c.get(url)
        assert got.status_code == (200 if user in who else 404)
        if user in who:
            assert got.content == JPEG and got.headers["content-type"] == "image/jpeg"
        move = c.post(f"/api/v1/cases/{case.id}/moves/verify_pass", data={"result": "ok"})
        if user not in who:
            assert move.status_code == 404
        note = c.post(f"/api/v1/cases/{case.id}/notes", data={"text": "看过"})
        assert note.status_code == (200 if user in who else 404)
    problems = c.get("/api/v1/penalties").json()
    assert bool(problems) == (user in HP)  # the 和平 case's fix on site is a site problem
    assert c.get("/api/v1/cases/board").status_code == 200
    assert c.get("/api/v1/cases/counts").status_code == 200
    assert c.get("/api/v1/credit/lists").status_code == 200


def test_detail_has_timeline_moves_and_lights(
    api_as: Callable[[str], TestClient], two: dict[str, Case]
) -> None:
    d = api_as("d_heping").get(f"/api/v1/cases/{two['hp'].id}").json()
    assert d["state"] == "verifying" and d["allowed_moves"] == ["verify_pass", "verify_fail"]
    assert [e["kind"] for e in d["events"]][:3] == [
        "case.reported",
        "case.dispatched",
        "case.accepted",
    ]
    assert d["light"] in ("green", "yellow", "red") and d["category_label"] == "裸土严密覆盖"
    assert api_as("viewer_city").get(f"/api/v1/cases/{two['hp'].id}").json()["allowed_moves"] == []
    assert api_as("admin").get(f"/api/v1/cases/{two['sh'].id}").json()["allowed_moves"] == [
        "dispatch",
        "dismiss",
    ]


def test_report_and_move_over_http(
    api_as: Callable[[str], TestClient], city: City, db: Session
) -> None:
    insp = api_as("insp_hp1")
    r = insp.post(
        "/api/v1/cases",
        data={
            "source": "third_party_inspector",
            "site_id": city.sites["HP-002"],
            "category": "tyre_washing",
            "description": "车辆未冲洗",
            "severity": "low",
        },
        files=[("photos", ("a.png", PNG, "image/png"))],
    )
    assert r.status_code == 201, r.text
    case_id = r.json()["id"]
    admin = api_as("admin")
    r = admin.post(
        f"/api/v1/cases/{case_id}/moves/dispatch",
        data={"unit_id": city.units["bureau_heping"], "deadline": "2099-01-31"},
    )
    assert r.status_code == 200 and r.json()["state"] == "dispatched"
    assert r.json()["deadline_at"].startswith("2099-01-31T16:00:00")  # 1 Feb 00:00 CST
    # d_shenhe cannot accept a case dispatched to 和平: it cannot even see it
    r = api_as("d_shenhe").post(
        f"/api/v1/cases/{case_id}/moves/accept", data={"responsible_id": city.users["off_sh1"]}
    )
    assert r.status_code == 404
    r = api_as("off_hp1").post(
        f"/api/v1/cases/{case_id}/moves/accept", data={"responsible_id": city.users["off_hp1"]}
    )
    assert r.status_code == 403 and r.json()["detail"].startswith("案件处于")
    r = admin.post(f"/api/v1/cases/{case_id}/moves/verify_pass", data={"result": "x"})
    assert r.status_code == 409
    r = api_as("d_heping").post(f"/api/v1/cases/{case_id}/moves/accept", data={})
    assert r.status_code == 422 and r.json()["errors"]["field"] == "responsible"
    r = api_as("d_heping").post(
        f"/api/v1/cases/{case_id}/moves/accept", data={"responsible_id": city.users["off_hp2"]}
    )
    assert r.status_code == 200 and r.json()["responsible_name"] == "off_hp2"
    r = api_as("off_hp2").post(f"/api/v1/cases/{case_id}/moves/teleport", data={})
    assert r.status_code == 422  # not a move


@pytest.mark.parametrize(
    ("data", "files", "needle"),
    [
        ({"site_id": 999999}, [("photos", ("a.jpg", JPEG, "image/jpeg"))], "unknown site"),
        ({}, [("photos", ("a.jpg", b"GIF-ish but not", "image/jpeg"))], "not an image"),
        ({}, [("photos", ("a.jpg", PDF, "image/jpeg"))], "not an image"),
        ({}, [("photos", ("big.jpg", JPEG + b"0" * 3000, "image/jpeg"))], "too large"),
        ({"category": "bad"}, [("photos", ("a.jpg", JPEG, "image/jpeg"))], "unknown category"),
        ({}, [], "evidence"),
    ],
)
def test_bad_report_input(
    api_as: Callable[[str], TestClient],
    city: City,
    app: object,
    settings: Settings,
    data: dict[str, object],
    files: list[tuple[str, tuple[str, bytes, str]]],
    needle: str,
    db: Session,
) -> None:
    from dustgrid.identity.deps import app_settings

    small = settings.model_copy(update={"attachment_max_bytes": 2048})
    app.dependency_overrides[app_settings] = lambda: small  # type: ignore[attr-defined]
    body = {
        "source": "third_party_inspector",
        "site_id": city.sites["HP-001"],
        "category": "hoarding",
        "description": "围挡缺口",
        **data,
    }
    en = {"Accept-Language": "en"}
    r = api_as("insp_hp1").post("/api/v1/cases", data=body, files=files, headers=en)
    assert r.status_code == 422, r.text
    said = r.json()["detail"].lower()
    assert needle in said or needle == r.json()["errors"].get("field")
    assert db.scalar(select(Case.id).limit(1)) is None


def test_penalty_routes(
    api_as: Callable[[str], TestClient], two: dict[str, Case], db: Session, city: City
) -> None:
    pid = db.scalar(select(SiteProblem.id).where(SiteProblem.case_id == two["hp"].id))
    assert api_as("insp_hp1").post(f"/api/v1/penalties/{pid}/confirm", json={}).status_code == 403
    assert api_as("d_shenhe").post(f"/api/v1/penalties/{pid}/confirm", json={}).status_code == 404
    r = api_as("d_heping").post(f"/api/v1/penalties/{pid}/reject", json={"reason": "x"})
    assert r.status_code == 422
    r = api_as("off_hp1").post(f"/api/v1/penalties/{pid}/confirm", json={"note": "确认"})
    assert r.status_code == 200 and r.json() is None  # first problem: rectify, no stoppage
    assert (
        api_as("off_hp1")
        .post(f"/api/v1/penalties/{pid}/reject", json={"reason": "迟了"})
        .status_code
        == 409
    )
    assert api_as("admin").get("/api/v1/stop-work-orders").json() == []
    r = api_as("off_hp1").post("/api/v1/stop-work-orders/999/lift", json={"reason": "ok"})
    assert r.status_code == 404
    ent = city.enterprises["alpha"]
    r = api_as("admin").post(
        f"/api/v1/credit/enterprises/{ent}/lift-blacklist", json={"reason": "未列入"}
    )
    assert r.status_code == 409
    r = api_as("d_heping").post(
        f"/api/v1/credit/enterprises/{ent}/lift-blacklist", json={"reason": "未列入"}
    )
    assert r.status_code == 403


def test_look_back_sampling_needs_the_permission(api_as: Callable[[str], TestClient]) -> None:
    assert api_as("insp_hp1").post("/api/v1/cases/look-back/sample", json={}).status_code == 403
    r = api_as("admin").post("/api/v1/cases/look-back/sample", json={"rate": 0.5})
    assert r.status_code == 200 and r.json() == {"selected": []}
    assert (
        api_as("admin").post("/api/v1/cases/look-back/sample", json={"rate": 2}).status_code == 422
    )


def test_notifications_are_private(
    api_as: Callable[[str], TestClient], two: dict[str, Case], db: Session, city: City
) -> None:
    mine = api_as("d_heping").get("/api/v1/notifications").json()
    assert mine["total"] >= 1 and mine["unread"] == mine["total"]
    nid = mine["items"][0]["id"]
    assert api_as("d_shenhe").post(f"/api/v1/notifications/{nid}/read").status_code == 404
    assert api_as("d_heping").post(f"/api/v1/notifications/{nid}/read").status_code == 204
    count = api_as("d_heping").get("/api/v1/notifications/unread-count").json()["unread"]
    assert count == mine["total"] - 1
    assert api_as("d_heping").post("/api/v1/notifications/read-all").json()["marked"] == count
    others = db.scalars(select(Notification.user_id).where(Notification.read_at.is_(None)))
    assert city.users["d_heping"] not in set(others)
