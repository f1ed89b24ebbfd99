"""Server-side sessions: logout, password change, disabling and "sign out everywhere" end
every page session and API token of the account at once; tokens need exp, iat and sid."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import jwt
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from dustgrid.auth.models import AuthSession, User
from dustgrid.config import Settings
from dustgrid.models import utcnow
from tests.fixtures.city import PASSWORD, City

WALKED = {
    ("POST", "/api/v1/auth/logout"),
    ("POST", "/api/v1/auth/password"),
    ("PATCH", "/api/v1/users/{user_id}"),
    ("DELETE", "/api/v1/users/{user_id}/sessions"),
}

NEW_PASSWORD = "Kiln-harbour-4821"


def _copy(app: object, c: TestClient) -> TestClient:
    """A second client holding a copy of ``c``'s cookies (a saved/stolen cookie)."""
    twin = TestClient(app, follow_redirects=False)  # type: ignore[arg-type]
    for name, value in c.cookies.items():
        twin.cookies.set(name, value)
    twin.headers["X-CSRF-Token"] = c.headers["X-CSRF-Token"]
    return twin


def _bearer(app: object, token: str) -> TestClient:
    c = TestClient(app)  # type: ignore[arg-type]
    c.headers["Authorization"] = f"Bearer {token}"
    return c


def _token(anon: TestClient, username: str, password: str = PASSWORD) -> str:
    r = anon.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def test_saved_cookie_is_dead_after_logout(
    app: object, web_as: Callable[[str], TestClient], city: City
) -> None:
    browser = web_as("d_heping")
    saved = _copy(app, browser)
    assert saved.get("/api/v1/auth/me").status_code == 200  # the copy works while signed in
    r = browser.post("/logout", data={"csrf_token": browser.csrf})  # type: ignore[attr-defined]
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert saved.get("/api/v1/auth/me").status_code == 401
    site = city.sites["HP-001"]
    assert saved.patch(f"/api/v1/sites/{site}", json={"contact_name": "X"}).status_code == 401
    assert saved.get("/sites").status_code == 303  # pages send it to the login form


def test_logout_ends_every_session_and_token_of_the_account(
    app: object, anon: TestClient, web_as: Callable[[str], TestClient]
) -> None:
    token = _token(anon, "d_shenhe")
    other_browser = web_as("d_shenhe")
    api = _bearer(app, token)
    assert api.get("/api/v1/auth/me").status_code == 200
    assert api.post("/api/v1/auth/logout").status_code == 204
    assert api.get("/api/v1/auth/me").status_code == 401
    assert other_browser.get("/api/v1/auth/me").status_code == 401


def test_logout_of_one_session_only_when_configured(
    app: object, anon: TestClient, settings: Settings
) -> None:
    from dustgrid.identity.deps import app_settings

    app.dependency_overrides[app_settings] = lambda: settings.model_copy(  # type: ignore[attr-defined]
        update={"logout_ends_all_sessions": False}
    )
    first, second = _bearer(app, _token(anon, "st_heping")), _bearer(app, _token(anon, "st_heping"))
    assert first.post("/api/v1/auth/logout").status_code == 204
    assert first.get("/api/v1/auth/me").status_code == 401
    assert second.get("/api/v1/auth/me").status_code == 200


def test_session_ended_by_another_process_is_refused_at_once(
    app: object, anon: TestClient, web_as: Callable[[str], TestClient], db: Session, city: City
) -> None:
    """No in-process cache: a row deleted through another connection ends the session."""
    browser = web_as("off_hp1")
    api = _bearer(app, _token(anon, "off_hp1"))
    assert browser.get("/api/v1/auth/me").status_code == 200
    assert api.get("/api/v1/auth/me").status_code == 200
    db.execute(delete(AuthSession).where(AuthSession.user_id == city.users["off_hp1"]))
    db.commit()  # (a savepoint here) so the first refused request's rollback keeps it
    assert browser.get("/api/v1/auth/me").status_code == 401
    assert api.get("/api/v1/auth/me").status_code == 401


def test_cookie_renewal_does_not_extend_the_server_side_expiry(
    web_as: Callable[[str], TestClient], db: Session, city: City
) -> None:
    browser = web_as("st_shenhe")
    assert browser.get("/api/v1/auth/me").status_code == 200
    db.execute(
        update(AuthSession)
        .where(AuthSession.user_id == city.users["st_shenhe"])
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    assert browser.get("/api/v1/auth/me").status_code == 401


def test_password_change_ends_sessions_and_tokens(
    app: object, anon: TestClient, web_as: Callable[[str], TestClient]
) -> None:
    browser = web_as("off_sh1")
    api = _bearer(app, _token(anon, "off_sh1"))
    wrong = api.post(
        "/api/v1/auth/password",
        json={"current_password": "not-it-123", "new_password": NEW_PASSWORD},
    )
    assert wrong.status_code == 422 and "当前密码不正确" in wrong.json()["detail"]
    weak = api.post(
        "/api/v1/auth/password", json={"current_password": PASSWORD, "new_password": "password1"}
    )
    assert weak.status_code == 422
    assert api.get("/api/v1/auth/me").status_code == 200  # refused changes end nothing
    r = api.post(
        "/api/v1/auth/password", json={"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    )
    assert r.status_code == 200 and r.json()["ended"] == 2
    assert api.get("/api/v1/auth/me").status_code == 401
    assert browser.get("/api/v1/auth/me").status_code == 401
    bad = anon.post("/api/v1/auth/token", data={"username": "off_sh1", "password": PASSWORD})
    assert bad.status_code == 401
    assert _token(anon, "off_sh1", NEW_PASSWORD)


def test_disabling_an_account_ends_its_sessions(
    app: object,
    anon: TestClient,
    api_as: Callable[[str], TestClient],
    web_as: Callable[[str], TestClient],
    city: City,
) -> None:
    victim_browser = web_as("insp_hp1")
    victim_api = _bearer(app, _token(anon, "insp_hp1"))
    admin = api_as("admin")
    r = admin.patch(f"/api/v1/users/{city.users['insp_hp1']}", json={"is_active": False})
    assert r.status_code == 200 and r.json()["is_active"] is False
    assert victim_api.get("/api/v1/auth/me").status_code == 401
    assert victim_browser.get("/api/v1/auth/me").status_code == 401
    again = anon.post("/api/v1/auth/token", data={"username": "insp_hp1", "password": PASSWORD})
    assert again.status_code == 401
    assert (
        api_as("d_heping")
        .patch(f"/api/v1/users/{city.users['insp_hp1']}", json={"is_active": True})
        .status_code
        == 404  # an inspector belongs to no unit of a district admin: outside its scope
    )


def test_admin_sets_password_checks_policy_and_ends_sessions(
    app: object, anon: TestClient, api_as: Callable[[str], TestClient], city: City
) -> None:
    victim = _bearer(app, _token(anon, "insp_sh1"))
    admin = api_as("admin")
    url = f"/api/v1/users/{city.users['insp_sh1']}"
    weak = admin.patch(url, json={"password": "1qaz2wsx3edc"})
    assert weak.status_code == 422 and "常见" in weak.json()["detail"]
    assert victim.get("/api/v1/auth/me").status_code == 200
    assert admin.patch(url, json={"password": NEW_PASSWORD}).status_code == 200
    assert victim.get("/api/v1/auth/me").status_code == 401


def test_admin_signs_an_account_out_everywhere_by_api(
    app: object,
    anon: TestClient,
    api_as: Callable[[str], TestClient],
    web_as: Callable[[str], TestClient],
    city: City,
    db: Session,
) -> None:
    browser = web_as("con_alpha")
    api = _bearer(app, _token(anon, "con_alpha"))
    uid = city.users["con_alpha"]
    assert api_as("d_heping").delete(f"/api/v1/users/{uid}/sessions").status_code == 404
    assert api_as("st_heping").delete(f"/api/v1/users/{uid}/sessions").status_code == 403
    r = api_as("admin").delete(f"/api/v1/users/{uid}/sessions")
    assert r.status_code == 200 and r.json()["ended"] == 2
    assert api.get("/api/v1/auth/me").status_code == 401
    assert browser.get("/api/v1/auth/me").status_code == 401
    assert api_as("admin").delete("/api/v1/users/999999/sessions").status_code == 404
    n = db.scalar(select(func.count()).select_from(AuthSession).where(AuthSession.user_id == uid))
    assert n == 0


def test_admin_signs_an_account_out_everywhere_from_the_user_page(
    app: object, anon: TestClient, web_as: Callable[[str], TestClient], city: City
) -> None:
    victim = _bearer(app, _token(anon, "con_beta"))
    admin = web_as("admin")
    page = admin.get("/users")
    assert page.status_code == 200
    assert 'data-testid="sign-out-con_beta"' in page.text
    uid = city.users["con_beta"]
    no_csrf = admin.post(f"/users/{uid}/sign-out", data={})
    assert no_csrf.status_code == 403
    assert victim.get("/api/v1/auth/me").status_code == 200
    r = admin.post(f"/users/{uid}/sign-out", data={"csrf_token": admin.csrf})  # type: ignore[attr-defined]
    assert r.status_code == 303 and r.headers["location"] == "/users"
    assert victim.get("/api/v1/auth/me").status_code == 401
    assert "全部会话和令牌已结束" in admin.get("/users").text
    assert admin.get("/api/v1/auth/me").status_code == 200  # the admin's own session lives
    assert web_as("st_heping").get("/users").status_code == 403


def _key(app: object) -> str:
    """The key the app signs with (resolved once, when the app was created)."""
    return str(app.state.secret_key)  # type: ignore[attr-defined]


def _forge(app: object, claims: dict[str, object]) -> str:
    return jwt.encode(claims, _key(app), algorithm="HS256")


def test_tokens_without_exp_iat_or_sid_are_refused(
    app: object, anon: TestClient, city: City
) -> None:
    good = jwt.decode(_token(anon, "admin"), _key(app), algorithms=["HS256"])
    assert {"exp", "iat", "sid", "sub"} <= set(good)
    assert _bearer(app, _forge(app, good)).get("/api/v1/auth/me").status_code == 200
    for claim in ("exp", "iat", "sid"):
        claims = {k: v for k, v in good.items() if k != claim}
        r = _bearer(app, _forge(app, claims)).get("/api/v1/auth/me")
        assert r.status_code == 401, claim
    # A signed token for a session that was never issued (or was ended) is refused too.
    made_up = dict(good, sid="never-issued")
    assert _bearer(app, _forge(app, made_up)).get("/api/v1/auth/me").status_code == 401
    # The session belongs to its own account only.
    other = dict(good, sub=str(city.users["d_heping"]))
    assert _bearer(app, _forge(app, other)).get("/api/v1/auth/me").status_code == 401


def test_expired_session_rows_are_purged_at_login(
    anon: TestClient, db: Session, city: City
) -> None:
    user = db.get(User, city.users["viewer_city"])
    assert user is not None
    past = utcnow() - timedelta(hours=1)
    db.add(
        AuthSession(
            sid_hash="0" * 64,
            user_id=user.id,
            kind="cookie",
            ip="",
            created_at=past - timedelta(hours=12),
            expires_at=past,
        )
    )
    db.flush()
    _token(anon, "admin")
    assert db.scalar(select(AuthSession.id).where(AuthSession.sid_hash == "0" * 64)) is None


def test_only_a_hash_of_the_session_id_is_stored(
    app: object, web_as: Callable[[str], TestClient], db: Session, city: City
) -> None:
    import base64
    import json

    from itsdangerous import TimestampSigner

    browser = web_as("viewer_heping")
    raw = browser.cookies["dustgrid_session"]
    data = TimestampSigner(_key(app)).unsign(raw.encode())
    content = json.loads(base64.b64decode(data))
    assert "uid" not in content and content["sid"]
    stored = db.scalars(
        select(AuthSession.sid_hash).where(AuthSession.user_id == city.users["viewer_heping"])
    ).all()
    assert stored and content["sid"] not in stored


def test_guessing_the_current_password_is_slowed_like_a_login(
    app: object, anon: TestClient, settings: Settings
) -> None:
    api = _bearer(app, _token(anon, "viewer_city"))
    body = {"current_password": "guess-0000", "new_password": NEW_PASSWORD}
    for _ in range(settings.login_free_failures_account):
        assert api.post("/api/v1/auth/password", json=body).status_code == 422
    r = api.post("/api/v1/auth/password", json=body | {"current_password": PASSWORD})
    assert r.status_code == 429 and r.json()["errors"]["retry_after_s"] >= 1
    assert api.get("/api/v1/auth/me").status_code == 200
