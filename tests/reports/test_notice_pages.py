"""The notice pages: L1 previews a month, publishes it; every official downloads the kept
files; companies do not see notices; publishing is audited."""

from __future__ import annotations

import re
from collections.abc import Callable

import pypdfium2 as pdfium
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from dustgrid.assessments import service as assess
from dustgrid.assessments.months import Month
from dustgrid.audit.models import AuditEntry
from dustgrid.config import Settings
from dustgrid.reports.models import MonthlyNotice
from tests.assessments.helpers import AFTER, MONTH, build_november
from tests.fixtures.city import City

Web = Callable[[str], TestClient]


def _no_raw_keys(html: str) -> None:
    assert not re.search(r">[^<]*reports\.[a-z_]+\.[a-z_]+", html), "a raw message key"


def test_preview_publish_download(db: Session, city: City, settings: Settings, web_as: Web) -> None:
    build_november(db, city)
    assess.close(db, Month(2026, 11), settings, now=AFTER)
    db.commit()
    admin = web_as("admin")
    page = admin.get("/notices")
    assert page.status_code == 200 and 'data-testid="no-notices"' in page.text
    preview = admin.get("/notices/preview", params={"month": MONTH})
    assert preview.status_code == 200
    html = preview.text
    assert "月通报预览" in html and "主要指标" in html and "设备服务商" in html
    assert "已关账" in html
    _no_raw_keys(html)
    draft = admin.get(f"/notices/preview/{MONTH}.pdf")
    assert draft.status_code == 200 and draft.content.startswith(b"%PDF")

    r = admin.post("/notices/publish", data={"csrf_token": admin.csrf, "month": MONTH})  # type: ignore[attr-defined]
    assert r.status_code == 303 and r.headers["location"] == "/notices"
    listed = admin.get("/notices").text
    assert "月通报已发布" in listed and f'data-month="{MONTH}"' in listed
    row = db.scalars(select(MonthlyNotice)).one()
    assert row.month == MONTH and row.assessment_state == "closed"
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "notice_publish")).one()
    assert entry.entity_id == row.id

    # an official of a district downloads the kept files
    district = web_as("d_heping")
    assert f'href="/notices/{row.id}/file.pdf"' in district.get("/notices").text
    pdf = district.get(f"/notices/{row.id}/file.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    doc = pdfium.PdfDocument(pdf.content)
    assert "2026年11月扬尘管控工作月通报" in doc[0].get_textpage().get_text_range()
    xlsx = district.get(f"/notices/{row.id}/file.xlsx")
    assert xlsx.status_code == 200 and xlsx.content.startswith(b"PK")
    # a district may not preview or publish
    assert district.get("/notices/preview").status_code == 403
    r = district.post("/notices/publish", data={"csrf_token": district.csrf, "month": MONTH})  # type: ignore[attr-defined]
    assert db.scalars(select(MonthlyNotice)).all() == [row]
    # companies see no notices
    contractor = web_as("con_alpha")
    assert contractor.get("/notices").status_code == 403
    assert contractor.get(f"/notices/{row.id}/file.pdf").status_code == 403
    assert 'href="/notices"' not in contractor.get("/sites").text
    assert admin.get("/notices/999/file.pdf").status_code == 404
