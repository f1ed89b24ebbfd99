"""A whole field visit on a phone (390×844, faked position), as issue 12 "Must hold" lists:
the officer lands on Today, checks in (refused outside the fence with the distance, then
inside), fails an item with a photo, loses the network and submits (the page shows 1
waiting), gets the network back (the visit is sent exactly once: one visit, one case), fixes
the problem on the spot (网格现场处置), and the site's grade and the patrol coverage follow."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dustgrid.cases.models import Case
from dustgrid.db import make_engine
from dustgrid.patrols import service as patrols
from dustgrid.patrols.periods import monday_of
from tests.inspections.photo_kit import jpeg
from tests.web.test_browser_ledger import login

pytestmark = pytest.mark.browser

SITE = "HP-003"  # 和平区太原街改造工程 at 41.795, 123.405: fully compliant, in E-HP
INSIDE = {"latitude": 41.7952, "longitude": 123.4053, "accuracy": 12}
FAR = {"latitude": 41.807, "longitude": 123.405, "accuracy": 12}  # ~1.3 km north
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def phone(browser: Any) -> Any:
    context = browser.new_context(
        locale="zh-CN",
        viewport=PHONE,
        is_mobile=True,
        has_touch=True,
        geolocation=FAR,
        permissions=["geolocation"],
    )
    yield context
    context.close()


def _fits(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width} px wide on a 390 px phone"


def _cases_at(live_server: Any, site_id: int) -> int:
    engine = make_engine(live_server.settings.database_url)
    try:
        with Session(engine) as s:
            stmt = select(func.count()).select_from(Case).where(Case.site_id == site_id)
            return int(s.scalar(stmt) or 0)
    finally:
        engine.dispose()


def _plan_this_week(live_server: Any) -> tuple[str, str]:
    """Plans for this week as of its Monday (kept if another test made them); the range of
    days whose coverage is read."""
    settings = live_server.settings
    monday = monday_of(patrols.today_for(settings))
    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as s:
            patrols.generate_week(s, monday, today=monday, settings=settings)
            s.commit()
    finally:
        engine.dispose()
    return (monday - timedelta(days=7)).isoformat(), (monday + timedelta(days=13)).isoformat()


def _coverage(page: Any, base: str, first: str, last: str) -> int:
    r = page.request.get(
        f"{base}/api/v1/patrol-coverage", params={"from": first, "to": last, "level": "grid"}
    )
    assert r.ok, r.text()
    return int({row["key"]: row for row in r.json()}["E-HP"]["visited"])


def _api(page: Any, url: str) -> Any:
    r = page.request.get(url)
    assert r.ok, r.text()
    return r.json()


def _check_in(page: Any, phone: Any) -> None:
    page.click("[data-testid=checkin]")
    status = page.locator("[data-testid=checkin-status]")
    status.filter(has_text="您距工地约 1.3 公里").wait_for()
    assert page.locator("[data-testid=checklist]").is_hidden()
    phone.set_geolocation(INSIDE)
    page.click("[data-testid=checkin]")
    status.filter(has_text="已签到").wait_for()


def _fail_an_item_with_a_photo(page: Any) -> None:
    page.click("#all-pass")
    page.check("[data-testid=road_hardening-failed]")
    shot = jpeg(taken=datetime.now(UTC), lat=INSIDE["latitude"], lon=INSIDE["longitude"])
    page.set_input_files(
        "[data-testid=road_hardening-photo]",
        files=[{"name": "road.jpg", "mimeType": "image/jpeg", "buffer": shot}],
    )
    page.fill("[data-testid=item-road_hardening] textarea", "西侧出入口未硬化")
    # the preview is drawn from the blob kept on the phone (CSP img-src blob:)
    page.wait_for_function(
        "() => { const i = document.querySelector('[data-testid=road_hardening-thumbs] img');"
        " return i && i.src.startsWith('blob:') && i.complete && i.naturalWidth > 0; }"
    )


def _submit_offline_then_reconnect(page: Any, phone: Any, live_server: Any, sid: int) -> None:
    phone.set_offline(True)
    page.click("[data-testid=submit]")
    badge = page.locator("[data-testid=outbox-badge]")
    badge.filter(has_text="1 项待发送").wait_for()
    page.locator("[data-testid=submit-saved]").wait_for()  # shown once the outbox has it
    assert page.locator("[data-testid=outbox-list] li").count() == 1
    _fits(page)
    assert _cases_at(live_server, sid) == 0  # nothing has reached the server yet
    phone.set_offline(False)  # the outbox sends it as the network comes back
    page.wait_for_url(re.compile(r".*/inspections/\d+$"), timeout=45_000)


def _fix_on_the_spot(page: Any) -> None:
    page.locator("[data-testid=case-link]").click()
    page.wait_for_url(re.compile(r".*/cases/\d+$"))
    _fits(page)
    move = page.locator("details[data-move=grid_fix_on_site]")
    move.locator("summary").click()
    move.locator("textarea[name=result]").fill("已当场督促硬化出入口并复拍")
    after = jpeg(taken=datetime.now(UTC), lat=INSIDE["latitude"], lon=INSIDE["longitude"])
    move.locator("input[name=photos]").set_input_files(
        files=[{"name": "after.jpg", "mimeType": "image/jpeg", "buffer": after}]
    )
    move.locator("[data-testid=move-grid_fix_on_site]").click()
    page.locator("[data-testid=case-state][data-state=closed]").wait_for()
    assert page.locator("[data-testid=grid-handled]").count() == 1


def test_a_field_visit_offline_and_back(phone: Any, live_server: Any) -> None:
    base, sid = live_server.url, live_server.city.sites[SITE]
    first, last = _plan_this_week(live_server)
    page = phone.new_page()
    login(page, base, "off_hp1")
    assert page.url == f"{base}/today"  # officers land on their day's work
    page.locator("[data-testid=route]").wait_for()
    _fits(page)
    covered = _coverage(page, base, first, last)
    grade = _api(page, f"{base}/api/v1/sites/{sid}")["grade"]

    page.goto(f"{base}/inspections/new/{sid}")
    _fits(page)
    _check_in(page, phone)
    _fail_an_item_with_a_photo(page)
    _fits(page)
    _submit_offline_then_reconnect(page, phone, live_server, sid)

    # sent exactly once: one visit (with its one photo) and one case
    assert page.locator("[data-testid=visit-result]").inner_text() == "发现问题"
    assert page.locator("[data-testid=visit-photo]").count() == 1
    visits = _api(page, f"{base}/api/v1/inspections?site_id={sid}")
    assert visits["total"] == 1 and visits["items"][0]["result"] != "draft"
    cases = _api(page, f"{base}/api/v1/cases?site_id={sid}&tab=all")
    assert cases["total"] == 1

    _fix_on_the_spot(page)

    assert _api(page, f"{base}/api/v1/sites/{sid}")["grade"] != grade  # regraded
    assert _coverage(page, base, first, last) == covered + 1
    page.goto(f"{base}/today")
    assert page.locator("[data-testid=outbox]").is_hidden()  # nothing waits any more
    _fits(page)


def test_a_check_in_without_network_keeps_the_phones_time(browser: Any, live_server: Any) -> None:
    base, sid = live_server.url, live_server.city.sites["SH-002"]  # 41.805, 123.455
    context = browser.new_context(
        locale="zh-CN",
        viewport=PHONE,
        is_mobile=True,
        has_touch=True,
        geolocation={"latitude": 41.8052, "longitude": 123.4553, "accuracy": 10},
        permissions=["geolocation"],
    )
    try:
        page = context.new_page()
        login(page, base, "insp_sh1")
        page.goto(f"{base}/inspections/new/{sid}")
        context.set_offline(True)
        before = datetime.now(UTC)
        page.click("[data-testid=checkin]")
        page.locator("[data-testid=checkin-status]").filter(
            has_text="已在手机上记录签到"
        ).wait_for()
        page.click("#all-pass")
        page.click("[data-testid=submit]")
        page.locator("[data-testid=outbox-badge]").filter(has_text="1 项待发送").wait_for()
        _fits(page)
        context.set_offline(False)
        page.wait_for_url(re.compile(r".*/inspections/\d+$"), timeout=45_000)
        assert page.locator("[data-testid=visit-result]").inner_text() == "未发现问题"
        visits = _api(page, f"{base}/api/v1/inspections?site_id={sid}")
        assert visits["total"] == 1
        visit = visits["items"][0]
        checked_in = datetime.fromisoformat(visit["checked_in_at"])
        assert (
            before - timedelta(seconds=1)
            <= checked_in
            <= datetime.fromisoformat(visit["submitted_at"])
        )
        assert visit["check_in_distance_m"] < 200  # the fence was checked on arrival
    finally:
        context.close()
