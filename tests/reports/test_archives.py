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

from dustgrid.assessments import service as assess
from dustgrid.assessments.months import Month
from dustgrid.config import Settings
from dustgrid.reports.archives import coverage_rows
from dustgrid.reports.figures import monthly_stats
from tests.assessments.helpers import AFTER, MONTH, build_november
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
    assert wb.sheetnames == [
        "基本信息",
        "巡查记录",
        "案件",
        "评定历史",
        "告警",
        "设备离线时段",
        "月度监测统计",
    ]
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


def test_member_archive_page_and_files(
    db: Session, city: City, settings: Settings, web_as: Web
) -> None:
    build_november(db, city)
    assess.close(db, Month(2026, 11), settings, now=AFTER)
    db.commit()
    member = city.users["off_hp1"]
    admin = web_as("admin")
    page = admin.get(f"/archives/members/{member}")
    assert page.status_code == 200
    html = page.text
    assert "网格员电子档案" in html and "月度覆盖" in html and "所在网格组考核得分" in html
    assert not re.search(r">[^<]*reports\.[a-z_]+", html)
    wb = load_workbook(io.BytesIO(admin.get(f"/archives/members/{member}/file.xlsx").content))
    assert wb.sheetnames == ["基本信息", "巡查记录", "月度覆盖", "案件", "本人考核得分",
                             "所在网格组考核得分"]  # fmt: skip
    # the officer's own score: 1 of 3 sites (−13.33) and a missed report (−5)
    own = list(wb["本人考核得分"].iter_rows(values_only=True))
    assert own == [("月份", "得分", "扣分"), (MONTH, 81.7, -18.3)]
    coverage = list(wb["月度覆盖"].iter_rows(values_only=True))
    assert coverage[0] == ("月份", "巡查次数", "覆盖工地数", "出勤天数")
    assert any(row[0] == MONTH for row in coverage[1:])
    scores = list(wb["所在网格组考核得分"].iter_rows(values_only=True))
    assert any(row[0] == MONTH for row in scores[1:])
    pdf = admin.get(f"/archives/members/{member}/file.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    # scope: L1, the member's district and the member see it; others do not
    assert web_as("d_heping").get(f"/archives/members/{member}").status_code == 200
    assert web_as("off_hp1").get(f"/archives/members/{member}").status_code == 200
    assert web_as("d_shenhe").get(f"/archives/members/{member}").status_code == 404
    assert web_as("off_hp2").get(f"/archives/members/{member}").status_code == 404
    assert web_as("con_alpha").get(f"/archives/members/{member}/file.pdf").status_code == 404
    assert admin.get(f"/archives/members/{city.users['admin']}").status_code == 404


def test_coverage_rows() -> None:
    rows = coverage_rows([("2026-11-03 09:00", 1), ("2026-11-03 10:00", 2),
                          ("2026-11-05 09:00", 1), ("2026-10-30 09:00", 3)])  # fmt: skip
    assert rows == [["2026-11", 3, 2, 2], ["2026-10", 1, 1, 1]]


def test_monthly_stats() -> None:
    days: list[tuple[str, str, float | None, float | None]] = [
        ("2026-11-01", "pm10", 80.0, 120.0),
        ("2026-11-01", "pm10", 60.0, 90.0),
        ("2026-11-02", "pm10", 100.0, 150.0),
        ("2026-11-03", "pm10", None, None),
        ("2026-10-31", "pm10", 50.0, 70.0),
        ("2026-11-02", "pm25", 40.0, None),
    ]
    rows = monthly_stats(days)
    assert rows == [["2026-11", "pm25", 40.0, "", 1], ["2026-11", "pm10", 80.0, 150.0, 2],
                    ["2026-10", "pm10", 50.0, 70.0, 1]]  # fmt: skip
