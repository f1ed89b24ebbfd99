"""The inspection pages: site picker, check-in and checklist, a visit, the site page's
section with "start inspection" for grid members, and the list."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.fixtures.city import City
from tests.inspections.test_inspection_api import answers, check_in, photo

Web = Callable[[str], TestClient]


def test_picker_lists_only_sites_of_the_members_grids(web_as: Web, city: City) -> None:
    page = web_as("insp_sh1").get("/inspections/new")
    assert page.status_code == 200
    assert "沈河区北市场住宅项目" in page.text and "和平区中山路住宅项目" not in page.text
    assert f'href="/inspections/new/{city.sites["SH-001"]}"' in page.text
    filtered = web_as("insp_sh1").get("/inspections/new", params={"q": "五爱街"})
    assert "沈河区五爱街写字楼" in filtered.text and "沈河区北市场住宅项目" not in filtered.text
    assert "<select" not in page.text  # a search and a list, not a dropdown


def test_start_page_shows_the_checklist_with_photo_capture(web_as: Web, city: City) -> None:
    page = web_as("insp_hp1").get(f"/inspections/new/{city.sites['HP-001']}")
    assert page.status_code == 200
    text = page.text
    assert "现场签到" in text and "视频巡查</button>" not in text  # inspectors: no video check
    assert "车行道路硬化" in text and "不适用" in text
    assert 'accept="image/*" capture="environment"' in text
    assert "/static/js/inspection.js" in text
    officer = web_as("off_hp1").get(f"/inspections/new/{city.sites['HP-001']}")
    assert 'data-testid="checkin-video"' in officer.text
    outsider = web_as("d_heping").get(f"/inspections/new/{city.sites['HP-001']}")
    assert outsider.status_code == 200 and "不在您的网格内" in outsider.text
    assert 'data-testid="checkin"' not in outsider.text
    assert web_as("d_shenhe").get(f"/inspections/new/{city.sites['HP-001']}").status_code == 404


def test_visit_page_shows_result_photos_and_cases(
    web_as: Web, api_as: Callable[[str], TestClient], city: City
) -> None:
    c = api_as("insp_hp1")
    visit = check_in(c, city.sites["HP-001"]).json()
    photo(c, visit["id"], "material_cover")
    r = c.post(
        f"/api/v1/inspections/{visit['id']}/submit",
        json={"answers": answers(c, {"material_cover": "砂石未苫盖"})},
    )
    case_id = r.json()["cases"][0]["id"]
    page = web_as("d_heping").get(f"/inspections/{visit['id']}")
    assert page.status_code == 200
    assert "发现问题" in page.text and "物料未苫盖" in page.text
    assert f'href="/cases/{case_id}"' in page.text
    assert f"/api/v1/inspections/{visit['id']}/photos/" in page.text
    english = web_as("d_heping")
    english.cookies.set("lang", "en")
    assert "Problems found" in english.get(f"/inspections/{visit['id']}").text
    assert web_as("d_shenhe").get(f"/inspections/{visit['id']}").status_code == 404
    fragment = web_as("insp_hp1").get(f"/sites/{city.sites['HP-001']}/inspections")
    assert 'data-testid="site-start-inspection"' in fragment.text
    assert f'href="/inspections/{visit["id"]}"' in fragment.text
    assert (
        "site-start-inspection"
        not in web_as("d_heping").get(f"/sites/{city.sites['HP-001']}/inspections").text
    )
    listing = web_as("st_heping").get("/inspections")
    assert listing.status_code == 200 and "和平区中山路住宅项目" in listing.text
    site_page = web_as("insp_hp1").get(f"/sites/{city.sites['HP-001']}")
    assert f'hx-get="/sites/{city.sites["HP-001"]}/inspections"' in site_page.text
