"""Every page each role reaches, on a phone (390×844) and on a desktop (1440×900), is usable.

For each role of the test city a real browser logs in, opens the pages its menu offers and
follows their links two steps further (one page per kind of address: ``/cases/7`` stands for
every case page). Each page is loaded at the phone's size and checked, then the window is
widened to the desktop's and checked again. The test fails on:

- a script error or a console error (a failed request, a CSP refusal, an exception);
- a page that answers an error to a link it was offered (the menu never leads to a 403);
- sideways scrolling on the phone (``document.scrollingElement.scrollWidth > 390``;
  wide tables scroll inside their own box);
- a message key (a missing translation) or raw JSON in the text or in the labels a screen
  reader reads (``aria-label``, ``title``, ``placeholder``, ``alt``);
- an axe-core violation of impact "serious" or "critical" (unlabelled fields, low contrast,
  buttons and links without a name, broken ARIA, …). axe-core is vendored under
  ``tests/web/vendor/`` (a test asset, never served) and injected through the DevTools
  protocol, so the pages' Content-Security-Policy stays as it is.

axe runs once per kind of page, size and page shape (see ``SHAPE``): it is the slow part, and
a role whose page is made of the same elements as one already checked gets the same answer.

The module runs its own server over its own city (with a device, a sensor-raised alert and
case, an inspector's case under rectification, a 12319 complaint, a heavy-pollution warning
and City Brain pushes with a registered truck and a drawn known place), so what it adds does
not change the other browser tests' data.
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy.orm import Session

from dustgrid.alerts.engine.profiles import BUILTIN_PROFILES
from dustgrid.alerts.service import raise_alert
from dustgrid.cases.states import CaseState
from dustgrid.db import make_engine
from dustgrid.emergencies import service as emergencies
from dustgrid.emergencies.policy import AreaKind, Level
from dustgrid.intake import hotline
from dustgrid.intake.schemas import ComplaintIn
from dustgrid.models import utcnow
from tests.alerts.alert_kit import add_device, who
from tests.cases.case_kit import case_in
from tests.web.conftest import LiveServer, serve_city
from tests.web.test_browser_languages import VISIBLE_TEXT, _catalogue_words, _json_at
from tests.web.test_browser_ledger import login

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
#: One account per role of the test city.
ROLES = (
    "admin",  # city admin (L1)
    "d_heping",  # district admin (L2)
    "st_heping",  # supervision station (L3)
    "off_hp1",  # enforcement officer (L4)
    "insp_hp1",  # third-party inspector
    "con_alpha",  # contractor
    "prov_gamma",  # device provider
)
SIZES = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}
#: How far links are followed from the landing page (1: the menu, 2: what the menu's pages
#: link to, 3: one step further, e.g. a case's printable file).
DEPTH = 3
#: Pages every signed-in role can open though the menu does not list them.
EXTRA = ("/account/password",)
NOT_FOUND = "/no-such-page"
#: Pages the walk must reach for a role (the seeded data gives them something to show).
MUST_VISIT = {
    "admin": {
        "/citybrain",
        "/citybrain/heat",
        "/citybrain/suspects/{id}",
        "/citybrain/places",
        "/citybrain/places/new",
        "/citybrain/places/{id}/edit",
        "/citybrain/trucks",
        "/citybrain/trucks/new",
        "/citybrain/trucks/{id}/edit",
    },
    "d_heping": {"/citybrain", "/citybrain/suspects/{id}", "/citybrain/heat"},
}
SKIP = ("/logout", "/lang/", "/api/", "/static/", "/docs", "/redoc", "/open311/", "/sw.js")
NOT_PAGES = re.compile(r"\.(xlsx|csv|pdf|jpe?g|png|zip|json)$|/attachments/|/photos/")
SETTLE_TIMEOUT = 10.0  # seconds

AXE_RUN = """async () => {
  const r = await axe.run(document, {resultTypes: ['violations']});
  return r.violations
    .filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => v.impact + ' ' + v.id + ' (' + v.help + '): ' + v.nodes.slice(0, 4)
      .map(n => n.target.join(' ') + ' [' + (n.failureSummary || '').split('\\n')
        .slice(1).join(' ').trim().slice(0, 160) + ']').join('; '));
}"""
#: What kinds of elements a page is made of (tag, classes, form controls): when another role
#: already had a page of the same kind made of the same elements checked by axe at this size,
#: axe would say the same again, so it is not run twice (it is the slow part).
SHAPE = """() => {
  const parts = new Set();
  document.querySelectorAll('body *').forEach(e => {
    const cls = typeof e.className === 'string' ? e.className.trim().split(/\\s+/).sort() : [];
    let sig = e.tagName.toLowerCase() + cls.map(c => '.' + c).join('');
    if (e.matches('input,select,textarea,button')) sig += '[' + e.type + ':' + e.name + ']';
    parts.add(sig);
  });
  return Array.from(parts).sort().join(' ');
}"""
#: What a screen reader reads besides the text: labels and hints in attributes.
ATTRIBUTE_TEXT = """() => Array.from(document.querySelectorAll(
    '[aria-label],[title],[placeholder],img[alt]'))
  .map(e => [e.getAttribute('aria-label'), e.getAttribute('title'),
             e.getAttribute('placeholder'), e.getAttribute('alt')].filter(Boolean).join(' '))
  .join('\\n')"""
#: ``width`` is the phone's: a mobile browser zooms out to show what sticks out, which would
#: widen ``innerWidth`` to the page and hide the overflow.
OVERFLOW = """(width) => {
  if (document.scrollingElement.scrollWidth <= width) return null;
  const out = Array.from(document.querySelectorAll('body *'))
    .filter(e => e.getBoundingClientRect().right > width + 1 && !e.closest('.table-wrap'))
    .slice(0, 5)
    .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
              (typeof e.className === 'string' && e.className ? '.' + e.className.trim()
                .split(/\\s+/).join('.') : '') + ' ' + Math.round(e.getBoundingClientRect().right));
  return document.scrollingElement.scrollWidth + ' px wide: ' + out.join(', ');
}"""


@pytest.fixture(scope="module")
def city_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """This module's own server: the test city plus one of each thing that has a page."""
    with serve_city(Path(tmp_path_factory.mktemp("a11y"))) as server:
        _seed(server)
        yield server


def _seed(server: LiveServer) -> None:
    city, settings = server.city, server.settings
    engine = make_engine(settings.database_url)
    profile = BUILTIN_PROFILES["liaoning-db21-2642-2016"]
    now = utcnow().replace(second=0, microsecond=0)
    windows = [
        {"start": (now - timedelta(hours=3 - i)).isoformat(),
         "end": (now - timedelta(hours=2 - i)).isoformat(),
         "value": 180.0 + 20 * i, "reference": 60.0, "reference_used": 60.0,
         "limit": 80.0, "excess": 40.0 + 20 * i, "held": False, "count": 12}
        for i in range(3)
    ]  # fmt: skip
    with Session(engine) as s:
        device = add_device(s, city, "88888888A11Y01", site="HP-001")
        raise_alert(
            s, kind="exceedance", rule_key=profile.id, rule_version=profile.version,
            started_at=now - timedelta(hours=3), now=now, severity="high",
            site_id=city.sites["HP-001"], device_id=device.id, metric="pm10",
            evidence={"rule": profile.describe(), "rule_version": profile.version,
                      "windows": windows, "held_windows": 0, "reference_stations": 2},
            peak=(220.0, 160.0, 80.0),
        )  # fmt: skip
        case_in(s, city, settings, CaseState.rectifying, site="HP-002")
        hotline.create(
            s, who(s, city, "admin"),
            ComplaintIn(caller_name="王先生", caller_phone="13800000000",
                        place_text="和平区中山路东段", content="工地夜间扬尘很大，没有洒水"),
            now=now, settings=settings,
        )  # fmt: skip
        emergencies.declare(
            s, who(s, city, "admin"),
            emergencies.Declaration(
                level=Level.orange, starts_at=now - timedelta(hours=1),
                ends_at=now + timedelta(hours=48), area_kind=AreaKind.districts,
                district_ids=(city.districts["heping"],),
            ),
            now=now, settings=settings,
        )  # fmt: skip
        _seed_city_brain(s, server)
        s.commit()
    engine.dispose()


def _seed_city_brain(s: Session, server: LiveServer) -> None:
    """City Brain pushes (so a suspect's page is walked), a registered truck and a known
    place drawn as a boundary (so their edit pages are)."""
    from dustgrid.trajectories import service as trajectories
    from dustgrid.trajectories.schemas import PlaceIn, TruckIn
    from tests.trajectories.loop_kit import (
        DAY1,
        DAY2,
        HEPING,
        SHENHE_IN_GRID,
        loading_fixes,
        store_fixes,
    )

    admin = who(s, server.city, "admin")
    store_fixes(server.settings, loading_fixes([HEPING, SHENHE_IN_GRID]))
    trajectories.upsert_truck(s, admin, TruckIn(plate="辽A0T088", terminal_id="P0T0"))
    yard = [[123.43, 41.75], [123.44, 41.75], [123.44, 41.76], [123.43, 41.75]]
    place = PlaceIn(
        name="南郊车场", kind="depot", boundary={"type": "Polygon", "coordinates": [yard]}
    )  # type: ignore[arg-type]
    trajectories.save_place(s, admin, place)
    for day in (DAY1, DAY2):
        trajectories.run_day(s, day, settings=server.settings, now=utcnow())


class Checker:
    """One role's browser context: opens each page once, at the phone's size, checks it, then
    widens the window to the desktop's and checks it again (the CSS's breakpoints, charts and
    map follow a resize, so a second load would only cost time)."""

    def __init__(self, browser: Any, base: str, axed: dict[str, set[str]] | None = None) -> None:
        self.base = base
        self.axed = axed if axed is not None else {}  # "size kind" → page shapes checked
        self.context = browser.new_context(
            locale="zh-CN", timezone_id="Asia/Shanghai", viewport=SIZES["phone"]
        )
        self.context.add_init_script(path=str(AXE))  # DevTools injection: the CSP stays on
        self.page = self.context.new_page()
        self.console: list[str] = []
        self.inflight: set[Any] = set()
        self.page.on("pageerror", lambda exc: self.console.append(f"script error: {exc}"))
        self.page.on("console", self._on_console)
        self.page.on("request", self._on_request)
        self.page.on("requestfinished", lambda request: self.inflight.discard(request))
        self.page.on("requestfailed", lambda request: self.inflight.discard(request))
        _, self.key = _catalogue_words()

    def _on_request(self, request: Any) -> None:
        if request.resource_type not in ("eventsource", "websocket"):  # streams never end
            self.inflight.add(request)

    def _on_console(self, msg: Any) -> None:
        if msg.type == "error":
            self.console.append(f"console: {msg.text} [{msg.location.get('url', '')}]")

    def close(self) -> None:
        self.context.close()

    def check(self, path: str, *, status: int = 200) -> list[str]:
        """What is wrong on ``path`` at either size; [] when it is not an HTML page."""
        self.console.clear()
        self.page.set_viewport_size(SIZES["phone"])
        response = self.page.goto(self.base + path)
        if response is None:
            return [f"{path}: no response"]
        if response.headers.get("content-type", "").split(";")[0] != "text/html":
            return []
        self._settle()
        found: list[str] = []
        if response.status != status:
            found.append(f"answers {response.status}")
        overflow = self.page.evaluate(OVERFLOW, SIZES["phone"]["width"])
        if overflow:
            found.append(f"phone: sideways scrolling: {overflow}")
        text = self.page.evaluate(VISIBLE_TEXT, "zh-CN") + "\n" + self.page.evaluate(ATTRIBUTE_TEXT)
        found += [f"message key {m.group(0)!r}" for m in self.key.finditer(text)]
        found += [f"raw JSON near {text[max(0, i - 20) : i + 40]!r}" for i in _json_at(text)]
        found += self._axe("phone", path)
        self.page.set_viewport_size(SIZES["desktop"])
        self._settle()
        found += self._axe("desktop", path)
        expected = f"status of {status}" if status >= 400 else None
        found += [c for c in self.console if not (expected and expected in c)]
        return [f"{path}: {p}" for p in found]

    def _axe(self, size: str, path: str) -> list[str]:
        shapes = self.axed.setdefault(f"{size} {kind_of(path)}", set())
        shape = self.page.evaluate(SHAPE)
        if shape in shapes:
            return []
        shapes.add(shape)
        return [f"{size}: axe {v}" for v in self.page.evaluate(AXE_RUN)]

    def _settle(self) -> None:
        """Wait until the page's own requests (HTMX, chart data) are answered: cheaper than
        Playwright's "networkidle", which always waits half a second."""
        deadline = time.monotonic() + SETTLE_TIMEOUT
        quiet = 0
        while time.monotonic() < deadline and quiet < 2:
            self.page.wait_for_timeout(40)
            quiet = 0 if self.inflight else quiet + 1
        self.inflight.clear()

    def links(self) -> list[str]:
        hrefs = self.page.eval_on_selector_all(
            "a[href]:not([download])", "els => els.map(e => e.getAttribute('href'))"
        )
        out = []
        for href in hrefs:
            parts = urlsplit(href)
            if parts.scheme or parts.netloc or not parts.path.startswith("/"):
                continue
            if parts.path.startswith(SKIP) or NOT_PAGES.search(parts.path):
                continue
            out.append(parts.path + (f"?{parts.query}" if parts.query else ""))
        return out


def kind_of(path: str) -> str:
    """``/cases/7/print?x=1`` → ``/cases/{id}/print``: one visit per kind of page."""
    return re.sub(r"/\d+(?=/|$)", "/{id}", urlsplit(path).path)


def crawl(checker: Checker) -> tuple[list[str], list[str]]:
    """Visit the landing page, the menu and the links DEPTH steps away; (visited, problems)."""
    seen: set[str] = set()
    visited: list[str] = []
    found: list[str] = []
    queue: deque[tuple[str, int]] = deque([("/", 0), *((p, 1) for p in EXTRA)])
    while queue:
        path, depth = queue.popleft()
        if kind_of(path) in seen:
            continue
        seen.add(kind_of(path))
        visited.append(path)
        found += checker.check(path)
        if depth < DEPTH:
            queue.extend((link, depth + 1) for link in checker.links())
    found += checker.check(NOT_FOUND, status=404)
    return visited, found


@pytest.fixture(scope="module")
def axed() -> dict[str, set[str]]:
    """The page shapes axe has checked, shared by the roles (see SHAPE)."""
    return {}


@pytest.mark.timeout(900)  # 26-44 pages a role: 1.3-3.1 min each on 2 cores at load 16
@pytest.mark.parametrize("username", ROLES)
def test_every_page_of_every_role(
    browser: Any, city_server: LiveServer, axed: dict[str, set[str]], username: str
) -> None:
    checker = Checker(browser, city_server.url, axed)
    try:
        started = time.monotonic()
        login(checker.page, city_server.url, username)
        visited, found = crawl(checker)
        seconds = time.monotonic() - started
    finally:
        checker.close()
    print(f"{username}: {len(visited)} pages in {seconds:.1f} s")
    assert len(visited) >= 10, visited  # the crawl really walked the role's pages
    missed = MUST_VISIT.get(username, set()) - {kind_of(p) for p in visited}
    assert not missed, f"{username}: the walk did not reach {sorted(missed)}"
    assert not found, f"{username}:\n" + "\n".join(found)


def test_the_login_page(browser: Any, city_server: LiveServer) -> None:
    checker = Checker(browser, city_server.url)
    try:
        found = checker.check("/login")
    finally:
        checker.close()
    assert not found, "\n".join(found)


def test_the_checks_catch_what_they_look_for(browser: Any, city_server: LiveServer) -> None:
    """A deliberately bad page: unlabelled field, sideways scrolling, a key, JSON, an error."""
    checker = Checker(browser, city_server.url)
    try:
        checker.check("/login")
        checker.page.set_viewport_size(SIZES["phone"])
        checker.page.evaluate("""() => {
          document.body.insertAdjacentHTML('beforeend',
            '<input type="text"><div style="width:900px">nav.ledger {"a": 1}</div>');
          console.error('boom');
        }""")
        text = checker.page.evaluate(VISIBLE_TEXT, "zh-CN")
        assert checker.page.evaluate(OVERFLOW, SIZES["phone"]["width"])
        assert any(m.group(0) == "nav.ledger" for m in checker.key.finditer(text))
        assert _json_at(text)
        assert any(" label " in v for v in checker.page.evaluate(AXE_RUN))
        assert any("boom" in c for c in checker.console)
    finally:
        checker.close()
