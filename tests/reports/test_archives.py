"""Site archives: visits with their photos, cases, grades, alerts, offline periods, as a
page and as .xlsx and PDF (photos as thumbnails), in the reader's scope."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from PIL import Image
from sqlalchemy.orm import Session

from dustgrid.assessments import service as assess
from dustgrid.assessments.months import Month
from dustgrid.config import Settings
from dustgrid.reports.archive import (
    PHOTOS_PER_ROW,
    THUMB_PX,
    Archive,
    ArchivePhoto,
    Section,
    archive_pdf,
    thumbnail,
)
from dustgrid.reports.archives import coverage_rows
from dustgrid.reports.figures import monthly_stats
from tests.assessments.helpers import AFTER, MONTH, build_november, local
from tests.fixtures.city import City
from tests.reports.photos import BLUE, RED, add_photo, jpeg

Web = Callable[[str], TestClient]


def _pdf_text(pdf: bytes) -> str:
    doc = pdfium.PdfDocument(pdf)
    return "".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))


def _images(pdf: bytes) -> list[tuple[int, Image.Image]]:
    """(page index, the page rendered to a picture) of every page carrying an image."""
    doc = pdfium.PdfDocument(pdf)
    out = []
    for i in range(len(doc)):
        page = doc[i]
        if any(True for _ in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE])):
            out.append((i, page.render(scale=1).to_pil().convert("RGB")))
    return out


def _share(image: Image.Image, color: tuple[int, int, int]) -> float:
    """The share of the picture's pixels close to ``color``."""
    data = image.tobytes()
    near = sum(1 for i in range(0, len(data), 3)
               if all(abs(data[i + k] - color[k]) < 40 for k in range(3)))  # fmt: skip
    return near / (image.width * image.height)


def test_site_archive_page_and_files(
    db: Session, city: City, settings: Settings, web_as: Web
) -> None:
    ids = build_november(db, city)
    visit = ids["visit"]
    red = add_photo(db, settings, visit, color=RED, item_code="hoarding", taken=local(3, 9))
    blue = add_photo(db, settings, visit, color=BLUE)
    db.commit()
    site = city.sites["HP-001"]
    admin = web_as("admin")
    assert f'href="/archives/sites/{site}"' in admin.get(f"/sites/{site}").text
    page = admin.get(f"/archives/sites/{site}")
    assert page.status_code == 200
    html = page.text
    assert "工地电子档案" in html and "巡查记录" in html and "评定历史" in html
    assert "设备离线时段" in html and not re.search(r">[^<]*reports\.[a-z_]+", html)
    # the photos: thumbnails of the visit, each linking to the watermarked copy
    assert "巡查照片" in html and f'data-visit="{visit}"' in html
    for photo in (red, blue):
        href = f"/api/v1/inspections/{visit}/photos/{photo.id}"
        assert f'<a href="{href}"' in html and f'<img src="{href}"' in html
    assert "围挡连续设置" in html and "巡查整体" in html  # the item, or the visit as a whole
    shown = admin.get(f"/api/v1/inspections/{visit}/photos/{red.id}")
    assert shown.status_code == 200 and shown.headers["content-type"] == "image/jpeg"
    # the photo is scoped like the visit: the site's contractor sees it, another not
    assert (
        web_as("con_alpha").get(f"/api/v1/inspections/{visit}/photos/{red.id}").status_code == 200
    )
    assert web_as("d_shenhe").get(f"/api/v1/inspections/{visit}/photos/{red.id}").status_code == 404

    xlsx = admin.get(f"/archives/sites/{site}/file.xlsx")
    assert xlsx.status_code == 200
    wb = load_workbook(io.BytesIO(xlsx.content))
    assert wb.sheetnames == [
        "基本信息",
        "巡查记录",
        "巡查照片",
        "案件",
        "评定历史",
        "告警",
        "设备离线时段",
        "月度监测统计",
    ]
    visits = list(wb["巡查记录"].iter_rows(values_only=True))
    assert visits[0] == ("编号", "时间", "巡查人", "方式", "结果", "照片数")
    assert visits[1][0] == visit and visits[1][2] == "off_hp1" and visits[1][5] == 2
    assert "inspections." not in str(visits[1][3]) + str(visits[1][4])  # words, not keys
    photos = list(wb["巡查照片"].iter_rows(values_only=True))
    assert photos[0] == ("巡查编号", "时间", "检查项", "文件名", "链接")
    assert len(photos) == 3  # one row per photo
    by_item = {row[2]: row for row in photos[1:]}
    assert by_item["围挡连续设置"][:2] == (visit, "2026-11-03 09:00")
    assert by_item["围挡连续设置"][3] == f"{red.sha256}.jpg"
    link = f"http://testserver/api/v1/inspections/{visit}/photos/{red.id}"
    assert by_item["围挡连续设置"][4] == link
    cell = next(c for c in wb["巡查照片"]["E"] if c.value == link)
    assert cell.hyperlink is not None and cell.hyperlink.target == link
    assert by_item["巡查整体"][1] == "2026-11-03 09:00"  # no EXIF time: the check-in's
    cases = list(wb["案件"].iter_rows(values_only=True))
    assert len(cases) > 1  # the sensor case

    pdf = admin.get(f"/archives/sites/{site}/file.pdf")
    assert pdf.status_code == 200
    text = _pdf_text(pdf.content)
    assert "工地电子档案" in text and "巡查记录" in text and "巡查照片" in text
    assert f"巡查 #{visit} · 2026-11-03 09:00 · 围挡连续设置" in text  # the captions
    assert f"巡查 #{visit} · 2026-11-03 09:00 · 巡查整体" in text
    pages = _images(pdf.content)
    assert pages, "no image embedded"
    _, picture = pages[0]
    # both thumbnails are drawn, side by side on one page (scaled, each a few % of it)
    assert 0.005 < _share(picture, RED) < 0.2 and 0.005 < _share(picture, BLUE) < 0.2

    # scope: the other district and the other contractor see nothing
    assert web_as("d_heping").get(f"/archives/sites/{site}").status_code == 200
    assert web_as("con_alpha").get(f"/archives/sites/{site}/file.pdf").status_code == 200
    assert web_as("d_shenhe").get(f"/archives/sites/{site}").status_code == 404
    assert web_as("con_beta").get(f"/archives/sites/{site}/file.xlsx").status_code == 404
    assert admin.get(f"/archives/sites/{site}/file.doc").status_code == 404
    assert admin.get(f"/archives/plants/{site}").status_code == 404


def test_missing_photo_file_is_said_in_the_pdf(
    db: Session, city: City, settings: Settings, web_as: Web
) -> None:
    ids = build_november(db, city)
    add_photo(db, settings, ids["visit"], color=RED, on_disk=False)
    db.commit()
    pdf = web_as("admin").get(f"/archives/sites/{city.sites['HP-001']}/file.pdf")
    assert pdf.status_code == 200
    assert "照片文件缺失" in _pdf_text(pdf.content)
    assert _images(pdf.content) == []


def test_many_photos_run_four_to_a_row(city: City, settings: Settings, tmp_path: Path) -> None:
    """Nine thumbnails: rows of four (4 + 4 + 1), each scaled to the same width."""
    path = tmp_path / "p.jpg"
    path.write_bytes(jpeg(BLUE, (1200, 900)))
    photos = [ArchivePhoto(i, i, "2026-11-03 09:00", "2026-11-03 09:00", "", f"/p/{i}",
                           "p.jpg", path) for i in range(1, 10)]  # fmt: skip
    pdf = archive_pdf(Archive("工地电子档案：测试", [], [Section("reports.archive.photos",
                                                          [], photos=photos)]))  # fmt: skip
    doc = pdfium.PdfDocument(pdf)
    boxes = [obj.get_bounds() for i in range(len(doc))
             for obj in doc[i].get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE])]  # fmt: skip
    assert len(boxes) == 9
    lefts = sorted({round(b[0]) for b in boxes})
    assert len(lefts) == PHOTOS_PER_ROW
    widths = {round(b[2] - b[0]) for b in boxes}
    assert len(widths) == 1 and widths.pop() < 842 / PHOTOS_PER_ROW  # scaled to its column
    assert thumbnail(path) is not None and max(thumbnail(path)[1:]) == THUMB_PX  # type: ignore[index]


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
