"""Issue 13, forms that help (a real browser): the site form's map picker, the searchable site
picker of the case report form and the alert rule form."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from dustgrid.cases.models import Case
from dustgrid.db import make_engine
from dustgrid.geo.coords import gcj02_to_wgs84, wgs84_to_gcj02
from tests.web.test_browser_ledger import login

pytestmark = pytest.mark.browser


@pytest.fixture
def phone(browser: Any) -> Any:
    context = browser.new_context(
        locale="zh-CN", viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    yield context
    context.close()


def test_clicking_the_map_fills_the_coordinates_on_a_phone(phone: Any, live_server: Any) -> None:
    page = phone.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    login(page, live_server.url, "d_heping")
    page.goto(f"{live_server.url}/sites/new")
    page.wait_for_selector("[data-coord-map-row][data-ready]")
    assert page.input_value("[name=lat]") == "" and page.input_value("[name=lon]") == ""
    box = page.locator("[data-testid=coord-map]").bounding_box()
    page.locator("[data-testid=coord-map]").click(position={"x": box["width"] / 2, "y": 120})
    page.wait_for_function("document.querySelector('[name=lat]').value !== ''")
    lat, lon = float(page.input_value("[name=lat]")), float(page.input_value("[name=lon]"))
    assert 41.6 < lat < 42.0 and 123.2 < lon < 123.7  # inside 和平区 of the test city
    assert page.locator(".coord-pin").count() == 1
    # typing coordinates moves the pin there
    page.fill("[name=lat]", "41.7950")
    page.fill("[name=lon]", "123.4050")
    pin = page.evaluate(
        "(() => { const r = document.querySelector('.coord-pin').getBoundingClientRect();"
        " const m = document.querySelector('#coord-map').getBoundingClientRect();"
        " return [r.left + r.width / 2 - m.left, r.bottom - m.top, m.width, m.height]; })()"
    )
    assert 0 <= pin[0] <= pin[2] and 0 <= pin[1] <= pin[3]  # the pin is in view
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"page is {width} px wide on a 390 px phone"
    assert errors == []


def test_the_browser_converts_gcj02_like_the_server(page: Any, live_server: Any) -> None:
    """The picker's datum conversion (datum.js) agrees with dustgrid.geo.coords both ways."""
    login(page, live_server.url, "d_heping")
    page.goto(f"{live_server.url}/sites/new")
    page.wait_for_selector("[data-coord-map-row][data-ready]")
    for lat, lon in ((41.791, 123.401), (39.9042, 116.4074), (22.5431, 114.0579)):
        forward = page.evaluate(f"DustDatum.toMap({lat}, {lon}, 'gcj02')")
        assert forward == pytest.approx(list(wgs84_to_gcj02(lat, lon)), abs=1e-9)
        back = page.evaluate(f"DustDatum.fromMap({forward[0]}, {forward[1]}, 'gcj02')")
        assert back == pytest.approx([lat, lon], abs=1e-8)
        assert back == pytest.approx(list(gcj02_to_wgs84(*forward)), abs=1e-9)
    assert page.evaluate("DustDatum.fromMap(41.8, 123.4, 'wgs84')") == [41.8, 123.4]


def test_typing_in_the_site_picker_and_choosing_reports_the_case_there(
    page: Any, live_server: Any
) -> None:
    login(page, live_server.url, "admin")
    page.goto(f"{live_server.url}/cases/new")
    page.select_option("[name=source]", "higher_assignment")
    box = page.get_by_role("combobox", name="工地")  # labelled
    box.press_sequentially("五爱", delay=50)
    listbox = page.locator("#site_id-list")
    listbox.wait_for(state="visible")
    assert listbox.locator("[role=option]").count() == 1
    assert "SH-002" in listbox.inner_text() and "沈河区" in listbox.inner_text()
    box.press("ArrowDown")
    assert box.get_attribute("aria-activedescendant") == "site_id-q-opt-0"
    box.press("Enter")  # chooses; does not submit
    assert box.input_value() == "SH-002 沈河区五爱街写字楼"
    assert page.input_value("[name=site_id]") == str(live_server.city.sites["SH-002"])
    assert listbox.is_hidden() and "/cases/new" in page.url
    page.fill("[name=description]", "五爱街工地道路扬尘")
    page.click("button[type=submit]:has-text('提交')")
    page.wait_for_url(lambda url: "/cases/new" not in url)
    assert "沈河区五爱街写字楼" in page.locator("main").inner_text()
    case_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
    engine = make_engine(live_server.settings.database_url)
    with Session(engine) as db:
        case = db.get(Case, case_id)
        assert case is not None and case.site_id == live_server.city.sites["SH-002"]
    engine.dispose()


def test_the_rule_form_saves_a_changed_limit(page: Any, live_server: Any) -> None:
    """The noise rule (no other browser test reads it), saved disabled so that no other
    test's alerts change."""
    login(page, live_server.url, "admin")
    page.goto(f"{live_server.url}/alerts/profiles")
    page.select_option("#rule", "noise-gb12523-2011")  # opens that rule's form (script)
    page.wait_for_url("**rule=noise-gb12523-2011")
    day = page.get_by_label("昼间限值")
    assert day.input_value() == "70"
    assert page.locator("[data-testid=rule-advanced]").get_attribute("open") is None
    day.fill("68")
    page.uncheck("#enabled")
    page.click("[data-testid=save-profile]")
    page.wait_for_load_state()
    assert "已保存" in page.locator("main").inner_text()
    assert page.get_by_label("昼间限值").input_value() == "68"
    assert page.get_by_label("夜间限值").input_value() == "55"
    page.click("[data-testid=rule-advanced] summary")
    tuning = page.input_value("#tuning")
    assert '"day": 68.0' in tuning and '"night": 55.0' in tuning


@pytest.mark.parametrize("user,path", [("off_hp1", "/cases/new"), ("admin", "/alerts/profiles"),
                                       ("admin", "/alerts/profiles?rule=liaoning-db21-2642-2016"),
                                       ("admin", "/devices/quarantine"),
                                       ("con_alpha", "/onboarding/new")])  # fmt: skip
def test_the_pickers_fit_a_phone(phone: Any, live_server: Any, user: str, path: str) -> None:
    page = phone.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    login(page, live_server.url, user)
    page.goto(f"{live_server.url}{path}")
    page.wait_for_load_state("networkidle")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"{path} is {width} px wide on a 390 px phone"
    assert errors == [], errors
