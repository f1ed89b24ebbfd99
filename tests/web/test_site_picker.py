"""Issue 13: the searchable site picker (no 480-item dropdown).

``GET /api/v1/sites/search`` lists the open sites in the caller's scope by part of their
code, name, address or permit number; the case report form posts the picker's text, and the
server resolves it when no script chose a site (unique match, or an error next to the field).
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from dustgrid.cases.models import Case
from tests.cases.case_kit import JPEG
from tests.fixtures.city import City

PHOTO = ("photos", ("problem.jpg", JPEG, "image/jpeg"))

# Walked for scope below (tests/auth/walk_registry.py).
WALKED = {("GET", "/api/v1/sites/search")}


def _codes(c: TestClient, q: str) -> list[str]:
    r = c.get("/api/v1/sites/search", params={"q": q})
    assert r.status_code == 200
    return [row["project_code"] for row in r.json()]


def test_search_by_name_address_permit_and_code(api_as: Callable[[str], TestClient]) -> None:
    c = api_as("admin")
    assert _codes(c, "南京街") == ["HP-002"]  # name
    assert _codes(c, "沈阳市沈河区五爱") == ["SH-002"]  # address
    assert _codes(c, "2101SH-003") == ["SH-003"]  # permit number
    assert _codes(c, "hp-00") == ["HP-001", "HP-002", "HP-003"]  # code, case-blind
    assert _codes(c, "") == [] and _codes(c, "%") == []  # nothing asked, nothing listed
    row = c.get("/api/v1/sites/search", params={"q": "HP-001"}).json()[0]
    assert row["label"] == "HP-001 和平区中山路住宅项目" and row["district"] == "和平区"


def test_a_district_admin_cannot_find_another_districts_sites(
    api_as: Callable[[str], TestClient],
) -> None:
    heping = api_as("d_heping")
    assert _codes(heping, "沈河区") == []
    assert _codes(heping, "SH-001") == []
    assert set(_codes(heping, "和平")) == {"HP-001", "HP-002", "HP-003"}
    assert _codes(api_as("d_shenhe"), "和平") == []
    assert _codes(api_as("con_beta"), "HP-") == ["HP-M01"]  # a contractor: its own sites


def test_search_needs_a_login(anon: TestClient) -> None:
    assert anon.get("/api/v1/sites/search", params={"q": "HP"}).status_code == 401


def _form(c: TestClient, **changes: str) -> dict[str, str]:
    form = {
        "csrf_token": c.csrf,  # type: ignore[attr-defined]
        "source": "third_party_inspector",
        "site_id": "",
        "site_id_q": "",
        "category": "hoarding",
        "severity": "high",
        "description": "围挡倒塌",
    }
    form.update(changes)
    return form


def test_the_report_form_has_no_site_dropdown(
    city: City, web_as: Callable[[str], TestClient]
) -> None:
    page = web_as("insp_hp1").get("/cases/new").text
    assert 'select name="site_id"' not in page
    assert 'role="combobox"' in page and 'name="site_id_q"' in page
    assert '<label for="site_id-q">' in page  # labelled
    chosen = web_as("insp_hp1").get("/cases/new", params={"site_id": city.sites["HP-002"]}).text
    assert 'value="HP-002 和平区南京街商业综合体"' in chosen


def test_without_a_script_the_typed_text_names_the_site(
    db: Session, city: City, web_as: Callable[[str], TestClient]
) -> None:
    c = web_as("insp_hp1")
    r = c.post("/cases/new", data=_form(c, site_id_q="南京街"), files=[PHOTO])
    assert r.status_code == 303, r.text
    case = db.scalars(select(Case).order_by(Case.id.desc())).first()
    assert case is not None and case.site_id == city.sites["HP-002"]


def test_the_chosen_site_counts_while_its_label_is_in_the_box(
    db: Session, city: City, web_as: Callable[[str], TestClient]
) -> None:
    c = web_as("insp_hp1")
    data = _form(c, site_id=str(city.sites["HP-003"]), site_id_q="HP-003 和平区太原街改造工程")
    assert c.post("/cases/new", data=data, files=[PHOTO]).status_code == 303
    case = db.scalars(select(Case).order_by(Case.id.desc())).first()
    assert case is not None and case.site_id == city.sites["HP-003"]


def test_an_ambiguous_or_unknown_site_is_said_next_to_the_field(
    db: Session, city: City, web_as: Callable[[str], TestClient]
) -> None:
    c = web_as("insp_hp1")
    r = c.post("/cases/new", data=_form(c, site_id_q="和平区"), files=[PHOTO])
    assert r.status_code == 422
    said = r.text.split('data-testid="error-site_id"', 1)[1].split("</span>", 1)[0]
    assert "对应多个工地" in said and "HP-001" in said
    assert 'value="和平区"' in r.text  # the text is kept
    # another district's site is not found (scope), and says so in English for an English reader
    c.cookies.set("lang", "en")
    r = c.post("/cases/new", data=_form(c, site_id_q="SH-001"), files=[PHOTO])
    assert r.status_code == 422
    said = r.text.split('data-testid="error-site_id"', 1)[1].split("</span>", 1)[0]
    assert "No site matches" in said and "SH-001" in said and "工地" not in said
    assert db.scalar(select(Case.id).limit(1)) is None


def test_the_device_application_form_names_its_site_by_text(
    db: Session, city: City, web_as: Callable[[str], TestClient]
) -> None:
    from dustgrid.devices.models import Device

    con = web_as("con_alpha")
    page = con.get("/onboarding/new", params={"site_id": city.sites["HP-001"]}).text
    assert 'name="site_id_q"' in page and 'value="HP-001 和平区中山路住宅项目"' in page
    assert '<select id="site_id"' not in page
    form = {
        "csrf_token": con.csrf,  # type: ignore[attr-defined]
        "site_id": "",
        "site_id_q": "SH-001",  # another contractor's site: not found in scope
        "provider_id": str(city.enterprises["gamma"]),
        "mn_0": "PK000001",
        "kind_0": "dust_monitor",
    }
    r = con.post("/onboarding/new", data=form)
    assert r.status_code == 422 and "未找到与“SH-001”相符的工地" in r.text
    r = con.post("/onboarding/new", data={**form, "site_id_q": "中山路"})
    assert r.status_code == 303, r.text
    device = db.scalar(select(Device).where(Device.mn == "PK000001"))
    assert device is not None and device.site_id == city.sites["HP-001"]


def test_a_hotline_complaint_opens_a_case_on_a_site_typed_in_the_picker(
    db: Session, city: City, web_as: Callable[[str], TestClient]
) -> None:
    from dustgrid.intake.models import Complaint

    c = web_as("admin")
    made = c.post(
        "/hotline/new",
        data={
            "csrf_token": c.csrf,  # type: ignore[attr-defined]
            "channel": "phone_12319",
            "received_at": "",
            "place_text": "青年大街",
            "category": "dust_complaint",
            "content": "拆除工地没有洒水",
        },
    )
    loc = made.headers["location"]
    page = c.get(loc).text
    assert 'name="other_site_id_q"' in page and "或选择其他工地" in page
    tok = c.csrf  # type: ignore[attr-defined]
    r = c.post(f"{loc}/link", data={"csrf_token": tok, "other_site_id_q": "拆除工程"})
    assert r.status_code == 303
    complaint = db.get(Complaint, int(loc.rsplit("/", 1)[1]))
    assert complaint is not None and complaint.case_id is not None
    case = db.get(Case, complaint.case_id)
    assert case is not None and case.site_id == city.sites["SH-003"]
