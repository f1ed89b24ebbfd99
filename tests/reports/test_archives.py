"""Site archives: visits with photos, cases, grades, alerts, offline periods, as a page and
as .xlsx and PDF, in the reader's scope."""

from __future__ import annotations

import io
import re
from collections.abc import Callable

import pypdfium2 as pdfium
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy.orm import Session

from tests.assessments.helpers import build_november
from tests.fixtures.city import City

Web = Callable[[str], TestClient]


def test_site_archive_page_and_files(db: Session, city: City, web_as: Web) -> None:
    build_november(db, city)
    db.commit()
    site = city.sites["HP-001"]
    admin = web_as("admin")
    assert f'href="/archives/sites/{site}"' in admin.get(f"/sites/{site}").text
    page = admin.get(f"/archives/sites/{site}")
    assert page.status_code == 200
    html = page.text
    assert "工地电子档案" in html and "巡查记录" in html and "评定历史" in html
    assert "设备离线时段" in html and not re.search(r">[^<]*reports\.[a-z_]+", html)

    xlsx = admin.get(f"/archives/sites/{site}/file.xlsx")
    assert xlsx.status_code == 200
    wb = load_workbook(io.BytesIO(xlsx.content))
    assert wb.sheetnames == ["基本信息", "巡查记录", "案件", "评定历史", "告警", "设备离线时段"]
    visits = list(wb["巡查记录"].iter_rows(values_only=True))
    assert visits[0] == ("编号", "时间", "方式", "结果", "照片数")
    assert len(visits) > 1  # the officer's November visit
    assert "inspections." not in str(visits[1][2]) + str(visits[1][3])  # words, not keys
    cases = list(wb["案件"].iter_rows(values_only=True))
    assert len(cases) > 1  # the sensor case

    pdf = admin.get(f"/archives/sites/{site}/file.pdf")
    assert pdf.status_code == 200
    doc = pdfium.PdfDocument(pdf.content)
    text = "".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))
    assert "工地电子档案" in text and "巡查记录" in text

    # scope: the other district and the other contractor see nothing
    assert web_as("d_heping").get(f"/archives/sites/{site}").status_code == 200
    assert web_as("con_alpha").get(f"/archives/sites/{site}/file.pdf").status_code == 200
    assert web_as("d_shenhe").get(f"/archives/sites/{site}").status_code == 404
    assert web_as("con_beta").get(f"/archives/sites/{site}/file.xlsx").status_code == 404
