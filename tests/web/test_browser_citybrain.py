"""The City Brain pages in a real browser, on a 390×844 phone and a 1440×900 desktop.

The module's own server holds four loading places worked by four trucks each on two days
(two in 和平区, two in 沈河区, one of them inside enforcement grid E-SH) and the run that
pushed them, with the trucks registered:

- the heat map of a day draws a circle per cell of stays and says how many stays;
- a suspect's page shows its evidence (trucks, plates, days, visits) and the tracks and
  stays of the trucks that visited, drawn on the map;
- the queue shows each district's most urgent 24-hour clock, and each push its own;
- a district admin confirms one push and dismisses another through the page;
- a known place's boundary is drawn by clicking the map (corners added, the last removed,
  cleared, a corner dragged) and saved as its polygon; a boundary of two corners is refused
  beside the map;
- a truck is edited (company, out of service), and a terminal already taken is refused
  beside its field.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from dustgrid.auth.models import User
from dustgrid.auth.service import load_principal
from dustgrid.db import make_engine
from dustgrid.models import utcnow
from dustgrid.trajectories import service
from dustgrid.trajectories.models import KnownPlace, SuspectSite, Truck
from dustgrid.trajectories.schemas import TruckIn
from tests.trajectories.loop_kit import (
    DAY1,
    DAY2,
    HEPING,
    SHENHE_IN_GRID,
    SHENHE_OPEN,
    loading_fixes,
    store_fixes,
)
from tests.web.conftest import LiveServer, serve_city
from tests.web.test_browser_ledger import login

pytestmark = pytest.mark.browser

SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1440, "height": 900}}
# A second loading place in 和平区, 1.6 km from its nearest ledger site.
HEPING_WEST = (41.770, 123.382)
PLACES = {"heping": HEPING, "heping_west": HEPING_WEST, "open": SHENHE_OPEN, "grid": SHENHE_IN_GRID}
TRUCKS = 4  # per place (loading_fixes' default)


@pytest.fixture(scope="module")
def cb_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with serve_city(Path(tmp_path_factory.mktemp("citybrain"))) as server:
        yield server


@pytest.fixture(scope="module")
def pushed(cb_server: LiveServer) -> dict[str, int]:
    """The suspects pushed by the run of DAY2 (just now: their clocks have 24 hours), by place."""
    engine = make_engine(cb_server.settings.database_url)
    city, settings = cb_server.city, cb_server.settings
    out: dict[str, int] = {}
    with Session(engine) as s:
        store_fixes(settings, loading_fixes(list(PLACES.values())))
        admin = load_principal(s, s.get(User, city.users["admin"]))  # type: ignore[arg-type]
        for p in range(len(PLACES)):
            for k in range(TRUCKS):
                body = TruckIn(
                    plate=f"辽A{p}{k}888", company=f"运输公司{k}", terminal_id=f"P{p}T{k}"
                )
                service.upsert_truck(s, admin, body)
        assert service.run_day(s, DAY1, settings=settings, now=utcnow()).pushed == 0  # 1 day
        report = service.run_day(s, DAY2, settings=settings, now=utcnow())
        assert report.pushed == len(PLACES)
        for row in s.scalars(select(SuspectSite)):
            for name, (lat, lon) in PLACES.items():
                if abs(row.lat - lat) < 0.001 and abs(row.lon - lon) < 0.001:
                    out[name] = row.id
        s.commit()
    engine.dispose()
    assert set(out) == set(PLACES)
    return out


@pytest.fixture(params=sorted(SIZES))
def size(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def tab(browser: Any, size: str) -> Iterator[Any]:
    """A page at ``size``; the phone is a touch phone."""
    phone = size == "phone"
    context = browser.new_context(
        locale="zh-CN", viewport=SIZES[size], is_mobile=phone, has_touch=phone
    )
    errors: list[str] = []
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc) + str(exc.stack)))
    yield page
    context.close()
    assert not errors, errors


def _fits(page: Any) -> None:
    """Nothing sticks out sideways (wide tables scroll in their own box)."""
    width = page.evaluate("document.scrollingElement.scrollWidth")
    viewport = page.viewport_size["width"]
    assert width <= viewport, f"page is {width} px wide on a {viewport} px screen"


def _map_ready(page: Any, selector: str = "#cb-map") -> Any:
    page.wait_for_selector(f"{selector}[data-ready='1']")
    return page.locator(selector)


def _db(server: LiveServer) -> Session:
    return Session(make_engine(server.settings.database_url))


# --------------------------------------------------------------------------- reading


def test_the_heat_map_of_a_day_draws_its_stays(
    tab: Any, cb_server: LiveServer, pushed: dict[str, int]
) -> None:
    login(tab, cb_server.url, "admin")
    tab.goto(f"{cb_server.url}/citybrain/heat?day={DAY2.isoformat()}")
    stays = len(PLACES) * TRUCKS
    assert (
        tab.locator("[data-testid=cb-heat-total]").inner_text() == f"2026-05-05 共 {stays} 次停留"
    )
    box = _map_ready(tab).bounding_box()
    cells = tab.locator("#cb-map path.cb-cell")
    assert len(PLACES) <= cells.count() <= stays  # each place's stays fall in one or two cells
    for i in range(cells.count()):  # drawn inside the map, where the places are
        c = cells.nth(i).bounding_box()
        assert c is not None and c["width"] > 0
        assert box["x"] <= c["x"] and c["x"] + c["width"] <= box["x"] + box["width"] + 1
    _fits(tab)
    tab.click("text=前一天")  # DAY1 had the same stays
    tab.wait_for_url("**/citybrain/heat?day=2026-05-04")
    assert "2026-05-04 共 16 次停留" in tab.locator("[data-testid=cb-heat-total]").inner_text()
    assert _map_ready(tab).locator("path.cb-cell").count() >= len(PLACES)


def test_a_suspects_page_shows_its_evidence_and_the_tracks_that_visited(
    tab: Any, cb_server: LiveServer, pushed: dict[str, int]
) -> None:
    login(tab, cb_server.url, "admin")
    tab.goto(f"{cb_server.url}/citybrain")
    tab.click(f"[data-suspect-id='{pushed['grid']}'] a")
    tab.wait_for_url(f"**/citybrain/suspects/{pushed['grid']}")
    evidence = tab.locator("[data-testid=cb-evidence]").inner_text()
    assert re.search(r"车辆数\s+4\s", evidence)
    assert re.search(r"停留次数\s+8", evidence) and re.search(r"天数\s+2", evidence)
    assert all(f"辽A3{k}888" in evidence for k in range(TRUCKS))  # the plates
    assert "运输公司0" in evidence and "沈河区" in evidence
    the_map = _map_ready(tab)
    # a track per truck and day (4 trucks × 2 days), a dot per stay near the place
    assert the_map.locator("path.cb-track").count() == TRUCKS * 2
    assert the_map.locator("path.cb-visit").count() == TRUCKS * 2
    assert the_map.locator("path.cb-suspect").count() == 1
    assert tab.locator("[data-testid=cb-clock]").inner_text().startswith("剩余 2")
    _fits(tab)


def test_the_queue_shows_each_districts_clock(
    tab: Any, cb_server: LiveServer, pushed: dict[str, int]
) -> None:
    login(tab, cb_server.url, "admin")
    tab.goto(f"{cb_server.url}/citybrain")
    queue = tab.locator("[data-testid=cb-queue]")
    for district in ("和平区", "沈河区"):
        row = queue.locator(f"tr[data-district='{district}']")
        clock = row.locator("[data-testid=cb-queue-clock]")
        assert re.fullmatch(r"剩余 2[0-3] 小时 \d+ 分", clock.inner_text()), clock.inner_text()
        assert "green" in (clock.get_attribute("class") or "")
    clocks = tab.locator("[data-testid=cb-suspects] [data-testid=cb-clock]")
    assert clocks.count() >= 2  # every push still waiting has its own clock
    assert _map_ready(tab).locator("path.cb-point").count() == len(PLACES)
    _fits(tab)


# --------------------------------------------------------------------------- verdicts


def test_a_district_confirms_a_push_through_the_page(
    browser: Any, cb_server: LiveServer, pushed: dict[str, int]
) -> None:
    """On a phone: 沈河区's admin confirms; the site enters the ledger marked 确认未批先建."""
    context = browser.new_context(
        locale="zh-CN", viewport=SIZES["phone"], is_mobile=True, has_touch=True
    )
    page = context.new_page()
    try:
        login(page, cb_server.url, "d_shenhe")
        page.goto(f"{cb_server.url}/citybrain/suspects/{pushed['open']}")
        decide = page.locator("[data-testid=cb-decide]")
        decide.locator("input[name=name]").fill("北市场无证土方点")
        decide.locator("textarea[name=note]").fill("现场有挖掘机作业")
        _fits(page)
        decide.locator("[data-testid=cb-confirm]").click()
        page.wait_for_selector("[data-testid=flash-ok]")
        assert "已确认" in page.locator("[data-testid=flash-ok]").inner_text()
        assert page.locator("[data-testid=cb-status]").inner_text() == "确认未批先建"
        assert page.locator("[data-testid=cb-decide]").count() == 0
        page.click("text=查看台账工地")
        page.wait_for_url("**/sites/*")
        assert "北市场无证土方点" in page.locator("h1").inner_text()
        _fits(page)
    finally:
        context.close()


def test_a_district_dismisses_a_push_through_the_page(
    browser: Any, cb_server: LiveServer, pushed: dict[str, int]
) -> None:
    """On a desktop: 和平区's admin dismisses; "other" without words is refused first."""
    context = browser.new_context(locale="zh-CN", viewport=SIZES["desktop"])
    page = context.new_page()
    try:
        login(page, cb_server.url, "d_heping")
        page.goto(f"{cb_server.url}/citybrain/suspects/{pushed['heping_west']}")
        decide = page.locator("[data-testid=cb-decide]")
        decide.locator("select[name=reason]").select_option("other")
        decide.locator("[data-testid=cb-dismiss]").click()
        page.wait_for_selector("[data-testid=flash-error]")
        assert "请写明原因" in page.locator("[data-testid=flash-error]").inner_text()
        assert page.locator("[data-testid=cb-status]").inner_text() == "待核实"
        decide.locator("select[name=reason]").select_option("car_park")
        decide.locator("input[name=text]").fill("商场地面停车场")
        decide.locator("[data-testid=cb-dismiss]").click()
        page.wait_for_selector("[data-testid=flash-ok]")
        assert page.locator("[data-testid=cb-status]").inner_text() == "已排除"
        verdict = page.locator("[data-testid=cb-verdict]").inner_text()
        assert "d_heping" in verdict and "停车场" in verdict and "商场地面停车场" in verdict
        page.goto(f"{cb_server.url}/citybrain/places")
        assert "CB-" in page.locator("[data-testid=cb-places]").inner_text()  # now known
    finally:
        context.close()


# --------------------------------------------------------------------------- places, trucks


def _click_map(page: Any, the_map: Any, fx: float, fy: float) -> None:
    """Click (or tap, on the touch phone) the map at a fraction of its width and height."""
    box = the_map.bounding_box()
    where = {"x": box["width"] * fx, "y": box["height"] * fy}
    if page.viewport_size["width"] == SIZES["phone"]["width"]:
        the_map.tap(position=where)
    else:
        the_map.click(position=where)


def _corners(page: Any) -> str:
    return str(page.locator("[data-testid=draw-count]").inner_text())


def test_draw_a_known_places_boundary_and_save_it(
    tab: Any, size: str, cb_server: LiveServer, pushed: dict[str, int]
) -> None:
    name = f"北郊消纳场{size}"
    login(tab, cb_server.url, "admin")
    tab.goto(f"{cb_server.url}/citybrain/places")
    tab.click("[data-testid=cb-place-new]")
    tab.wait_for_selector("form[data-place-form][data-ready='1']")
    tab.fill("#f-name", name)
    tab.select_option("#f-kind", "disposal")
    tab.check("[data-testid=shape-boundary]")
    assert tab.locator("#f-lat").is_hidden()  # the circle's boxes give way to the drawing
    the_map = tab.locator("#place-map")
    _fits(tab)
    # two corners are not a boundary: refused beside the map, the drawing kept
    _click_map(tab, the_map, 0.3, 0.3)
    _click_map(tab, the_map, 0.7, 0.3)
    assert _corners(tab) == "已绘制 2 个顶点"
    tab.click("[data-testid=cb-place-save]")
    tab.wait_for_selector("[data-testid=error-boundary]")
    assert "至少点选 3 个顶点" in tab.locator("[data-testid=error-boundary]").inner_text()
    assert tab.locator("[data-testid=shape-boundary]").is_checked()
    tab.wait_for_selector("form[data-place-form][data-ready='1']")
    assert _corners(tab) == "尚未绘制顶点"  # fewer than 3 corners are not kept
    # click the corners, remove the last, clear, and draw again
    for fx, fy in ((0.3, 0.3), (0.7, 0.3), (0.7, 0.7), (0.5, 0.5)):
        _click_map(tab, the_map, fx, fy)
    assert _corners(tab) == "已绘制 4 个顶点"
    tab.click("[data-testid=draw-undo]")
    assert _corners(tab) == "已绘制 3 个顶点"
    tab.click("[data-testid=draw-clear]")
    assert _corners(tab) == "尚未绘制顶点" and tab.input_value("#f-boundary") == ""
    for fx, fy in ((0.3, 0.3), (0.7, 0.3), (0.7, 0.7), (0.3, 0.7)):
        _click_map(tab, the_map, fx, fy)
    assert tab.locator("#place-map .cb-corner").count() == 4
    before = tab.input_value("#f-boundary")
    last = tab.locator("#place-map .cb-corner.last").bounding_box()
    x, y = last["x"] + last["width"] / 2, last["y"] + last["height"] / 2
    tab.mouse.move(x, y)
    tab.mouse.down()
    tab.mouse.move(x - 20, y + 25, steps=6)
    tab.mouse.up()
    moved = tab.input_value("#f-boundary")
    assert moved != before and moved.startswith('{"type":"Polygon"')
    tab.fill("#f-note", "南门进出")
    _fits(tab)
    tab.click("[data-testid=cb-place-save]")
    tab.wait_for_url(f"{cb_server.url}/citybrain/places")
    assert "已保存已知地点" in tab.locator("[data-testid=flash-ok]").inner_text()
    row = tab.locator(f"[data-testid=cb-places] tr[data-place='{name}']")
    assert "绘制的边界" in row.inner_text()
    with _db(cb_server) as s:
        place = s.scalar(select(KnownPlace).where(KnownPlace.name == name))
        assert place is not None and place.boundary is not None and place.note == "南门进出"
        ring = place.boundary["coordinates"][0]
        assert len(ring) == 5 and ring[0] == ring[-1]
        assert len({tuple(p) for p in ring}) == 4
        place_id = place.id
    # the edit page draws the saved boundary with its corners, ready to change
    row.locator("a").click()
    tab.wait_for_url(f"**/citybrain/places/{place_id}/edit")
    tab.wait_for_selector("form[data-place-form][data-ready='1']")
    assert tab.locator("[data-testid=shape-boundary]").is_checked()
    assert _corners(tab) == "已绘制 4 个顶点"
    assert tab.locator("#place-map .cb-corner").count() == 4
    assert tab.locator("#place-map path.cb-outline").count() == 1
    _fits(tab)


def test_edit_a_truck(tab: Any, size: str, cb_server: LiveServer, pushed: dict[str, int]) -> None:
    plate = "辽A00888" if size == "phone" else "辽A01888"
    login(tab, cb_server.url, "admin")
    tab.goto(f"{cb_server.url}/citybrain/trucks")
    row = tab.locator(f"[data-testid=cb-trucks] tr[data-truck='{plate}']")
    assert "在用" in row.inner_text()
    _fits(tab)
    row.locator("a").click()
    tab.wait_for_url("**/citybrain/trucks/*/edit")
    assert tab.input_value("#f-plate") == plate and tab.locator("#f-active").is_checked()
    tab.fill("#f-terminal_id", "P1T1")  # another truck's terminal
    tab.click("[data-testid=cb-truck-save]")
    error = tab.locator("[data-testid=error-terminal_id]")
    error.wait_for()
    assert "终端号 P1T1 已登记在车辆 辽A11888 上" in error.inner_text()
    assert tab.get_attribute("#f-terminal_id", "aria-invalid") == "true"
    _fits(tab)
    tab.fill("#f-terminal_id", f"NEW-{size}")
    tab.fill("#f-company", "浑南渣土运输")
    tab.uncheck("#f-active")
    tab.click("[data-testid=cb-truck-save]")
    tab.wait_for_url(f"{cb_server.url}/citybrain/trucks")
    text = tab.locator(f"[data-testid=cb-trucks] tr[data-truck='{plate}']").inner_text()
    assert "浑南渣土运输" in text and f"NEW-{size}" in text and "已停用" in text
    with _db(cb_server) as s:
        truck = s.scalar(select(Truck).where(Truck.plate == plate))
        assert truck is not None and not truck.active and truck.terminal_id == f"NEW-{size}"
