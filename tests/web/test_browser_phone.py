"""Phone-first pages: on a 390×844 phone the ledger, a site page and a case page fit the
screen (no sideways scrolling; wide tables scroll inside their own box) and the top
navigation folds into a menu button that opens to show the links."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.orm import Session

from dustgrid.auth.models import User
from dustgrid.auth.service import load_principal
from dustgrid.cases import service as cases
from dustgrid.cases.attachments import AttachmentIn
from dustgrid.cases.states import CaseSource
from dustgrid.db import make_engine
from tests.cases.case_kit import JPEG
from tests.web.test_browser_ledger import login

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}

# The elements sticking out of the screen, for a failure message that says where to look.
OVERFLOW = """
() => Array.from(document.querySelectorAll('body *'))
  .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1
               && !e.closest('.table-wrap'))
  .slice(0, 8)
  .map(e => e.tagName.toLowerCase() + '.' + e.className + ' ' +
            Math.round(e.getBoundingClientRect().right))
"""


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    context = browser.new_context(
        locale="zh-CN", viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2
    )
    pg = context.new_page()
    yield pg
    context.close()


@pytest.fixture
def a_case(live_server: Any) -> Iterator[int]:
    """A case at 和平 HP-002, reported by the officer who opens it below."""
    engine = make_engine(live_server.settings.database_url)
    city = live_server.city
    with Session(engine) as s:
        user = s.get(User, city.users["off_hp1"])
        assert user is not None
        case, _ = cases.open_case(
            s,
            actor=load_principal(s, user),
            source=CaseSource.enforcement_officer,
            site_id=city.sites["HP-002"],
            location=None,
            category="material_cover",
            description="东侧砂石堆放未苫盖，长约二十米，现场已要求施工单位立即整改并拍照上传",
            severity="medium",
            attachments=[AttachmentIn(filename="p.jpg", content=JPEG)],
            settings=live_server.settings,
        )
        s.commit()
        case_id = case.id
    yield case_id
    engine.dispose()


def fits(page: Any, url: str) -> None:
    r = page.goto(url)
    assert r is not None and r.status == 200, url
    page.wait_for_load_state("networkidle")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], (
        f"{url}: {width} px wide; sticking out: {page.evaluate(OVERFLOW)}"
    )


def test_ledger_site_and_case_pages_fit_a_phone(phone: Any, live_server: Any, a_case: int) -> None:
    base = live_server.url
    login(phone, base, "off_hp1")
    fits(phone, f"{base}/sites")
    assert phone.locator("[data-testid=ledger] tbody tr").count() >= 1
    fits(phone, f"{base}/sites/{live_server.city.sites['HP-002']}")
    fits(phone, f"{base}/cases/{a_case}")
    fits(phone, f"{base}/cases")


def test_the_menu_button_opens_the_navigation_on_a_phone(phone: Any, live_server: Any) -> None:
    base = live_server.url
    login(phone, base, "off_hp1")
    ledger_link = phone.locator("nav.nav a[href='/sites']")
    button = phone.locator("[data-testid=menu-button]")
    assert button.is_visible()
    assert not ledger_link.is_visible()  # folded away until asked for
    assert button.get_attribute("aria-expanded") == "false"
    button.click()
    assert button.get_attribute("aria-expanded") == "true"
    for href in ("/sites", "/map", "/cases"):
        assert phone.locator(f"nav.nav a[href='{href}']").is_visible(), href
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    phone.locator("nav.nav a[href='/map']").click()
    phone.wait_for_url(f"{base}/map")


def test_the_menu_button_stays_hidden_on_a_desktop(page: Any, live_server: Any) -> None:
    login(page, live_server.url, "off_hp1")
    assert not page.locator("[data-testid=menu-button]").is_visible()
    assert page.locator("nav.nav a[href='/sites']").is_visible()


def test_assessment_pages_fit_a_phone(phone: Any, live_server: Any) -> None:
    """A closed month's ranking and a unit's items with evidence and the appeal form."""
    from dustgrid.assessments import service as assessments
    from dustgrid.assessments.months import Month
    from tests.assessments.helpers import AFTER, build_november

    engine = make_engine(live_server.settings.database_url)
    city = live_server.city
    with Session(engine) as s:
        if assessments.repo.month_row(s, "2026-11") is None:
            build_november(s, city)
            assessments.close(s, Month(2026, 11), live_server.settings, now=AFTER)
            s.commit()
    engine.dispose()
    base = live_server.url
    login(phone, base, "d_heping")
    fits(phone, f"{base}/assessments?month=2026-11")
    assert phone.locator("[data-testid=score-row]").count() >= 1
    fits(phone, f"{base}/assessments?month=2026-11&kind=officer")  # the officers' tab too
    assert phone.locator("[data-testid=score-row]").count() >= 2
    fits(phone, f"{base}/assessments/2026-11/l2_unit/{city.units['bureau_heping']}")
    phone.locator("[data-testid=appeal-open]").first.click()
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], phone.evaluate(OVERFLOW)


def test_archive_pages_fit_a_phone(phone: Any, live_server: Any) -> None:
    """A district official opens an officer's archive from the grid page, and a site's
    archive whose visit photos load as thumbnails linking to the full photo."""
    from sqlalchemy import select

    from dustgrid.assessments import service as assessments
    from dustgrid.assessments.months import Month
    from dustgrid.inspections.models import Inspection, InspectionPhoto
    from tests.assessments.helpers import AFTER, build_november
    from tests.reports.photos import BLUE, RED, add_photo

    engine = make_engine(live_server.settings.database_url)
    city = live_server.city
    with Session(engine) as s:
        if assessments.repo.month_row(s, "2026-11") is None:
            build_november(s, city)
            assessments.close(s, Month(2026, 11), live_server.settings, now=AFTER)
        visit = s.scalars(select(Inspection.id).where(Inspection.idempotency_key
                                                      == "assess-visit-1")).one()  # fmt: skip
        if not s.scalars(
            select(InspectionPhoto).where(InspectionPhoto.inspection_id == visit)
        ).all():
            add_photo(s, live_server.settings, visit, color=RED, item_code="hoarding")
            add_photo(s, live_server.settings, visit, color=BLUE)
        s.commit()
    engine.dispose()
    base = live_server.url
    login(phone, base, "d_heping")
    fits(phone, f"{base}/grids/{city.grids['E-HP']}")
    phone.locator("[data-testid=member-archive]", has_text="off_hp1").click()
    phone.wait_for_url(f"{base}/archives/members/{city.users['off_hp1']}")
    assert phone.locator("h1").inner_text() == "网格员电子档案：off_hp1"
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], phone.evaluate(OVERFLOW)

    fits(phone, f"{base}/archives/sites/{city.sites['HP-001']}")
    # this visit's two photos (other browser tests may have added visits with photos)
    thumbs = phone.locator(f"a[href*='/inspections/{visit}/photos/'] [data-testid=archive-photo]")
    assert thumbs.count() == 2
    for i in range(2):
        thumbs.nth(i).scroll_into_view_if_needed()
        phone.wait_for_function(
            "e => e.complete && e.naturalWidth > 0", arg=thumbs.nth(i).element_handle()
        )
        box = thumbs.nth(i).bounding_box()
        assert box is not None and box["width"] < PHONE["width"] / 2  # a thumbnail
    href = thumbs.first.evaluate("e => e.closest('a').href")
    assert phone.request.get(href).headers["content-type"] == "image/jpeg"
