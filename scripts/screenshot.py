"""Screenshots for the README and docs: the overview, the site map and the ledger of the demo city.

Run: ``.venv/bin/python scripts/screenshot.py`` (needs Debian's Chromium: ``apt-get install
chromium``; set ``DUSTGRID_BROWSER`` to use another binary). Builds a temporary SQLite database
with the demo city (seed 1, 480 sites), serves the real app on a free port, logs in as
``city_admin`` in headless Chromium (Playwright) at 1400x900, zh-CN, and writes
``docs/img/overview.png`` (the leaders' overview), ``docs/img/map.png`` (after the map has drawn its markers: ``#map[data-markers]``) and
``docs/img/ledger.png`` (the ``/sites`` page). ``--out DIR`` writes elsewhere.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]  # fmt: skip
VIEWPORT = {"width": 1400, "height": 900}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def demo_server(*, seed: int, sites: int, today: date | None) -> Iterator[str]:
    """Serve the app over a fresh demo-city SQLite database in a temp dir; yield its URL."""
    with tempfile.TemporaryDirectory(prefix="dustgrid-shot-") as tmp:
        yield from _serve(Path(tmp), seed=seed, sites=sites, today=today)


def _serve(workdir: Path, *, seed: int, sites: int, today: date | None) -> Iterator[str]:
    url = f"sqlite:///{workdir / 'screenshot.db'}"
    # The app reads its settings from the environment, as `dustgrid serve` does.
    os.environ.update(
        DUSTGRID_DATABASE_URL=url,
        DUSTGRID_VAR_DIR=str(workdir),
        DUSTGRID_DEMO_MODE="true",
        DUSTGRID_COOKIE_SECURE="false",
        DUSTGRID_SECRET_KEY="screenshot-secret-0123456789abcdef0123456789",
        DUSTGRID_TILE_URL="",  # no tile server: districts and sites on a plain background
    )
    import uvicorn
    from sqlalchemy.orm import Session

    from dustgrid import migrate
    from dustgrid.app import create_app
    from dustgrid.config import get_settings
    from dustgrid.db import get_engine, get_sessionmaker, make_engine
    from dustgrid.demo.city import build_demo

    for cached in (get_settings, get_engine, get_sessionmaker):
        cached.cache_clear()
    migrate.upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session:
        build_demo(session, seed=seed, n_sites=sites, today=today)
        session.commit()
    engine.dispose()

    port = _free_port()
    config = uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            sys.exit("the server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        get_engine().dispose()


def chromium_path() -> str:
    path = os.environ.get("DUSTGRID_BROWSER") or shutil.which("chromium") or ""
    if not path:
        sys.exit("Chromium not found: apt-get install chromium (or set DUSTGRID_BROWSER)")
    return path


def shoot(base: str, out: Path, *, user: str, password: str) -> list[Path]:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    written = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        context = browser.new_context(
            locale="zh-CN",
            timezone_id="Asia/Shanghai",
            viewport=VIEWPORT,  # type: ignore[arg-type]
        )
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on(
            "console",
            lambda msg: (
                errors.append(f"{msg.text} [{msg.location.get('url', '')}]")
                if msg.type == "error"
                else None
            ),
        )
        page.on(
            "response",
            lambda r: errors.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None,
        )

        page.goto(f"{base}/login")
        page.fill("#username", user)
        page.fill("#password", password)
        page.click("button[type=submit]")
        page.wait_for_load_state("networkidle")
        if "/login" in page.url:
            sys.exit(f"login as {user} failed (still on {page.url})")

        page.goto(f"{base}/overview")
        page.wait_for_selector("[data-chart=trend] canvas", timeout=60_000)
        page.wait_for_timeout(800)  # let the charts' entry animation finish
        target = out / "overview.png"
        page.screenshot(path=str(target))
        written.append(target)

        page.goto(f"{base}/map")
        page.wait_for_selector("#map[data-markers]", timeout=60_000)
        page.wait_for_selector(".marker-cluster, path.site-marker")
        page.wait_for_timeout(800)  # let fitBounds and the cluster animation settle
        target = out / "map.png"
        page.screenshot(path=str(target))
        written.append(target)
        markers = page.get_attribute("#map", "data-markers")
        print(f"map: {markers} markers")

        page.goto(f"{base}/sites")
        page.wait_for_load_state("networkidle")
        target = out / "ledger.png"
        page.screenshot(path=str(target))
        written.append(target)

        if errors:
            print("browser reported errors:", *errors, sep="\n  ")
        context.close()
        browser.close()
    return written


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sites", type=int, default=480)
    parser.add_argument(
        "--today",
        type=date.fromisoformat,
        default=None,
        help="reference date of the demo city (YYYY-MM-DD; default today in Shanghai)",
    )
    args = parser.parse_args(argv)

    from dustgrid.demo.city import DEMO_PASSWORD

    with demo_server(seed=args.seed, sites=args.sites, today=args.today) as base:
        for path in shoot(base, args.out, user="city_admin", password=DEMO_PASSWORD):
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
