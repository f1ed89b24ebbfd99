"""Logging in (token and form), throttling, demo accounts, CSRF and cookie flags."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from dustgrid.auth.models import User
from dustgrid.auth.service import create_user
from dustgrid.config import Settings
from dustgrid.identity.roles import Role
from tests.fixtures.city import PASSWORD, City

WALKED = {
    ("POST", "/api/v1/auth/token"),
    ("GET", "/api/v1/auth/me"),
    ("GET", "/api/v1/users"),
    ("POST", "/api/v1/users"),
}


def test_token_and_me(anon: TestClient, city: City) -> None:
    r = anon.post("/api/v1/auth/token", data={"username": "off_hp1", "password": PASSWORD})
    assert r.status_code == 200
    token = r.json()["access_token"]
    me = anon.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["username"] == "off_hp1"
    assert me["role"] == "officer"
    assert me["grid_ids"] == [city.grids["E-HP"]]


def test_wrong_password_then_throttled(anon: TestClient, settings: Settings) -> None:
    for _ in range(settings.login_free_failures_account):
        r = anon.post("/api/v1/auth/token", data={"username": "d_shenhe", "password": "nope"})
        assert r.status_code == 401
        assert "用户名或密码错误" in r.json()["detail"]
    r = anon.post("/api/v1/auth/token", data={"username": "d_shenhe", "password": PASSWORD})
    assert r.status_code == 429
    assert "登录失败次数过多" in r.json()["detail"]


def test_demo_accounts_only_in_demo_mode(anon: TestClient, db: Session) -> None:
    create_user(
        db,
        actor=None,
        username="demo_x",
        password="demo-2024",
        display_name="演示",
        role=Role.viewer,
        is_demo=True,
        check_password=False,
    )
    db.flush()
    r = anon.post("/api/v1/auth/token", data={"username": "demo_x", "password": "demo-2024"})
    assert r.status_code == 401


def test_passwords_are_hashed_with_argon2(db: Session, city: City) -> None:
    user = db.get(User, city.users["admin"])
    assert user is not None
    assert user.password_hash.startswith("$argon2")
    assert PASSWORD not in user.password_hash


def test_users_admins_only(api_as: Callable[[str], TestClient]) -> None:
    assert api_as("st_heping").get("/api/v1/users").status_code == 403
    assert api_as("off_hp1").get("/api/v1/users").status_code == 403
    admin = api_as("admin")
    assert any(u["username"] == "off_sh1" for u in admin.get("/api/v1/users").json())
    weak = admin.post(
        "/api/v1/users",
        json={
            "username": "newbie",
            "password": "1234567890123",
            "display_name": "新人",
            "role": "viewer",
        },
    )
    assert weak.status_code == 422
    assert "字母和数字" in weak.json()["detail"]
    ok = admin.post(
        "/api/v1/users",
        json={
            "username": "newbie",
            "password": "abc12345xyz",
            "display_name": "新人",
            "role": "viewer",
        },
    )
    assert ok.status_code == 201, ok.text
    dup = admin.post(
        "/api/v1/users",
        json={
            "username": "newbie",
            "password": "abc12345xyz",
            "display_name": "新人",
            "role": "viewer",
        },
    )
    assert dup.status_code == 409


def test_web_login_sets_hardened_cookie(anon: TestClient) -> None:
    page = anon.get("/login")
    assert page.status_code == 200
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    r = anon.post(
        "/login",
        data={"username": "admin", "password": PASSWORD, "csrf_token": token, "next": "/sites"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/sites"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert anon.get("/sites").status_code == 200


def test_secure_flag_when_configured(app: object, settings: Settings) -> None:
    from dustgrid.app import create_app

    secure = create_app(settings.model_copy(update={"cookie_secure": True}))
    with TestClient(secure, base_url="https://testserver") as c:
        page = c.get("/login")
        assert "secure" in page.headers["set-cookie"].lower()


def test_login_form_without_csrf_is_rejected(anon: TestClient) -> None:
    anon.get("/login")
    r = anon.post("/login", data={"username": "admin", "password": PASSWORD})
    assert r.status_code == 403
    assert "页面已过期" in r.text  # the CSRF refusal, said to a person


def test_login_rejects_open_redirect(anon: TestClient) -> None:
    page = anon.get("/login")
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    r = anon.post(
        "/login",
        data={
            "username": "admin",
            "password": PASSWORD,
            "csrf_token": token,
            "next": "//evil.example/",
        },
        follow_redirects=False,
    )
    assert r.headers["location"] == "/"  # the home page, never the foreign site


def test_cookie_api_writes_need_csrf_header(
    web_as: Callable[[str], TestClient], city: City
) -> None:
    c = web_as("admin")
    site = city.sites["HP-001"]
    ok = c.patch(f"/api/v1/sites/{site}", json={"contact_name": "李四"})
    assert ok.status_code == 200
    del c.headers["X-CSRF-Token"]
    assert c.patch(f"/api/v1/sites/{site}", json={"contact_name": "王五"}).status_code == 403


def test_pages_redirect_to_login(anon: TestClient) -> None:
    r = anon.get("/sites?grade=basic", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/login?next=/sites")


def test_language_switch(web_as: Callable[[str], TestClient]) -> None:
    c = web_as("admin")
    assert "工地台账" in c.get("/sites").text
    r = c.get("/lang/en", headers={"referer": "http://testserver/sites"})
    assert r.status_code == 303 and r.headers["location"] == "/sites"
    assert "Site ledger" in c.get("/sites").text


def test_security_headers(anon: TestClient) -> None:
    r = anon.get("/login")
    assert r.headers["x-frame-options"] == "DENY"
    assert "default-src 'self'" in r.headers["content-security-policy"]


def test_api_docs_are_served_offline(anon: TestClient) -> None:
    page = anon.get("/docs")
    assert page.status_code == 200
    assert "/static/vendor/swagger-ui-dist/swagger-ui-bundle.js" in page.text
    assert "cdn" not in page.text.lower()
    assert anon.get("/static/vendor/swagger-ui-dist/swagger-ui-bundle.js").status_code == 200
    assert "/api/v1/sites" in anon.get("/openapi.json").json()["paths"]
