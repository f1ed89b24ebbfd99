"""The site form: errors next to their fields in the reader's language; clearing a field
clears it; blanks the ledger cannot store are refused, not defaulted."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from dustgrid.sites.models import PermitStatus, Site
from dustgrid.sites.uscc import make_uscc
from dustgrid.web.site_form import form_to_payload
from tests.fixtures.city import City


def _form(c: TestClient, city: City, **changes: str) -> dict[str, str]:
    form = {
        "csrf_token": c.csrf,  # type: ignore[attr-defined]
        "project_code": "FORM-1",
        "name": "表单工地",
        "kind": "housing",
        "district_id": str(city.districts["heping"]),
        "lat": "41.79",
        "lon": "123.40",
        "stage": "earthwork",
        "permit_status": "suspected_unpermitted",
        "permit_no": "XK-1",
        "address": "和平区某路 1 号",
        "area_m2": "800",
        "investment_yuan": "1200000",
        "planned_start_date": "2026-03-01",
        "contractor_name": "表单施工单位",
        "contractor_uscc": make_uscc("91210102MA0F00042"),
        "built_up_area": "on",
    }
    form.update(changes)
    return form


def _create(c: TestClient, city: City) -> int:
    r = c.post("/sites/new", data=_form(c, city))
    assert r.status_code == 303, r.text
    return int(r.headers["location"].rsplit("/", 1)[1])


def test_wrong_fields_are_named_next_to_them_in_chinese(
    web_as: Callable[[str], TestClient], city: City
) -> None:
    c = web_as("d_heping")
    r = c.post("/sites/new", data=_form(c, city, lat="abc", contractor_uscc="123"))
    assert r.status_code == 422
    assert 'data-testid="error-lat"' in r.text
    assert 'data-testid="error-contractor_uscc"' in r.text
    assert "应为数字" in r.text  # what is wrong, in Chinese
    assert "contractor.uscc" not in r.text and "Value error" not in r.text
    summary = r.text.split('data-testid="form-errors"', 1)[1].split("</div>", 1)[0]
    assert "纬度" in summary and "统一社会信用代码" in summary  # labels, not paths
    assert 'aria-invalid="true"' in r.text


def test_wrong_fields_are_named_in_english(web_as: Callable[[str], TestClient], city: City) -> None:
    c = web_as("d_heping")
    c.cookies.set("lang", "en")
    r = c.post("/sites/new", data=_form(c, city, lat="abc"))
    assert r.status_code == 422
    error = r.text.split('data-testid="error-lat"', 1)[1].split("</p>", 1)[0]
    assert "must be a number" in error
    assert "应为数字" not in r.text


def test_blank_permit_status_area_and_investment_are_refused(
    web_as: Callable[[str], TestClient], city: City, db: Session
) -> None:
    c = web_as("d_heping")
    r = c.post("/sites/new", data=_form(c, city, permit_status="", area_m2="", investment_yuan=""))
    assert r.status_code == 422
    for name in ("permit_status", "area_m2", "investment_yuan"):
        assert f'data-testid="error-{name}"' in r.text, name
    assert "必填" in r.text
    assert db.query(Site).filter_by(project_code="FORM-1").count() == 0


def test_clearing_optional_fields_on_edit_clears_them(
    web_as: Callable[[str], TestClient], city: City, db: Session
) -> None:
    c = web_as("d_heping")
    site_id = _create(c, city)
    site = db.get(Site, site_id)
    assert site is not None
    assert site.permit_status == PermitStatus.suspected_unpermitted
    assert site.planned_start_date == date(2026, 3, 1) and site.contractor_id is not None
    form = _form(c, city, address="", permit_no="", planned_start_date="")
    form.update(contractor_name="", contractor_uscc="")
    form.pop("project_code")
    r = c.post(f"/sites/{site_id}/edit", data=form)
    assert r.status_code == 303, r.text
    db.expire_all()
    site = db.get(Site, site_id)
    assert site is not None
    assert site.address == "" and site.permit_no == ""
    assert site.planned_start_date is None and site.contractor_id is None
    assert site.permit_status == PermitStatus.suspected_unpermitted  # not reset to "permitted"
    assert Decimal(str(site.investment_yuan)) == Decimal(1200000) and site.area_m2 == 800


def test_blank_required_field_on_edit_is_refused_not_kept(
    web_as: Callable[[str], TestClient], city: City, db: Session
) -> None:
    c = web_as("d_heping")
    site_id = _create(c, city)
    form = _form(c, city, area_m2="", permit_status="")
    form.pop("project_code")
    r = c.post(f"/sites/{site_id}/edit", data=form)
    assert r.status_code == 422
    assert 'data-testid="error-area_m2"' in r.text
    assert 'data-testid="error-permit_status"' in r.text
    db.expire_all()
    site = db.get(Site, site_id)
    assert site is not None and site.area_m2 == 800


def test_payload_sends_null_for_cleared_dates_and_grids_only_on_edit() -> None:
    values = {"planned_start_date": "", "enforcement_grid_id": "", "address": "", "area_m2": ""}
    edit = form_to_payload(values, create=False)
    assert edit["planned_start_date"] is None and edit["enforcement_grid_id"] is None
    assert edit["address"] == "" and edit["builder"] is None
    assert "area_m2" not in edit  # required: left out so that validation names it
    create = form_to_payload(values, create=True)
    assert "planned_start_date" not in create and "builder" not in create
