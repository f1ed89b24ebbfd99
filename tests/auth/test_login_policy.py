"""Login: no user-name enumeration by timing, back-off per client address and per account
(stored in the database, never a lock-out), and the password policy for real accounts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from dustgrid.auth.models import LoginAttempt, User
from dustgrid.auth.service import backoff_delay, create_user
from dustgrid.config import Settings
from dustgrid.errors import Invalid
from dustgrid.identity import passwords
from dustgrid.identity.deps import app_settings
from dustgrid.identity.roles import Role
from dustgrid.models import utcnow
from tests.fixtures.city import PASSWORD


def _client(app: object, ip: str) -> TestClient:
    return TestClient(app, client=(ip, 50000))  # type: ignore[arg-type]


def _login(c: TestClient, username: str, password: str) -> Any:
    return c.post("/api/v1/auth/token", data={"username": username, "password": password})


def _use_settings(app: object, settings: Settings, **changes: Any) -> Settings:
    changed = settings.model_copy(update=changes)
    app.dependency_overrides[app_settings] = lambda: changed  # type: ignore[attr-defined]
    return changed


def _age_attempts(db: Session, seconds: float) -> None:
    """Move every recorded attempt back in time (instead of sleeping)."""
    for attempt in db.scalars(select(LoginAttempt)):
        attempt.at = attempt.at - timedelta(seconds=seconds)
    db.commit()  # (a savepoint here) so a refused request's rollback keeps it


# --- enumeration by timing ------------------------------------------------------------------


class _CountingHasher(PasswordHasher):
    calls = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:  # noqa: A002
        type(self).calls += 1
        return super().verify(hash, password)


def test_unknown_user_costs_one_password_verification(
    anon: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    counting = _CountingHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(passwords, "_hasher", counting)
    _CountingHasher.calls = 0
    assert _login(anon, "no_such_user", "whatever-123").status_code == 401
    assert _CountingHasher.calls == 1
    assert _login(anon, "admin", "whatever-123").status_code == 401
    assert _CountingHasher.calls == 2


def test_unknown_user_costs_the_same_password_check_as_a_known_one(
    anon: TestClient, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No enumeration by timing: the answer's cost is one argon2 check either way.

    Counted, not timed: every refusal runs exactly one verification against a hash made
    with the same parameters as real accounts' hashes, whether the user exists or not.
    """
    checked: list[str] = []

    class CountingHasher(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> bool:
            checked.append(hash if isinstance(hash, str) else hash.decode())
            return super().verify(hash, password)

    hasher = CountingHasher(time_cost=2, memory_cost=2048, parallelism=1)
    monkeypatch.setattr(passwords, "_hasher", hasher)
    admin = db.scalar(select(User).where(User.username == "admin"))
    assert admin is not None
    admin.password_hash = hasher.hash(PASSWORD)
    db.flush()

    def parameters(h: str) -> str:
        return h.split("$")[3]  # "m=2048,t=2,p=1"

    assert _login(anon, "admin", "wrong-pass-1").status_code == 401
    assert len(checked) == 1 and parameters(checked[0]) == "m=2048,t=2,p=1"
    assert _login(anon, "nobody_here", "wrong-pass-1").status_code == 401
    assert len(checked) == 2 and parameters(checked[1]) == parameters(checked[0])


# --- back-off -------------------------------------------------------------------------------


def test_backoff_is_exponential_and_capped() -> None:
    d = [backoff_delay(n, free=3, base_s=2.0, max_s=60.0) for n in range(12)]
    assert d[:3] == [0.0, 0.0, 0.0]
    assert d[3:8] == [2.0, 4.0, 8.0, 16.0, 32.0]
    assert d[8:] == [60.0] * 4


def test_one_address_cannot_try_thirty_user_names(app: object, settings: Settings) -> None:
    attacker = _client(app, "203.0.113.7")
    answers = [_login(attacker, f"guess{i:02d}", "password1").status_code for i in range(30)]
    free = settings.login_free_failures_ip
    assert answers[:free] == [401] * free
    assert set(answers[free:]) == {429}
    r = _login(attacker, "admin", PASSWORD)  # even a right password waits its turn
    assert r.status_code == 429
    assert r.json()["errors"]["retry_after_s"] >= 1
    assert int(r.headers["Retry-After"]) == r.json()["errors"]["retry_after_s"]
    assert _login(_client(app, "198.51.100.2"), "admin", PASSWORD).status_code == 200


def test_bad_tries_delay_the_real_user_but_never_lock_them_out(
    app: object, settings: Settings, db: Session
) -> None:
    attacker = _client(app, "203.0.113.8")
    for _ in range(settings.login_free_failures_account):
        assert _login(attacker, "d_shenhe", "not-the-password1").status_code == 401
    assert _login(attacker, "d_shenhe", "not-the-password1").status_code == 429
    owner = _client(app, "198.51.100.9")
    waiting = _login(owner, "d_shenhe", PASSWORD)
    assert waiting.status_code == 429
    retry = waiting.json()["errors"]["retry_after_s"]
    assert retry <= 2 * settings.login_backoff_base_s + 1  # seconds, not a lock-out
    _age_attempts(db, retry + 1)
    assert _login(owner, "d_shenhe", PASSWORD).status_code == 200


def test_backoff_grows_with_each_failure_up_to_the_account_cap(
    app: object, settings: Settings, db: Session
) -> None:
    c = _client(app, "203.0.113.9")
    retries = []
    for _ in range(settings.login_free_failures_account):
        assert _login(c, "st_heping", "wrong-one-1").status_code == 401
    for _ in range(12):
        r = _login(c, "st_heping", "wrong-one-1")
        assert r.status_code == 429
        retries.append(r.json()["errors"]["retry_after_s"])
        _age_attempts(db, retries[-1] + 1)
        assert _login(c, "st_heping", "wrong-one-1").status_code == 401
    assert retries[0] < retries[1] < retries[2]
    assert max(retries) <= settings.login_backoff_max_account_s
    assert retries[-1] == pytest.approx(settings.login_backoff_max_account_s, abs=1)


def test_failures_recorded_by_another_process_count(
    app: object, settings: Settings, db: Session
) -> None:
    """The back-off reads the shared table: rows written elsewhere throttle here."""
    now = utcnow()
    for i in range(settings.login_free_failures_account + 1):
        db.add(
            LoginAttempt(
                username="off_hp2", ip=f"192.0.2.{i}", success=False, at=now - timedelta(seconds=1)
            )
        )
    db.flush()
    assert _login(_client(app, "198.51.100.20"), "off_hp2", PASSWORD).status_code == 429


def test_backoff_numbers_are_settings(app: object, settings: Settings) -> None:
    _use_settings(app, settings, login_free_failures_account=1, login_backoff_base_s=60.0)
    c = _client(app, "203.0.113.10")
    assert _login(c, "off_sh2", "wrong-one-1").status_code == 401
    r = _login(c, "off_sh2", PASSWORD)
    assert r.status_code == 429 and r.json()["errors"]["retry_after_s"] > 50


# --- password policy ------------------------------------------------------------------------


@pytest.mark.parametrize("weak", ["password1", "aaaaaaa1", "demo-2024", "Qwerty123"])
def test_common_and_published_passwords_are_refused(
    weak: str, api_as: Callable[[str], TestClient], app: object, settings: Settings
) -> None:
    _use_settings(app, settings, password_min_length=8)  # so the list, not length, refuses
    r = api_as("admin").post(
        "/api/v1/users",
        json={"username": "newbie", "password": weak, "display_name": "新人", "role": "viewer"},
    )
    assert r.status_code == 422, r.text
    assert "常见" in r.json()["detail"]


def test_password_with_own_name_is_refused(api_as: Callable[[str], TestClient]) -> None:
    for pw, name in (("Zhangwei-2031x", "Zhang Wei"), ("wangfang7788", "王芳")):
        r = api_as("admin").post(
            "/api/v1/users",
            json={"username": "wangfang", "password": pw, "display_name": name, "role": "viewer"},
        )
        assert r.status_code == 422, (pw, r.text)
        assert "用户名或姓名" in r.json()["detail"]


def test_minimum_length_is_a_setting(
    api_as: Callable[[str], TestClient], app: object, settings: Settings
) -> None:
    _use_settings(app, settings, password_min_length=14)
    body = {"username": "newbie", "display_name": "新人", "role": "viewer"}
    r = api_as("admin").post("/api/v1/users", json=body | {"password": "Kiln-harb-482"})
    assert r.status_code == 422 and "14" in r.json()["detail"]
    r = api_as("admin").post("/api/v1/users", json=body | {"password": "Kiln-harbour-482"})
    assert r.status_code == 201, r.text


def test_shipped_list_is_loaded_and_has_its_source_noted() -> None:
    listed = passwords.common_passwords()
    assert len(listed) > 10000
    assert {"password1", "aaaaaaa1", "demo-2024", "1qaz2wsx"} <= listed
    assert "zxcvbn" in passwords.COMMON_PASSWORDS_FILE.read_text(encoding="utf-8")[:2000]


def test_policy_applies_in_the_service_and_demo_loader_bypasses_it(
    db: Session, app: object, settings: Settings
) -> None:
    with pytest.raises(Invalid):
        create_user(
            db,
            actor=None,
            username="real_x",
            password="demo-2024",
            display_name="真",
            role=Role.viewer,
            settings=settings,
        )
    create_user(
        db,
        actor=None,
        username="demo_y",
        password="demo-2024",
        display_name="演示",
        role=Role.viewer,
        is_demo=True,
        check_password=False,
    )
    db.flush()
    _use_settings(app, settings, demo_mode=True)
    c = _client(app, "198.51.100.30")
    assert _login(c, "demo_y", "demo-2024").status_code == 200
