"""The case pages: inbox per role, report form, case page and its forms, site section,
map, board, credit lists and the notification badge."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dustgrid.cases.deadlines import work_calendar
from dustgrid.cases.models import Case
from dustgrid.cases.states import CaseState
from dustgrid.config import Settings
from dustgrid.identity.deps import app_settings
from dustgrid.sites.models import Enterprise
from dustgrid.workcal.calendar import people_time
from tests.cases.case_kit import JPEG, case_in, report
from tests.fixtures.city import City


def test_inbox_tabs_per_role(
    db: Session, city: City, settings: Settings, web_as: Callable[[str], TestClient]
) -> None:
    case = case_in(db, city, settings, CaseState.dispatched)
    db.commit()
    page = web_as("d_heping").get("/cases")
    assert page.status_code == 200
    assert 'data-tab="to_accept"' in page.text and f'data-case-id="{case.id}"' in page.text
    assert 'data-tab="to_dispatch"' not in page.text
    admin = web_as("admin").get("/cases?tab=to_dispatch")
    assert f'data-case-id="{case.id}"' not in admin.text  # already dispatched
    assert 'data-tab="to_dispatch"' in admin.text
    assert web_as("d_shenhe").get(f"/cases/{case.id}").status_code == 404
    assert 'data-testid="report-new"' in web_as("insp_hp1").get("/cases").text
    assert web_as("viewer_city").get("/cases/new").status_code == 403


def test_report_through_the_form(
    db: Session, city: City, web_as: Callable[[str], TestClient]
) -> None:
    c = web_as("insp_hp1")
    form = {
        "csrf_token": c.csrf,
        "source": "third_party_inspector",  # type: ignore[attr-defined]
        "site_id": str(city.sites["HP-003"]),
        "category": "hoarding",
        "severity": "high",
        "description": "围挡倒塌",
    }
    bad = c.post("/cases/new", data=form)  # no photo
    assert bad.status_code == 422 and "照片、材料或处理结果" in bad.text and "围挡倒塌" in bad.text
    assert db.scalar(select(Case.id).limit(1)) is None
    r = c.post("/cases/new", data=form, files=[("photos", ("p.jpg", JPEG, "image/jpeg"))])
    assert r.status_code == 303
    case_id = int(r.headers["location"].rsplit("/", 1)[1])
    page = c.get(f"/cases/{case_id}")
    assert 'data-testid="flash-ok"' in page.text and "围挡倒塌" in page.text
    assert f"/api/v1/cases/{case_id}/attachments/" in page.text
    no_csrf = c.post("/cases/new", data={**form, "csrf_token": "x"})
    assert no_csrf.status_code == 403


def test_moves_through_the_case_page(
    db: Session, city: City, settings: Settings, web_as: Callable[[str], TestClient]
) -> None:
    case = case_in(db, city, settings, CaseState.dispatched)
    db.commit()
    c = web_as("d_heping")
    page = c.get(f"/cases/{case.id}")
    assert 'data-move="accept"' in page.text and 'data-move="return"' in page.text
    assert f'value="{city.users["off_hp1"]}"' in page.text  # a candidate responsible
    r = c.post(f"/cases/{case.id}/moves/accept", data={"csrf_token": c.csrf})  # type: ignore[attr-defined]
    assert r.status_code == 303
    assert "responsible" in c.get(f"/cases/{case.id}").text  # flashed error
    r = c.post(
        f"/cases/{case.id}/moves/accept",
        data={"csrf_token": c.csrf, "responsible_id": str(city.users["off_hp1"])},
    )  # type: ignore[attr-defined]
    assert r.status_code == 303
    db.expire_all()
    assert db.get(Case, case.id).state == CaseState.accepted  # type: ignore[union-attr]
    officer = web_as("off_hp1")
    assert 'data-move="start_handling"' in officer.get(f"/cases/{case.id}").text
    assert (
        web_as("d_shenhe")
        .post(f"/cases/{case.id}/moves/accept", data={"csrf_token": "x"})
        .status_code
        == 403
    )  # csrf first
    note = officer.post(
        f"/cases/{case.id}/notes",
        data={"csrf_token": officer.csrf, "text": "已到现场"},  # type: ignore[attr-defined]
        files=[("photos", ("n.jpg", JPEG, "image/jpeg"))],
    )
    assert note.status_code == 303
    assert "已到现场" in officer.get(f"/cases/{case.id}").text


def test_site_section_map_board_and_badge(
    db: Session, city: City, settings: Settings, web_as: Callable[[str], TestClient]
) -> None:
    case = case_in(db, city, settings, CaseState.verifying)
    db.commit()
    c = web_as("d_heping")
    site = c.get(f"/sites/{city.sites['HP-001']}")
    assert f'hx-get="/sites/{city.sites["HP-001"]}/cases"' in site.text
    frag = c.get(f"/sites/{city.sites['HP-001']}/cases")
    assert frag.status_code == 200 and f'data-case-id="{case.id}"' in frag.text
    assert 'data-testid="site-ladder"' in frag.text and "site-problems" in frag.text
    assert c.get(f"/sites/{city.sites['SH-001']}/cases").status_code == 404
    m = c.get("/cases/map")
    cfg = json.loads(m.text.split('id="cases-map-config">', 1)[1].split("</script>", 1)[0])
    assert [p[0] for p in cfg["points"]] == [case.id]
    assert 'data-testid="board"' in c.get("/cases/board").text
    badge = c.get("/notifications/badge")
    assert 'data-testid="unread-count"' in badge.text
    assert 'hx-get="/notifications/badge"' in c.get("/cases").text
    inbox = c.get("/notifications")
    import re

    nid = int(re.findall(r'action="/notifications/(\d+)/open"', inbox.text)[0])
    opened = c.post(f"/notifications/{nid}/open", data={"csrf_token": c.csrf})  # type: ignore[attr-defined]
    assert opened.status_code == 303 and opened.headers["location"].startswith("/cases/")


def test_credit_page_and_lifting(
    db: Session, city: City, web_as: Callable[[str], TestClient]
) -> None:
    db.execute(
        update(Enterprise)
        .where(Enterprise.id == city.enterprises["beta"])
        .values(blacklisted=True, bad_record_count=3)
    )
    db.commit()
    viewer = web_as("viewer_city").get("/credit")
    assert "辽宁贝塔" in viewer.text and "/lift" not in viewer.text
    admin = web_as("admin")
    page = admin.get("/credit")
    assert f"/credit/enterprises/{city.enterprises['beta']}/lift" in page.text
    r = admin.post(
        f"/credit/enterprises/{city.enterprises['beta']}/lift",
        data={"csrf_token": admin.csrf, "reason": "信用修复完成"},
    )  # type: ignore[attr-defined]
    assert r.status_code == 303
    db.expire_all()
    assert db.get(Enterprise, city.enterprises["beta"]).blacklisted is False  # type: ignore[union-attr]


def test_english_labels(
    db: Session, city: City, settings: Settings, web_as: Callable[[str], TestClient]
) -> None:
    case = report(db, city, settings)
    db.commit()
    c = web_as("admin")
    c.cookies.set("lang", "en")
    page = c.get(f"/cases/{case.id}")
    assert "Timeline" in page.text and "Dispatch" in page.text and "Reported" in page.text


def test_the_proposed_rectification_date_is_the_one_the_move_applies(
    db: Session, city: City, settings: Settings, web_as: Callable[[str], TestClient]
) -> None:
    """The case page proposes the rectification deadline the move itself sets when the
    field is left empty (one rule, in ``cases.workflow``)."""
    case = case_in(db, city, settings, CaseState.handling)
    db.commit()
    officer = web_as("off_hp1")
    page = officer.get(f"/cases/{case.id}").text
    form = page.split('data-move="order_rectification"', 1)[1].split("</form>", 1)[0]
    proposed = re.search(r'name="deadline" value="([0-9-]+)"', form)
    assert proposed is not None, form
    r = officer.post(
        f"/cases/{case.id}/moves/order_rectification",
        data={"csrf_token": officer.csrf, "reason": "限期整改", "deadline": ""},  # type: ignore[attr-defined]
    )
    assert r.status_code == 303
    db.expire_all()
    moved = db.get(Case, case.id)
    assert moved is not None and moved.state == CaseState.rectifying
    assert moved.rectify_due_at is not None
    tz = work_calendar(settings).tz
    assert moved.rectify_due_at.astimezone(tz).date().isoformat() == proposed.group(1)


def test_the_case_pages_write_times_in_the_zone_setting(
    db: Session,
    city: City,
    settings: Settings,
    app: object,
    web_as: Callable[[str], TestClient],
) -> None:
    """Times on the inbox and the case page are the city's clock (the ``timezone``
    setting), not China time whatever the setting says."""
    case = case_in(db, city, settings, CaseState.dispatched)
    db.commit()
    zone = ZoneInfo("America/New_York")
    moved = settings.model_copy(update={"timezone": zone.key})
    app.dependency_overrides[app_settings] = lambda: moved  # type: ignore[attr-defined]
    c = web_as("d_heping")
    local, china = people_time(case.opened_at, zone), people_time(case.opened_at)
    assert local != china
    for page in (c.get("/cases").text, c.get(f"/cases/{case.id}").text):
        assert local in page and china not in page
