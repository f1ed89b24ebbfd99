"""The 12319 desk's pages: list with rates, form with HTMX suggestions, link and feedback."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from dustgrid.intake.models import Complaint, ComplaintStatus
from tests.fixtures.city import City


def _form(c: TestClient, **kw: str) -> dict[str, str]:
    return {"csrf_token": c.csrf, "channel": "phone_12319", "caller_name": "王五",  # type: ignore[attr-defined]
            "caller_phone": "13712345678", "received_at": "", "place_text": "中山路住宅项目",
            "lat": "41.7915", "lon": "123.4016", "category": "dust_complaint",
            "content": "晚上十点还在土方作业，扬尘很大", **kw}  # fmt: skip


def _last(db: Session) -> Complaint:
    c = db.scalar(select(Complaint).order_by(Complaint.id.desc()).limit(1))
    assert c is not None
    return c


def test_form_suggests_then_saves_and_links(
    web_as: Callable[[str], TestClient], db: Session, city: City
) -> None:
    c = web_as("admin")
    page = c.get("/hotline/new")
    assert page.status_code == 200 and 'hx-get="/hotline/suggest"' in page.text
    part = c.get("/hotline/suggest", params={"lat": "41.7915", "lon": "123.4016",
                                             "place_text": "中山路"})  # fmt: skip
    assert part.status_code == 200
    first_site = re.search(r'data-site-id="(\d+)"', part.text)
    assert first_site and int(first_site.group(1)) == city.sites["HP-001"]
    assert 'name="link_site_id"' in part.text and "no-duplicates" in part.text
    by_text = c.get("/hotline/suggest", params={"place_text": "北市场住宅"})
    assert int(re.findall(r'data-site-id="(\d+)"', by_text.text)[0]) == city.sites["SH-001"]

    r = c.post("/hotline/new", data=_form(c, link_site_id=str(city.sites["HP-001"])))
    assert r.status_code == 303, r.text
    made = _last(db)
    assert made.status == ComplaintStatus.linked and made.case_id
    detail = c.get(r.headers["location"])
    assert detail.status_code == 200 and 'data-testid="case-link"' in detail.text
    assert "13712345678" in detail.text  # full number on the complaint's own page

    listing = c.get("/hotline")
    assert listing.status_code == 200 and "137****5678" in listing.text
    assert "13712345678" not in listing.text
    assert 'data-testid="rate-response"' in listing.text


def test_bad_form_shows_error_and_saves_nothing(
    web_as: Callable[[str], TestClient], db: Session
) -> None:
    c = web_as("admin")
    before = _last(db).id if db.scalar(select(Complaint.id).limit(1)) else 0
    r = c.post("/hotline/new", data=_form(c, place_text="", lat="", lon=""))
    assert r.status_code == 422 and 'data-testid="form-error"' in r.text
    now = db.scalar(select(Complaint.id).order_by(Complaint.id.desc()).limit(1)) or 0
    assert now == before


def test_detail_link_feedback_and_dismiss(
    web_as: Callable[[str], TestClient], db: Session, city: City
) -> None:
    c = web_as("admin")
    loc = c.post("/hotline/new", data=_form(c)).headers["location"]
    cid = int(loc.rsplit("/", 1)[1])
    page = c.get(loc)
    assert 'data-testid="link-form"' in page.text
    tok = c.csrf  # type: ignore[attr-defined]
    r = c.post(f"/hotline/{cid}/link", data={"csrf_token": tok, "link_site_id": "999999"})
    assert r.status_code == 303
    assert "flash-error" in c.get(loc).text  # unknown site: flashed, nothing linked
    assert db.get(Complaint, cid).status == ComplaintStatus.received  # type: ignore[union-attr]
    site = str(city.sites["HP-002"])
    r = c.post(f"/hotline/{cid}/link", data={"csrf_token": tok, "link_site_id": site})
    assert r.status_code == 303
    r = c.post(
        f"/hotline/{cid}/feedback", data={"csrf_token": tok, "responded": "1", "satisfaction": "5"}
    )
    assert r.status_code == 303
    db.expire_all()
    got = db.get(Complaint, cid)
    assert got is not None and got.status == ComplaintStatus.linked
    assert got.response_at is not None and got.satisfaction == 5

    other = c.post("/hotline/new", data=_form(c)).headers["location"]
    oid = int(other.rsplit("/", 1)[1])
    c.post(f"/hotline/{oid}/dismiss", data={"csrf_token": tok, "reason": "非本市"})
    db.expire_all()
    assert db.get(Complaint, oid).status == ComplaintStatus.dismissed  # type: ignore[union-attr]


def test_pages_need_the_desk_permission(web_as: Callable[[str], TestClient]) -> None:
    c = web_as("off_hp1")
    assert c.get("/hotline").status_code == 403
    assert c.get("/hotline/new").status_code == 403


def test_csrf_is_checked(web_as: Callable[[str], TestClient]) -> None:
    c = web_as("admin")
    r = c.post("/hotline/new", data={**_form(c), "csrf_token": "forged"})
    assert r.status_code == 403


def test_english_page(web_as: Callable[[str], TestClient]) -> None:
    c = web_as("admin")
    c.cookies.set("lang", "en")
    assert "12319 complaints" in c.get("/hotline").text


def test_duplicate_flag_and_reasons_in_the_readers_language(
    web_as: Callable[[str], TestClient], db: Session, city: City
) -> None:
    c = web_as("admin")
    same = {"lat": "", "lon": "", "place_text": "和平区太原街改造工程北门"}
    first = int(c.post("/hotline/new", data=_form(c, **same)).headers["location"].rsplit("/")[-1])
    loc = c.post("/hotline/new", data=_form(c, **same)).headers["location"]
    page = c.get(loc).text
    flag = re.search(r'data-testid="duplicate-flag">(.*?)</p>', page, re.S)
    assert flag is not None
    assert f"投诉 #{first}" in flag.group(1) and "同一来电号码" in flag.group(1)
    assert "地点描述相似（100%）" in flag.group(1)
    row = re.search(rf'data-complaint-id="{first}".*?data-testid="duplicate-why">(.*?)</td>',
                    page, re.S)  # fmt: skip
    assert row is not None and "同一分钟内" in row.group(1)
    why = re.search(rf'data-site-id="{city.sites["HP-003"]}".*?data-testid="site-why">(.*?)</td>',
                    page, re.S)  # fmt: skip
    assert why is not None and "太原街改造工程" in why.group(1)

    # the list flags the later call as the likely duplicate of the first, not the first
    second = int(loc.rsplit("/")[-1])
    listing = c.get("/hotline", params={"size": 200}).text
    later = re.search(rf'data-complaint-id="{second}">(.*?)</tr>', listing, re.S)
    earlier = re.search(rf'data-complaint-id="{first}">(.*?)</tr>', listing, re.S)
    assert later is not None and earlier is not None
    assert 'data-testid="duplicate-flag"' in later.group(1)
    assert f'href="/hotline/{first}"' in later.group(1) and "同一来电号码" in later.group(1)
    assert 'data-testid="duplicate-flag"' not in earlier.group(1)

    c.cookies.set("lang", "en")
    page = c.get(loc).text
    flag = re.search(r'data-testid="duplicate-flag">(.*?)</p>', page, re.S)
    assert flag is not None
    assert f"duplicate of complaint #{first}" in flag.group(1)
    assert "Same caller" in flag.group(1) and "Similar place (100%)" in flag.group(1)
    assert "hotline.dup" not in page and "同一来电号码" not in page

    # the form's live panel flags it before saving, from phone and place alone
    part = c.get("/hotline/suggest", params={"place_text": same["place_text"],
                                             "caller_phone": "13712345678"})  # fmt: skip
    assert f'data-complaint-id="{first}"' in part.text and "Same caller" in part.text


def test_district_admin_sees_the_open_button_only_when_the_city_allows(
    web_as: Callable[[str], TestClient], db: Session, city: City
) -> None:
    admin = web_as("admin")
    cid = int(admin.post("/hotline/new", data=_form(admin)).headers["location"].rsplit("/")[-1])
    d = web_as("d_heping")
    page = d.get(f"/hotline/{cid}").text
    assert 'data-testid="open-case"' not in page and 'name="link_site_id"' not in page
    assert 'data-testid="merge-case"' in page
    settings = d.get("/hotline/settings").text
    assert "不允许" in settings and 'data-testid="hotline-settings-form"' not in settings
    tok = d.csrf  # type: ignore[attr-defined]
    r = d.post("/hotline/settings", data={"csrf_token": tok, "district_opens_cases": "1"})
    assert r.status_code == 403

    listing = admin.get("/hotline").text
    assert 'href="/hotline/settings"' in listing
    r = admin.post("/hotline/settings", data={"csrf_token": admin.csrf,  # type: ignore[attr-defined]
                                              "district_opens_cases": "1"})  # fmt: skip
    assert r.status_code == 303
    assert 'data-testid="flash-ok"' in admin.get("/hotline/settings").text

    page = d.get(f"/hotline/{cid}").text
    assert 'data-testid="open-case"' in page and 'name="link_site_id"' in page
    r = d.post(f"/hotline/{cid}/link", data={"csrf_token": d.csrf,  # type: ignore[attr-defined]
                                            "link_site_id": str(city.sites["HP-001"])})  # fmt: skip
    assert r.status_code == 303
    db.expire_all()
    got = db.get(Complaint, cid)
    assert got is not None and got.status == ComplaintStatus.linked and got.case_id
    assert web_as("d_shenhe").get(f"/hotline/{cid}").status_code == 404
