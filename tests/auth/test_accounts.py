"""Account management in scope (issue 13): a city admin manages every account, a district
admin those of its own unit and stations; everyone else is refused. Every change is audited."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from dustgrid.audit.models import AuditEntry
from tests.fixtures.city import PASSWORD, City

WALKED = {
    ("POST", "/api/v1/users/{user_id}/disable"),
    ("POST", "/api/v1/users/{user_id}/enable"),
    ("POST", "/api/v1/users/{user_id}/reset-password"),
}

NEW = "Kiln-harbour-4821"


def _login(anon: TestClient, username: str, password: str) -> int:
    r = anon.post("/api/v1/auth/token", data={"username": username, "password": password})
    return r.status_code


def _bearer(app: object, anon: TestClient, username: str, password: str = PASSWORD) -> TestClient:
    r = anon.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert r.status_code == 200, r.text
    c = TestClient(app)  # type: ignore[arg-type]
    c.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
    return c


def _new(city: City, unit: str, role: str = "officer", name: str = "new_off") -> dict[str, object]:
    return {
        "username": name,
        "password": NEW,
        "display_name": "新网格员",
        "role": role,
        "org_unit_id": city.units[unit],
        "phone": "13800000000",
    }


@pytest.mark.parametrize(
    ("user", "sees", "hidden"),
    [
        ("admin", {"off_hp1", "off_sh1", "insp_hp1", "con_alpha", "admin"}, set()),
        ("d_heping", {"d_heping", "st_heping", "off_hp1", "viewer_heping"}, {"off_sh1", "admin"}),
        ("d_shenhe", {"st_shenhe", "off_sh1"}, {"off_hp1", "insp_hp1", "con_alpha"}),
    ],
)
def test_list_shows_only_the_accounts_in_scope(
    user: str, sees: set[str], hidden: set[str], api_as: Callable[[str], TestClient], city: City
) -> None:
    names = {u["username"] for u in api_as(user).get("/api/v1/users").json()}
    assert sees <= names and not (hidden & names)


@pytest.mark.parametrize("user", ["st_heping", "off_hp1", "insp_hp1", "con_alpha", "viewer_city"])
def test_other_roles_may_not_manage_accounts(
    user: str, api_as: Callable[[str], TestClient], city: City
) -> None:
    c = api_as(user)
    uid = city.users["off_hp2"]
    assert c.get("/api/v1/users").status_code == 403
    assert c.post("/api/v1/users", json=_new(city, "station_heping")).status_code == 403
    assert c.patch(f"/api/v1/users/{uid}", json={"phone": "1"}).status_code == 403
    assert c.post(f"/api/v1/users/{uid}/disable").status_code == 403
    assert c.post(f"/api/v1/users/{uid}/enable").status_code == 403
    assert c.post(f"/api/v1/users/{uid}/reset-password").status_code == 403


def test_search_and_filters(api_as: Callable[[str], TestClient], city: City) -> None:
    c = api_as("admin")
    names = {u["username"] for u in c.get("/api/v1/users", params={"q": "OFF_HP"}).json()}
    assert names == {"off_hp1", "off_hp2"}
    by_unit = c.get("/api/v1/users", params={"unit_id": city.units["station_shenhe"]}).json()
    assert {u["username"] for u in by_unit} == {"st_shenhe", "off_sh1", "off_sh2"}
    by_role = c.get("/api/v1/users", params={"role": "inspector"}).json()
    assert {u["username"] for u in by_role} == {"insp_hp1", "insp_hp2", "insp_sh1", "insp_sh2"}


def test_district_admin_creates_an_officer_who_can_log_in(
    api_as: Callable[[str], TestClient], anon: TestClient, city: City, db: Session
) -> None:
    r = api_as("d_heping").post("/api/v1/users", json=_new(city, "station_heping"))
    assert r.status_code == 201, r.text
    assert r.json()["org_unit_id"] == city.units["station_heping"]
    assert _login(anon, "new_off", NEW) == 200
    row = db.scalar(
        select(AuditEntry).where(
            AuditEntry.entity_type == "user",
            AuditEntry.entity_id == r.json()["id"],
            AuditEntry.action == "create",
        )
    )
    assert row is not None and row.actor_name == "d_heping"


def test_district_admin_may_not_create_a_city_admin_or_outside_its_district(
    api_as: Callable[[str], TestClient], anon: TestClient, city: City
) -> None:
    c = api_as("d_heping")
    boss = c.post("/api/v1/users", json=_new(city, "bureau_heping", role="city_admin"))
    assert boss.status_code == 403
    assert "角色" in boss.json()["detail"]
    other = c.post("/api/v1/users", json=_new(city, "station_shenhe"))
    assert other.status_code == 422 and "单位" in other.json()["detail"]
    no_unit = c.post("/api/v1/users", json={**_new(city, "station_heping"), "org_unit_id": None})
    assert no_unit.status_code == 422
    assert _login(anon, "new_off", NEW) == 401
    # Nor touch another district's people, nor promote its own to city admin.
    assert c.patch(f"/api/v1/users/{city.users['off_sh1']}", json={"phone": "1"}).status_code == 404
    assert c.post(f"/api/v1/users/{city.users['off_sh1']}/disable").status_code == 404
    up = c.patch(f"/api/v1/users/{city.users['off_hp1']}", json={"role": "city_admin"})
    assert up.status_code == 403
    assert c.patch(f"/api/v1/users/{city.users['admin']}", json={"phone": "1"}).status_code == 404


def test_weak_initial_password_is_refused_with_the_field_named(
    api_as: Callable[[str], TestClient], city: City
) -> None:
    r = api_as("admin").post(
        "/api/v1/users", json={**_new(city, "station_heping"), "password": "1qaz2wsx3edc"}
    )
    assert r.status_code == 422 and "常见" in r.json()["detail"]


def test_edit_is_audited_and_shown_in_the_reader_s_words(
    api_as: Callable[[str], TestClient], city: City, db: Session
) -> None:
    uid = city.users["off_hp2"]
    r = api_as("d_heping").patch(
        f"/api/v1/users/{uid}",
        json={
            "display_name": "王五",
            "phone": "13900000000",
            "org_unit_id": city.units["bureau_heping"],
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["display_name"] == "王五" and body["org_unit_id"] == city.units["bureau_heping"]
    row = db.scalar(
        select(AuditEntry).where(AuditEntry.entity_id == uid, AuditEntry.action == "update")
    )
    assert row is not None
    assert row.changes["display_name"] == ["off_hp2", "王五"]
    assert row.changes["org_unit_id"] == [city.units["station_heping"], city.units["bureau_heping"]]


def test_disable_ends_sessions_and_refuses_login_enable_restores(
    app: object, api_as: Callable[[str], TestClient], anon: TestClient, city: City
) -> None:
    victim = _bearer(app, anon, "off_hp1")
    assert victim.get("/api/v1/auth/me").status_code == 200
    d = api_as("d_heping")
    r = d.post(f"/api/v1/users/{city.users['off_hp1']}/disable")
    assert r.status_code == 200 and r.json()["is_active"] is False
    assert victim.get("/api/v1/auth/me").status_code == 401
    assert _login(anon, "off_hp1", PASSWORD) == 401
    assert d.post(f"/api/v1/users/{city.users['off_hp1']}/enable").json()["is_active"] is True
    assert _login(anon, "off_hp1", PASSWORD) == 200


def test_admin_cannot_disable_itself(api_as: Callable[[str], TestClient], city: City) -> None:
    assert (
        api_as("d_heping").post(f"/api/v1/users/{city.users['d_heping']}/disable").status_code
        == 403
    )


def test_reset_gives_a_one_time_password_that_must_be_changed(
    app: object, api_as: Callable[[str], TestClient], anon: TestClient, city: City, db: Session
) -> None:
    victim = _bearer(app, anon, "st_heping")
    r = api_as("d_heping").post(f"/api/v1/users/{city.users['st_heping']}/reset-password")
    assert r.status_code == 200, r.text
    once = r.json()["password"]
    assert r.json()["must_change_password"] is True
    assert victim.get("/api/v1/auth/me").status_code == 401  # sessions ended
    assert _login(anon, "st_heping", PASSWORD) == 401  # the old password is refused
    fresh = _bearer(app, anon, "st_heping", once)
    blocked = fresh.get("/api/v1/sites")
    assert blocked.status_code == 403 and "修改密码" in blocked.json()["detail"]
    assert fresh.get("/api/v1/auth/me").status_code == 200
    changed = fresh.post(
        "/api/v1/auth/password", json={"current_password": once, "new_password": NEW}
    )
    assert changed.status_code == 200, changed.text
    assert _login(anon, "st_heping", once) == 401
    assert _bearer(app, anon, "st_heping", NEW).get("/api/v1/sites").status_code == 200
    actions = set(
        db.scalars(
            select(AuditEntry.action).where(
                AuditEntry.entity_type == "user", AuditEntry.entity_id == city.users["st_heping"]
            )
        )
    )
    assert {"password_reset", "password", "sign_out_all"} <= actions
    assert once not in str(list(db.scalars(select(AuditEntry.changes))))
