"""Shared fixtures: a migrated database (SQLite by default, PostgreSQL with --dburl),
a tiny city loaded once, a rolled-back session per test, and clients logged in by role."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from dustgrid import migrate
from dustgrid.app import create_app
from dustgrid.config import Settings
from dustgrid.db import get_session, make_engine, serve
from dustgrid.identity import passwords
from dustgrid.identity.deps import app_settings
from tests.fixtures.city import PASSWORD, City, build_city

# Cheap argon2 parameters for the suite's own accounts: hashing and verifying stay argon2id
# (and production keeps the library's defaults), but thousands of logins stay fast.
passwords._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)

REPO = Path(__file__).resolve().parents[1]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--dburl",
        default=os.environ.get("DUSTGRID_TEST_DATABASE_URL", ""),
        help="run against this database (e.g. postgresql+psycopg://postgres@127.0.0.1/test)",
    )


@pytest.fixture(scope="session")
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    url = str(request.config.getoption("--dburl"))
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def settings(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        database_url=db_url,
        var_dir=tmp_path_factory.mktemp("var"),
        secret_key="test-secret-key-not-for-production-0123456789",
        cookie_secure=False,
        demo_mode=False,
        api_docs_enabled=True,  # the schema is off by default outside demo mode
    )


def _reset_postgres(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))


@pytest.fixture(scope="session")
def engine(settings: Settings) -> Iterator[Engine]:
    eng = make_engine(settings.database_url)
    if eng.dialect.name == "postgresql":
        _reset_postgres(eng)
    migrate.upgrade(settings.database_url)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def city(engine: Engine) -> City:
    with Session(engine) as session:
        c = build_city(session)
        session.commit()
    return c


@pytest.fixture
def db(engine: Engine, city: City) -> Iterator[Session]:
    """A session whose work is rolled back after the test (commits become savepoints)."""
    conn = engine.connect()
    trans = conn.begin()
    session = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()
        trans.rollback()
        conn.close()


class _CurrentSession:
    """Holds the running test's session so one app instance serves the whole run."""

    session: Session | None = None


@pytest.fixture(scope="session")
def _shared_app(settings: Settings) -> object:
    application = create_app(settings)

    def _session() -> Iterator[Session]:
        db = _CurrentSession.session
        assert db is not None, "the app fixture sets the test session"
        yield from serve(db, close=False)

    application.dependency_overrides[get_session] = _session
    application.dependency_overrides[app_settings] = lambda: settings
    return application


@pytest.fixture
def app(_shared_app: object, db: Session) -> Iterator[object]:
    """The application, answering every request with this test's rolled-back session."""
    _CurrentSession.session = db
    overrides = _shared_app.dependency_overrides  # type: ignore[attr-defined]
    saved = dict(overrides)
    yield _shared_app
    overrides.clear()  # a test may swap settings for one request: undo it for the next
    overrides.update(saved)
    _CurrentSession.session = None


@pytest.fixture
def anon(app: object) -> Iterator[TestClient]:
    with TestClient(app) as client:  # type: ignore[arg-type]
        yield client


@pytest.fixture
def token_for(anon: TestClient) -> Callable[[str], str]:
    cache: dict[str, str] = {}

    def _token(username: str) -> str:
        if username not in cache:
            r = anon.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
            assert r.status_code == 200, r.text
            cache[username] = r.json()["access_token"]
        return cache[username]

    return _token


@pytest.fixture
def api_as(app: object, token_for: Callable[[str], str]) -> Callable[[str], TestClient]:
    """``api_as("d_heping")``: a client sending that user's bearer token."""
    clients: list[TestClient] = []

    def _client(username: str) -> TestClient:
        c = TestClient(app)  # type: ignore[arg-type]
        c.headers["Authorization"] = f"Bearer {token_for(username)}"
        clients.append(c)
        return c

    return _client


@pytest.fixture
def web_as(app: object) -> Callable[[str], TestClient]:
    """``web_as("admin")``: a browser-like client logged in through the form (cookie + CSRF)."""

    def _client(username: str) -> TestClient:
        c = TestClient(app, follow_redirects=False)  # type: ignore[arg-type]
        page = c.get("/login")
        token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        r = c.post(
            "/login",
            data={"username": username, "password": PASSWORD, "csrf_token": token, "next": "/"},
        )
        assert r.status_code == 303, r.text
        # The session (and its CSRF token) is renewed at login: read the new one.
        page = c.get("/sites")
        token = page.text.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
        c.headers["X-CSRF-Token"] = token
        c.csrf = token  # type: ignore[attr-defined]
        return c

    return _client
