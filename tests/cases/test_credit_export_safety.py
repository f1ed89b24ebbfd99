"""The credit export writes enterprise names and case numbers as text (issue 10, point 2),
and case moves refuse control characters in what officers type (point 6)."""

from __future__ import annotations

from collections.abc import Callable
from io import BytesIO

from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from dustgrid.cases.credit.models import BadBehaviourRecord
from dustgrid.cases.states import CaseState
from dustgrid.config import Settings
from dustgrid.sites.models import Enterprise
from tests.cases.case_kit import case_in, doc, mv
from tests.fixtures.city import City

EVIL_NAME = "=cmd|' /C calc'!A0"
EVIL_NUMBER = '+HYPERLINK("http://evil.example","1号")'


def test_credit_export_has_no_formula_and_keeps_the_text(
    db: Session, city: City, settings: Settings, api_as: Callable[[str], TestClient]
) -> None:
    case = case_in(db, city, settings, CaseState.penalizing, site="HP-001")
    mv(db, city, settings, case, "serve_penalty", "off_hp1", result="已送达", attachments=[doc()])
    alpha = db.get(Enterprise, city.enterprises["alpha"])
    rec = db.scalar(select(BadBehaviourRecord).where(BadBehaviourRecord.case_id == case.id))
    assert alpha is not None and rec is not None
    # stored before the rules: a formula-like name and number, a control character
    alpha.name, rec.penalty_case_number = EVIL_NAME, EVIL_NUMBER
    rec.description = "@未覆盖\u0007裸土"
    db.commit()

    r = api_as("admin").get("/api/v1/credit/bad-records.xlsx")
    assert r.status_code == 200, r.text
    ws = load_workbook(BytesIO(r.content)).worksheets[0]
    cells = [c for row in ws.iter_rows() for c in row if c.value is not None]
    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    keys = [c.value for c in ws[2]]
    data = dict(zip(keys, [c.value for c in ws[3]], strict=True))
    assert data["enterprise_name"] == "'" + EVIL_NAME
    assert data["penalty_case_number"] == "'" + EVIL_NUMBER
    assert data["description"] == "'@未覆盖裸土"


def test_a_case_move_refuses_a_control_character(
    db: Session, city: City, settings: Settings, api_as: Callable[[str], TestClient]
) -> None:
    case = case_in(db, city, settings, CaseState.handling, site="HP-001")
    db.commit()
    api = api_as("off_hp1")
    move = f"/api/v1/cases/{case.id}/moves/open_penalty"
    r = api.post(move, data={"case_number": "沈和建罚\u0001〔2026〕2号", "reason": "逾期未整改"})
    assert r.status_code == 422, r.text
    assert "case_number" in r.text and "控制字符" in r.text
    assert api.get(f"/api/v1/cases/{case.id}").json()["state"] == CaseState.handling
    r = api.post(move, data={"case_number": "沈和建罚〔2026〕2号", "reason": "逾期未整改"})
    assert r.status_code == 200, r.text
    assert r.json()["penalty_case_number"] == "沈和建罚〔2026〕2号"
