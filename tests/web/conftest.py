"""A real server on a free port over its own SQLite file, and Debian's Chromium via Playwright.

The browser database is separate from the suite's (which is rolled back per test), because the
server commits what the browser does.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy.orm import Session, sessionmaker

from dustgrid import migrate
from dustgrid.app import create_app
from dustgrid.config import Settings
from dustgrid.db import get_session, make_engine, serve
from dustgrid.identity.deps import app_settings
from tests.fixtures.city import City, build_city

CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def chromium_path() -> str:
    path = os.environ.get("DUSTGRID_BROWSER") or shutil.which("chromium") or ""
    if not path:
        pytest.fail("Chromium not found: apt-get install chromium (or set DUSTGRID_BROWSER)")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    def __init__(self, url: str, city: City, settings: Settings) -> None:
        self.url = url
        self.city = city
        self.settings = settings


@contextmanager
def serve_city(base: Path) -> Iterator[LiveServer]:
    """The app on a free port over a fresh SQLite file in ``base`` holding the test city."""
    url = f"sqlite:///{base / 'browser.db'}"
    settings = Settings(
        database_url=url,
        var_dir=base,
        cookie_secure=False,
        secret_key="browser-test-secret-0123456789abcdef",
        api_docs_enabled=True,  # /docs is among the pages checked for CSP violations
    )
    migrate.upgrade(url)
    engine = make_engine(url)
    with Session(engine) as s:
        city = build_city(s)
        s.commit()
    factory = sessionmaker(bind=engine, expire_on_commit=False)

    def _session() -> Iterator[Session]:
        yield from serve(factory())

    app = create_app(settings)
    app.dependency_overrides[get_session] = _session
    app.dependency_overrides[app_settings] = lambda: settings
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            pytest.fail("test server did not start")
        time.sleep(0.05)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", city, settings)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        engine.dispose()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with serve_city(Path(tmp_path_factory.mktemp("browser"))) as server:
        yield server


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})  # type: ignore[attr-defined]
    pg = context.new_page()
    yield pg
    context.close()
