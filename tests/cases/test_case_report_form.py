"""The case report form says what is wrong next to the field, in the reader's language."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from dustgrid.cases.models import Case
from tests.fixtures.city import City


def _form(c: TestClient, city: City, **changes: str) -> dict[str, str]:
    form = {
        "csrf_token": c.csrf,  # type: ignore[attr-defined]
        "source": "third_party_inspector",
        "site_id": str(city.sites["HP-003"]),
        "category": "hoarding",
        "severity": "high",
        "description": "围挡倒塌",
    }
    form.update(changes)
    return form


def test_a_wrong_coordinate_is_named_next_to_it(
    db: Session, city: City, web_as: Callable[[str], TestClient]
) -> None:
    c = web_as("insp_hp1")
    r = c.post("/cases/new", data=_form(c, city, lat="北纬41", lon=""))
    assert r.status_code == 422
    lat = r.text.split('data-testid="error-lat"', 1)[1].split("</span>", 1)[0]
    assert "应为数字" in lat
    lon = r.text.split('data-testid="error-lon"', 1)[1].split("</span>", 1)[0]
    assert "必填" in lon
    summary = r.text.split('data-testid="form-errors"', 1)[1].split("</div>", 1)[0]
    assert "纬度" in summary and "经度" in summary
    assert "invalid input" not in r.text and "could not convert" not in r.text
    assert "围挡倒塌" in r.text  # the input is kept
    assert db.scalar(select(Case.id).limit(1)) is None


def test_errors_in_english(city: City, web_as: Callable[[str], TestClient]) -> None:
    c = web_as("insp_hp1")
    c.cookies.set("lang", "en")
    r = c.post("/cases/new", data=_form(c, city, lat="x", lon="123.4"))
    assert r.status_code == 422
    lat = r.text.split('data-testid="error-lat"', 1)[1].split("</span>", 1)[0]
    assert "must be a number" in lat and "应为数字" not in r.text


def test_a_refused_report_is_said_in_one_language(
    city: City, web_as: Callable[[str], TestClient]
) -> None:
    c = web_as("insp_hp1")
    c.cookies.set("lang", "en")
    r = c.post("/cases/new", data=_form(c, city))  # no photo
    assert r.status_code == 422
    summary = r.text.split('data-testid="form-errors"', 1)[1].split("</div>", 1)[0]
    assert " / " not in summary


def test_a_malformed_post_gets_a_readable_message(
    city: City, web_as: Callable[[str], TestClient]
) -> None:
    c = web_as("insp_hp1")
    r = c.post("/cases/new", data=_form(c, city, site_id="abc"))
    assert r.status_code == 422
    summary = r.text.split('data-testid="form-errors"', 1)[1].split("</div>", 1)[0]
    assert "输入：值无效" in summary and "invalid literal" not in r.text
