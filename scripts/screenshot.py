"""Screenshots for the README and docs: the overview, the site map, a case and the ledger.

Run: ``.venv/bin/python scripts/screenshot.py`` (needs Debian's Chromium: ``apt-get install
chromium``; set ``DUSTGRID_BROWSER`` to use another binary). Builds a temporary SQLite database
with the demo city (seed 1, 480 sites) plus one sensor-raised case on its way (``demo_case``),
serves the real app on a free port, logs in as ``city_admin`` in headless Chromium
(Playwright) at 1400x900, zh-CN, and writes ``docs/img/overview.png`` (the leaders'
overview), ``docs/img/map.png`` (after the map has drawn its markers: ``#map[data-markers]``),
``docs/img/case.png`` (the whole case page: evidence table and chart, timeline) and
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
from typing import Any

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
        case_id = demo_case(session, get_settings())
        session.commit()
    engine.dispose()
    os.environ["DUSTGRID_SCREENSHOT_CASE"] = str(case_id)

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


def demo_case(session: Any, settings: Any) -> int:
    """A sensor-raised case on its way, for ``case.png``: the monitor at the first featured
    site measured TSP over the Liaoning limit in four 5-minute windows in a row, the city
    dispatched the case, the district accepted it for the grid's officer, who went on site and
    ordered rectification."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import select

    from dustgrid.alerts.engine.profiles import BUILTIN_PROFILES
    from dustgrid.alerts.service import raise_alert
    from dustgrid.auth.models import User
    from dustgrid.auth.service import load_principal
    from dustgrid.cases import service as cases
    from dustgrid.cases.workflow import MoveInput
    from dustgrid.demo.city import featured_site_ids
    from dustgrid.devices.models import Device, DeviceKind, Lifecycle
    from dustgrid.grids.models import GridGroup, GridGroupMember
    from dustgrid.identity.roles import Role
    from dustgrid.sites.models import Site

    site = session.get(Site, featured_site_ids(session, ["city_admin"])[0])
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    device = Device(
        mn="88888888SHOT01", kind=DeviceKind.dust_monitor, site_id=site.id,
        district_id=site.district_id, name="扬尘在线监测仪", lifecycle=Lifecycle.active,
        activated_at=now - timedelta(days=60), online=True, last_seen_at=now,
        lat=site.lat, lon=site.lon,
    )  # fmt: skip
    session.add(device)
    session.flush()
    profile = BUILTIN_PROFILES["liaoning-db21-2642-2016"]
    start = now - timedelta(hours=3)
    values = (176.0, 214.0, 238.0, 221.0)  # four 5-minute means in a row over the limit
    windows = [
        {"start": (start + timedelta(minutes=5 * i)).isoformat(),
         "end": (start + timedelta(minutes=5 * i + 5)).isoformat(),
         "value": value, "reference": 62.0, "reference_used": 62.0, "limit": 80.0,
         "excess": value - 62.0, "held": False, "count": 5}
        for i, value in enumerate(values)
    ]  # fmt: skip
    raised = start + timedelta(minutes=5 * len(values))
    alert = raise_alert(
        session, kind="exceedance", rule_key=profile.id, rule_version=profile.version,
        started_at=start, now=raised, severity="high", site_id=site.id,
        device_id=device.id, metric="tsp",
        evidence={"rule": profile.describe(), "rule_version": profile.version,
                  "windows": windows, "held_windows": 0, "reference_stations": 2},
        peak=(max(values), max(values) - 62.0, 80.0),
    )  # fmt: skip
    case_id = alert.case_id
    assert case_id is not None

    def person(user_id: int) -> Any:
        return load_principal(session, session.get(User, user_id))

    def named(username: str) -> Any:
        return load_principal(
            session, session.scalar(select(User).where(User.username == username))
        )

    at = raised + timedelta(minutes=10)
    cases.move(session, named("city_admin"), case_id, "dispatch", MoveInput(),
               now=at, settings=settings)  # fmt: skip
    case = cases.get_case(session, named("city_admin"), case_id)
    admin = session.scalar(select(User.id).where(
        User.role == Role.district_admin, User.org_unit_id == case.assigned_unit_id))  # fmt: skip
    officer = session.scalar(
        select(User.id).join(GridGroupMember, GridGroupMember.user_id == User.id)
        .join(GridGroup, GridGroup.id == GridGroupMember.group_id)
        .where(GridGroup.grid_id == site.enforcement_grid_id, User.role == Role.officer)
        .order_by(User.id).limit(1)
    )  # fmt: skip
    steps = (
        (admin, "accept", MoveInput(responsible_id=officer), 25),
        (officer, "start_handling", MoveInput(), 55),
        (officer, "order_rectification",
         MoveInput(reason="裸土未覆盖、出口冲洗设施未运行：限期覆盖并恢复冲洗"), 80),
    )  # fmt: skip
    for actor, move, data, minutes in steps:
        cases.move(session, person(actor), case_id, move, data,
                   now=at + timedelta(minutes=minutes), settings=settings)  # fmt: skip
    return int(case_id)


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

        page.goto(f"{base}/cases/{os.environ['DUSTGRID_SCREENSHOT_CASE']}")
        page.wait_for_selector(
            "[data-evidence-chart] canvas, [data-evidence-chart] svg", timeout=60_000
        )
        page.wait_for_timeout(800)  # let the evidence chart's entry animation finish
        target = out / "case.png"
        page.screenshot(path=str(target), full_page=True)  # evidence and timeline included
        written.append(target)

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
