"""The printable case file: facts and timeline on one page with a print stylesheet, no
forms, in the reader's scope and language."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from dustgrid.config import Settings
from tests.cases.case_kit import report
from tests.fixtures.city import City

Client = Callable[[str], TestClient]


def test_the_case_file_prints_facts_and_timeline(
    web_as: Client, db: Session, city: City, settings: Settings
) -> None:
    case = report(db, city, settings, site="HP-001")
    db.commit()
    client = web_as("d_heping")
    detail = client.get(f"/cases/{case.id}")
    assert f'href="/cases/{case.id}/print"' in detail.text
    page = client.get(f"/cases/{case.id}/print")
    assert page.status_code == 200
    sheet = page.text.split('data-testid="case-file"', 1)[1]
    assert "案件卷宗" in sheet and "裸土未覆盖" in sheet and "和平区中山路住宅项目" in sheet
    assert 'data-testid="timeline"' in sheet and "已上报" in sheet
    assert "<form" not in sheet
    assert '<link rel="stylesheet" href="/static/css/print.css">' in page.text
    assert client.get("/static/css/print.css").status_code == 200
    assert "@media print" in client.get("/static/css/print.css").text


def test_the_case_file_keeps_to_scope_and_language(
    web_as: Client, db: Session, city: City, settings: Settings
) -> None:
    case = report(db, city, settings, site="HP-001")
    db.commit()
    assert web_as("d_shenhe").get(f"/cases/{case.id}/print").status_code == 404
    client = web_as("admin")
    client.cookies.set("lang", "en")
    page = client.get(f"/cases/{case.id}/print")
    assert page.status_code == 200 and "Case file" in page.text
