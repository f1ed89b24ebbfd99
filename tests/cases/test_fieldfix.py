"""网格现场处置: an officer finds and fixes a problem at a site of their own grid in one
step; warnings reach the grid. Through the real app (``/api/v1/cases``, notifications)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from dustgrid.alerts.policy import HIGH
from dustgrid.alerts.service import raise_alert
from dustgrid.audit.models import AuditEntry
from dustgrid.cases.models import Case
from dustgrid.grids.models import GridGroup, GridGroupMember
from dustgrid.intake.service import raise_case
from dustgrid.models import utcnow
from tests.cases.case_kit import JPEG, PNG
from tests.fixtures.city import City

PHOTO = ("photos", ("problem.jpg", JPEG, "image/jpeg"))
AFTER = ("result_photos", ("after.png", PNG, "image/png"))
HP_GRID = {"off_hp1", "off_hp2", "insp_hp1", "insp_hp2"}
SH_GRID = {"off_sh1", "off_sh2", "insp_sh1", "insp_sh2"}


def _report(site_id: int, **extra: Any) -> dict[str, Any]:
    return {
        "source": "enforcement_officer",
        "site_id": site_id,
        "category": "bare_soil_cover",
        "description": "裸土未覆盖",
        **extra,
    }


def _ids(client: TestClient, **params: str) -> set[int]:
    r = client.get("/api/v1/cases", params={"size": "100", **params})
    assert r.status_code == 200, r.text
    return {c["id"] for c in r.json()["items"]}


def _notes(client: TestClient, case_id: int) -> list[dict[str, Any]]:
    items = client.get("/api/v1/notifications", params={"size": "100"}).json()["items"]
    return [n for n in items if n["case_id"] == case_id]


def test_officer_reports_and_fixes_at_own_grid_site_in_one_step(
    api_as: Callable[[str], TestClient], city: City, db: Session
) -> None:
    r = api_as("off_hp1").post(
        "/api/v1/cases",
        data=_report(city.sites["HP-001"], handle_now="fix_on_site", handle_result="已覆盖"),
        files=[PHOTO, AFTER],
    )
    assert r.status_code == 201, r.text
    case = r.json()
    assert case["state"] == "closed" and case["grid_handled"] is True
    assert case["disposition"] == "fix_on_site" and case["closed_at"] is not None
    assert case["assigned_unit_id"] == city.units["bureau_heping"]
    assert case["responsible_name"] == "off_hp1"
    # the timeline: reported, then handled on the spot (with the after-photo); no dispatch
    kinds = [e["kind"] for e in case["events"]]
    assert kinds[:2] == ["case.reported", "case.grid_fixed_on_site"]
    assert not {"case.dispatched", "case.accepted"} & set(kinds)
    fixed = case["events"][1]
    assert (fixed["from_state"], fixed["to_state"]) == ("reported", "closed")
    assert fixed["data"]["result"] == "已覆盖" and fixed["data"]["grid_handled"] is True
    assert [a["filename"] for a in fixed["data"]["attachments"]] == ["after.png"]
    # L1, L2 and L3 of the district see it at once and were told; nothing waits to dispatch
    for user in ("admin", "d_heping", "st_heping"):
        client = api_as(user)
        assert case["id"] in _ids(client)
        titles = [n["title"] for n in _notes(client, case["id"])]
        assert any("网格现场处置" in t for t in titles), (user, titles)
    assert case["id"] not in _ids(api_as("admin"), tab="to_dispatch")
    assert case["id"] not in _ids(api_as("d_shenhe"))
    # an audit row for the report and for the handling
    actions = set(
        db.scalars(
            select(AuditEntry.action).where(
                AuditEntry.entity_type == "case", AuditEntry.entity_id == case["id"]
            )
        )
    )
    assert {"case.report", "case.grid_fix_on_site"} <= actions


def test_fix_on_site_needs_a_photo_after_handling(
    api_as: Callable[[str], TestClient], city: City, db: Session
) -> None:
    r = api_as("off_hp1").post(
        "/api/v1/cases",
        data=_report(city.sites["HP-001"], handle_now="fix_on_site", handle_result="已覆盖"),
        files=[PHOTO],
    )
    assert r.status_code == 422 and r.json()["errors"]["field"] == "evidence"
    assert db.scalar(select(Case.id).limit(1)) is None  # nothing half-written


def test_rectification_ordered_on_the_spot_gets_deadline_and_recheck_clock(
    api_as: Callable[[str], TestClient], city: City
) -> None:
    before = utcnow()
    r = api_as("off_hp2").post(
        "/api/v1/cases",
        data=_report(city.sites["HP-002"], handle_now="order_rectification"),
        files=[PHOTO],
    )
    assert r.status_code == 201, r.text
    case = r.json()
    assert case["state"] == "rectifying" and case["grid_handled"] is True
    assert case["disposition"] == "rectification" and case["clock"] == "recheck"
    rectify = datetime.fromisoformat(case["rectify_due_at"])
    recheck = datetime.fromisoformat(case["due_at"])
    assert before < rectify <= recheck <= before + timedelta(days=8)  # recheck within a week
    assert case["responsible_name"] == "off_hp2"
    kinds = [e["kind"] for e in case["events"]]
    assert kinds[:2] == ["case.reported", "case.grid_rectification_ordered"]
    assert not {"case.dispatched", "case.accepted"} & set(kinds)
    # the district bureau sees it among its open cases, the contractor is told
    assert case["id"] in _ids(api_as("d_heping"), tab="open")
    assert _notes(api_as("con_alpha"), case["id"])
    # the recheck goes the normal way: the officer rechecks, L2 verifies and closes
    r = api_as("off_hp2").post(
        f"/api/v1/cases/{case['id']}/moves/recheck_pass",
        data={"result": "整改到位"},
        files=[("photos", ("ok.jpg", JPEG, "image/jpeg"))],
    )
    assert r.status_code == 200 and r.json()["state"] == "verifying", r.text
    r = api_as("d_heping").post(
        f"/api/v1/cases/{case['id']}/moves/verify_pass", data={"result": "核查通过"}
    )
    assert r.status_code == 200 and r.json()["state"] == "closed", r.text


def test_officer_outside_the_sites_enforcement_grid_is_refused_and_reports_normally(
    api_as: Callable[[str], TestClient], city: City, db: Session
) -> None:
    # off_hp1 also sits in a group of 沈河's inspector grid: he sees SH-001, but it is not
    # in his enforcement grid
    group = db.scalar(select(GridGroup).where(GridGroup.grid_id == city.grids["I-SH"]))
    assert group is not None
    db.add(GridGroupMember(group_id=group.id, user_id=city.users["off_hp1"]))
    db.flush()
    officer = api_as("off_hp1")
    r = officer.post(
        "/api/v1/cases",
        data=_report(city.sites["SH-001"], handle_now="fix_on_site", handle_result="已覆盖"),
        files=[PHOTO, AFTER],
    )
    assert r.status_code == 403, r.text
    assert "不在您所在的执法网格内" in r.json()["detail"]
    assert "执法网格" in r.json()["detail"]
    assert db.scalar(select(Case.id).limit(1)) is None
    r = officer.post("/api/v1/cases", data=_report(city.sites["SH-001"]), files=[PHOTO])
    assert r.status_code == 201 and r.json()["state"] == "reported"
    assert r.json()["grid_handled"] is False
    assert "grid_fix_on_site" not in r.json()["allowed_moves"]
    r = officer.post(
        f"/api/v1/cases/{r.json()['id']}/moves/grid_fix_on_site",
        data={"result": "已覆盖"},
        files=[("photos", ("after.jpg", JPEG, "image/jpeg"))],
    )
    assert r.status_code == 403 and "执法网格" in r.json()["detail"]


def test_inspector_cannot_handle_on_the_spot(
    api_as: Callable[[str], TestClient], city: City, db: Session
) -> None:
    r = api_as("insp_hp1").post(
        "/api/v1/cases",
        data={
            **_report(city.sites["HP-001"], handle_now="fix_on_site", handle_result="x"),
            "source": "third_party_inspector",
        },
        files=[PHOTO, AFTER],
    )
    assert r.status_code == 403
    assert "仅执法监督网格员可现场处置" in r.json()["detail"]
    assert "巡查人员" in r.json()["detail"]
    assert db.scalar(select(Case.id).limit(1)) is None


def test_officer_handles_own_report_from_the_case_page_move(
    api_as: Callable[[str], TestClient], city: City
) -> None:
    officer = api_as("off_hp1")
    r = officer.post("/api/v1/cases", data=_report(city.sites["HP-003"]), files=[PHOTO])
    case = r.json()
    assert case["state"] == "reported"
    assert {"grid_fix_on_site", "grid_order_rectification"} <= set(case["allowed_moves"])
    # the other officer of the grid did not report it: the one-step path is the reporter's
    other = api_as("off_hp2").get(f"/api/v1/cases/{case['id']}").json()
    assert "grid_fix_on_site" not in other["allowed_moves"]
    r = officer.post(
        f"/api/v1/cases/{case['id']}/moves/grid_order_rectification",
        data={"reason": "三日内完成覆盖"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "rectifying" and r.json()["grid_handled"] is True


def test_hotline_case_keeps_the_dispatch_path(
    api_as: Callable[[str], TestClient], city: City
) -> None:
    r = api_as("admin").post(
        "/api/v1/cases",
        data={**_report(city.sites["HP-001"]), "source": "hotline_12319"},
    )
    assert r.status_code == 201, r.text
    case_id = r.json()["id"]
    seen = api_as("off_hp1").get(f"/api/v1/cases/{case_id}").json()
    assert "grid_fix_on_site" not in seen["allowed_moves"]
    r = api_as("off_hp1").post(
        f"/api/v1/cases/{case_id}/moves/grid_fix_on_site",
        data={"result": "x"},
        files=[("photos", ("after.jpg", JPEG, "image/jpeg"))],
    )
    assert r.status_code == 409 and r.json()["errors"]["source"] == "hotline_12319"


# ------------------------------------------------------------------ warnings reach the grid


def _recipients(api_as: Callable[[str], TestClient], case_id: int, users: set[str]) -> set[str]:
    return {u for u in users if _notes(api_as(u), case_id)}


def test_sensor_alert_case_notifies_the_sites_grid_members(
    api_as: Callable[[str], TestClient], city: City, db: Session
) -> None:
    now = utcnow()
    alert = raise_alert(
        db,
        kind="exceedance",
        rule_key="pm10_15min",
        rule_version="1",
        started_at=now - timedelta(minutes=15),
        now=now,
        severity=HIGH,
        site_id=city.sites["HP-001"],
        district_id=city.districts["heping"],
    )
    db.flush()
    assert alert.case_id is not None
    assert _recipients(api_as, alert.case_id, HP_GRID | SH_GRID) == HP_GRID
    note = _notes(api_as("insp_hp1"), alert.case_id)[0]
    assert note["kind"] == "case.reported" and note["link"] == f"/cases/{alert.case_id}"
    assert note["title"] == f"新问题上报（案件 #{alert.case_id}）"
    # L1-L3 are still told
    assert _recipients(api_as, alert.case_id, {"admin", "d_heping", "st_heping"}) == {
        "admin",
        "d_heping",
        "st_heping",
    }


def test_video_ai_and_city_brain_warnings_reach_the_grid_but_not_app_reports(
    api_as: Callable[[str], TestClient], city: City, db: Session
) -> None:
    cases = {}
    for source in ("video_ai", "city_brain"):
        case, created = raise_case(
            db,
            source=source,
            category="bare_soil_cover",
            description="识别到裸土",
            site_id=city.sites["SH-002"],
        )
        assert created
        cases[source] = case.id
    db.flush()
    for case_id in cases.values():
        assert _recipients(api_as, case_id, HP_GRID | SH_GRID) == SH_GRID
    # an inspector's own report does not echo to the rest of the grid
    r = api_as("insp_hp1").post(
        "/api/v1/cases",
        data={**_report(city.sites["HP-001"]), "source": "third_party_inspector"},
        files=[PHOTO],
    )
    assert _recipients(api_as, r.json()["id"], HP_GRID) == set()


def test_notification_titles_follow_the_readers_language(
    api_as: Callable[[str], TestClient], city: City, db: Session
) -> None:
    from dustgrid.auth.models import User

    case, _ = raise_case(
        db, source="video_ai", category="bare_soil_cover", description="d",
        site_id=city.sites["HP-002"],
    )  # fmt: skip
    user = db.get(User, city.users["off_hp2"])
    assert user is not None
    user.locale = "en"
    db.flush()
    note = _notes(api_as("off_hp2"), case.id)[0]
    assert note["title"] == f"New problem reported (case #{case.id})"


# ------------------------------------------------------------------ the pages


def test_officer_reports_and_fixes_through_the_form(
    db: Session, city: City, web_as: Callable[[str], TestClient]
) -> None:
    assert 'data-testid="handle-now"' not in web_as("insp_hp1").get("/cases/new").text
    c = web_as("off_hp1")
    page = c.get("/cases/new")
    assert 'data-testid="handle-now"' in page.text and "现场处置" in page.text
    form = {
        "csrf_token": c.csrf,  # type: ignore[attr-defined]
        **_report(str(city.sites["HP-001"])),
        "handle_now": "fix_on_site",
        "handle_result": "已当场覆盖",
    }
    bad = c.post("/cases/new", data=form, files=[PHOTO])  # no photo after the fix
    assert bad.status_code == 422 and "已当场覆盖" in bad.text
    assert "照片、材料或处理结果" in bad.text  # the missing field by its label
    assert db.scalar(select(Case.id).limit(1)) is None
    r = c.post("/cases/new", data=form, files=[PHOTO, AFTER])
    assert r.status_code == 303, r.text
    case_id = int(r.headers["location"].rsplit("/", 1)[1])
    shown = web_as("d_heping").get(f"/cases/{case_id}").text
    assert 'data-testid="grid-handled"' in shown and "网格现场处置" in shown
    assert "已当场覆盖" in shown
    listed = web_as("st_heping").get("/cases?tab=all").text
    assert f'data-case-id="{case_id}"' in listed and "网格现场处置" in listed
    inbox = web_as("d_heping").get("/notifications").text
    assert f"网格现场处置：现场解决，已办结（案件 #{case_id}）" in inbox


def test_case_page_offers_the_grid_moves_on_the_officers_own_report(
    city: City, web_as: Callable[[str], TestClient]
) -> None:
    c = web_as("off_hp2")
    r = c.post(
        "/cases/new",
        data={"csrf_token": c.csrf, **_report(str(city.sites["HP-002"]))},  # type: ignore[attr-defined]
        files=[PHOTO],
    )
    case_id = int(r.headers["location"].rsplit("/", 1)[1])
    page = c.get(f"/cases/{case_id}").text
    assert 'data-move="grid_fix_on_site"' in page
    assert 'data-move="grid_order_rectification"' in page
    r = c.post(
        f"/cases/{case_id}/moves/grid_fix_on_site",
        data={"csrf_token": c.csrf, "result": "已清扫"},  # type: ignore[attr-defined]
        files=[("photos", ("after.jpg", JPEG, "image/jpeg"))],
    )
    assert r.status_code == 303
    assert 'data-state="closed"' in c.get(f"/cases/{case_id}").text
